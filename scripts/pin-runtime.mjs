// `node scripts/pin-runtime.mjs <version>`: pins another Node.js release as the shipped runtime.
// Fetches node-linux-<arch>@<version> for every shipped architecture through npm (its cache and
// registry settings), and rewrites scripts/node-runtime.json with npm's integrity, the tarball's
// SHA-256 and the SHA-256 of its bin/node. It trusts the registry: the publishing pipeline's
// scripts/check-runtime-upstream.sh is what ties the new pins to the Node.js project's signed
// checksums (README.md, Package), so run it before the new version ships.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ARCHS, RUNTIME_PINS_FILE } from './package-lib.mjs';

const version = process.argv[2];
if (!/^\d+\.\d+\.\d+$/.test(version ?? '')) {
  console.error('usage: node scripts/pin-runtime.mjs <version>, for example 24.21.0');
  process.exit(2);
}

const work = mkdtempSync(path.join(tmpdir(), 'pin-runtime-'));
try {
  const pins = JSON.parse(readFileSync(RUNTIME_PINS_FILE, 'utf8'));
  const runtimes = {};
  for (const arch of ARCHS) {
    const spec = `node-linux-${arch}@${version}`;
    const integrity = execFileSync('npm', ['view', spec, 'dist.integrity'], { encoding: 'utf8' }).trim();
    execFileSync('npm', ['pack', spec, '--pack-destination', work, '--silent'], { stdio: ['ignore', 'ignore', 'inherit'] });
    const tgz = path.join(work, `node-linux-${arch}-${version}.tgz`);
    const bytes = readFileSync(tgz);
    const got = `sha512-${createHash('sha512').update(bytes).digest('base64')}`;
    if (got !== integrity) throw new Error(`${spec}: the tarball has integrity ${got}, the registry says ${integrity}`);
    const node = execFileSync('tar', ['-xzOf', tgz, 'package/bin/node'], { maxBuffer: 512 * 1024 * 1024 });
    runtimes[arch] = {
      integrity,
      tarballSha256: createHash('sha256').update(bytes).digest('hex'),
      nodeSha256: createHash('sha256').update(node).digest('hex'),
    };
    console.log(`${spec}: node ${runtimes[arch].nodeSha256}`);
  }
  writeFileSync(RUNTIME_PINS_FILE, `${JSON.stringify({ ...pins, version, runtimes }, null, 2)}\n`);
  console.log(`${path.basename(RUNTIME_PINS_FILE)} now pins Node.js ${version}; check it with scripts/check-runtime-upstream.sh before it ships`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
