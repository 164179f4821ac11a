// `npm run bench`: not a test. Bundles the TypeScript benchmark entry and prints the figures
// with the baselines they are compared against in the same run.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
execFileSync(process.execPath, [path.join(ROOT, 'scripts/build.mjs')], { stdio: 'inherit' });
const tmp = mkdtempSync(path.join(ROOT, '.bench-'));
try {
  const out = path.join(tmp, 'bench.mjs');
  await build({
    entryPoints: [path.join(ROOT, 'scripts/bench/main.ts')],
    bundle: true, platform: 'node', format: 'esm', outfile: out, logLevel: 'error',
    packages: 'external',
    banner: { js: "import { createRequire as __cr } from 'node:module'; var require = __cr(import.meta.url);" },
  });
  const { runBenchmarks } = await import(pathToFileURL(out).href);
  await runBenchmarks(process.argv.slice(2));
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
