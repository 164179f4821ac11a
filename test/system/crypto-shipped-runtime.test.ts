import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { ensureRuntime, NODE_RUNTIME_VERSION } from '../../scripts/package-lib.mjs';
import { decryptProtectedSettings } from '../../handler/crypto/protected-settings.js';
import { encryptLikePlatform, makeWaagentCertificate, type WaagentCertificate } from '../support/openssl-vectors.js';

// The decryptor must give the same answers on Node 20 (this machine) and on the Node LTS the
// package ships, whose newer OpenSSL answers a PKCS#1 v1.5 decryption under the wrong key with
// random bytes (implicit rejection) instead of an error. The same vectors run in-process and
// through the shipped runtime, and the verdicts must match.

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let work: string;
let ours: WaagentCertificate;
let other: WaagentCertificate;
let driver: string;
const cases: Array<{ name: string; blob: string; certPem: string; keyPem: string }> = [];

function verdict(run: () => string): string {
  try {
    return `ok:${run()}`;
  } catch (e) {
    return `error:${(e as { code?: string }).code}`;
  }
}

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'shipped-crypto-'));
  ours = await makeWaagentCertificate(path.join(work, 'a'));
  other = await makeWaagentCertificate(path.join(work, 'b'));
  const plain = JSON.stringify({ login: { username: 'ü', password: 'p€ss' } });
  const des3 = await encryptLikePlatform(plain, ours.crtPath);
  const raw = Buffer.from(des3, 'base64');
  const flipped = Buffer.from(raw);
  flipped[flipped.length - 1]! ^= 0x01;
  cases.push(
    { name: '3DES, PKCS#1 v1.5 (the platform today)', blob: des3, certPem: ours.certPem, keyPem: ours.keyPem },
    { name: 'AES-256-CBC', blob: await encryptLikePlatform(plain, ours.crtPath, { cipher: 'aes256' }), certPem: ours.certPem, keyPem: ours.keyPem },
    { name: 'OAEP SHA-256 + SKI', blob: await encryptLikePlatform(plain, ours.crtPath, { oaep: 'sha256', keyid: true }), certPem: ours.certPem, keyPem: ours.keyPem },
    { name: 'wrong private key for our certificate', blob: des3, certPem: ours.certPem, keyPem: other.keyPem },
    { name: 'not addressed to us', blob: des3, certPem: other.certPem, keyPem: other.keyPem },
    { name: 'truncated', blob: raw.subarray(0, raw.length - 9).toString('base64'), certPem: ours.certPem, keyPem: ours.keyPem },
    { name: 'last byte flipped', blob: flipped.toString('base64'), certPem: ours.certPem, keyPem: ours.keyPem },
  );
  const entry = path.join(work, 'driver.ts');
  writeFileSync(
    entry,
    `import { decryptProtectedSettings } from ${JSON.stringify(path.join(ROOT, 'handler/crypto/protected-settings.ts'))};
     const cases = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
     const out = cases.map((c) => { try { return 'ok:' + decryptProtectedSettings(c.blob, c.certPem, c.keyPem); } catch (e) { return 'error:' + e.code; } });
     process.stdout.write(JSON.stringify({ version: process.version, out }));`,
  );
  driver = path.join(work, 'driver.mjs');
  await build({
    entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', outfile: driver, logLevel: 'error',
    banner: { js: "import { createRequire as __cr } from 'node:module'; var require = __cr(import.meta.url);" },
  });
}, 60_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('decryption on Node 20 and on the shipped runtime', () => {
  test('identical verdicts, and the wrong key is refused on both', () => {
    const here = cases.map((c) => verdict(() => decryptProtectedSettings(c.blob, c.certPem, c.keyPem)));
    // The last-byte flip leaves valid padding about 1 time in 256: then both runtimes agree on "ok" too.
    expect(here.slice(0, 3).every((v) => v.startsWith('ok:{'))).toBe(true);
    expect(here.slice(3, 6)).toEqual(['error:EKEYTRANSPORT', 'error:ENORECIPIENT', 'error:EBADASN1']);

    const { node } = ensureRuntime('x64');
    const r = spawnSync(node, [driver], { input: JSON.stringify(cases), encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
    expect(r.stderr).toBe('');
    const shipped = JSON.parse(r.stdout) as { version: string; out: string[] };
    expect(shipped.version).toBe(`v${NODE_RUNTIME_VERSION}`);
    expect(shipped.out).toEqual(here);
  });
});
