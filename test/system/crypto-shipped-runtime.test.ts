import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ensureRuntime, NODE_RUNTIME_VERSION } from '../../scripts/package-lib.mjs';
import { bundleDecryptDriver, makeDecryptCases, verdictsHere, type DecryptCase, type DriverAnswer } from '../support/decrypt-vectors.js';

// The decryptor must give the same answers on Node 20 (this machine) and on the Node LTS the
// package ships, whose newer OpenSSL answers a PKCS#1 v1.5 decryption under the wrong key with
// random bytes (implicit rejection) instead of an error. The same vectors run in-process and
// through the shipped runtime, and the verdicts must match. The arm64 runtime gets the same
// vectors under emulation in arm64-package.test.ts.

let work: string;
let driver: string;
let cases: DecryptCase[];

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'shipped-crypto-'));
  cases = await makeDecryptCases(work);
  driver = path.join(work, 'driver.cjs');
  await bundleDecryptDriver(driver);
}, 60_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('decryption on Node 20 and on the shipped runtime', () => {
  test('identical verdicts, and the wrong key is refused on both', () => {
    const here = verdictsHere(cases);
    // The last-byte flip leaves valid padding about 1 time in 256: then both runtimes agree on "ok" too.
    expect(here.slice(0, 3).every((v) => v.startsWith('ok:{'))).toBe(true);
    expect(here.slice(3, 6)).toEqual(['error:EKEYTRANSPORT', 'error:ENORECIPIENT', 'error:EBADASN1']);

    const { node } = ensureRuntime('x64');
    const r = spawnSync(node, [driver], { input: JSON.stringify(cases), encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
    expect(r.stderr).toBe('');
    const shipped = JSON.parse(r.stdout) as DriverAnswer;
    expect(shipped).toMatchObject({ version: `v${NODE_RUNTIME_VERSION}`, arch: 'x64' });
    expect(shipped.out).toEqual(here);
  });
});
