// `npm run package`: the three handler zips, the versioned publishing manifest, and the
// universal package unpacked like the agent would (point the waagent harness at it).
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildHandler, ROOT } from './build.mjs';
import { buildPackage, OUT_DIR, readPackageInfo, unpackLikeAgent } from './package-lib.mjs';

const { name, version } = readPackageInfo();
await buildHandler();

const rows = [];
for (const arch of ['x64', 'arm64', 'universal']) {
  const { zipPath, sizeBytes } = await buildPackage({ outDir: OUT_DIR, arch, build: false });
  rows.push({ arch, zip: path.relative(ROOT, zipPath), bytes: sizeBytes, MiB: (sizeBytes / 2 ** 20).toFixed(1) });
}

// The publishing manifest is not zipped; the pipeline takes it next to the universal zip.
const manifestPath = path.join(OUT_DIR, `${name}-${version}.manifest.xml`);
const manifest = readFileSync(path.join(ROOT, 'manifest', 'manifest.xml'), 'utf8');
writeFileSync(manifestPath, manifest.replaceAll('__VERSION__', version));

const unpacked = unpackLikeAgent(path.join(OUT_DIR, `${name}-${version}.zip`), path.join(OUT_DIR, 'unpacked', `${name}-${version}`));

console.table(rows);
console.log(`manifest: ${path.relative(ROOT, manifestPath)}`);
console.log(`unpacked like the agent: ${path.relative(ROOT, unpacked)}`);
