// Writes manifest/settings.schema.json from the zod schemas: one source of truth for the types,
// the validation and the published schema. test/unit/agent/settings-schema.test.ts fails when
// the committed file drifts.
import { build } from 'esbuild';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tmp = mkdtempSync(path.join(tmpdir(), 'schema-'));
try {
  const out = path.join(tmp, 'schema.mjs');
  await build({ entryPoints: [path.join(ROOT, 'handler/agent/settings-json-schema.ts')], bundle: true, platform: 'node', format: 'esm', outfile: out, logLevel: 'error' });
  const { settingsJsonSchema } = await import(pathToFileURL(out).href);
  const file = path.join(ROOT, 'manifest/settings.schema.json');
  writeFileSync(file, JSON.stringify(settingsJsonSchema(), null, 2) + '\n');
  console.log(`wrote ${path.relative(ROOT, file)}`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
