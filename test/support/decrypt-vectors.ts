// Protected-settings vectors made by openssl at test time, and the driver that decrypts them in a
// shipped runtime: the same cases run in-process (Node 20) and through each packaged Node
// (test/system/crypto-shipped-runtime.test.ts for x64, arm64-package.test.ts under emulation),
// and the verdicts must match.
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleDriver } from './bundle-driver.js';
import { decryptVerdict } from './decrypt-code.js';
import { encryptLikePlatform, makeWaagentCertificate } from './openssl-vectors.js';

export interface DecryptCase { name: string; blob: string; certPem: string; keyPem: string }

/** The verdicts on Node 20, in this process. */
export function verdictsHere(cases: readonly DecryptCase[]): string[] {
  return cases.map((c) => decryptVerdict(c.blob, c.certPem, c.keyPem));
}

/**
 * Three ciphers the platform may send (3DES with PKCS#1 v1.5 as today, AES-256-CBC, OAEP SHA-256
 * with a subjectKeyIdentifier recipient) and four refusals, with keys made in `work`. Verdicts:
 * the first three `ok:{...}`, then EKEYTRANSPORT, ENORECIPIENT, EBADASN1, and the flipped last byte
 * an error (valid padding by chance about 1 time in 256, then `ok` everywhere).
 */
export async function makeDecryptCases(work: string): Promise<DecryptCase[]> {
  const ours = await makeWaagentCertificate(path.join(work, 'a'));
  const other = await makeWaagentCertificate(path.join(work, 'b'));
  const plain = JSON.stringify({ login: { username: 'ü', password: 'p€ss' } });
  const des3 = await encryptLikePlatform(plain, ours.crtPath);
  const raw = Buffer.from(des3, 'base64');
  const flipped = Buffer.from(raw);
  flipped[flipped.length - 1]! ^= 0x01;
  const mine = { certPem: ours.certPem, keyPem: ours.keyPem };
  return [
    { name: '3DES, PKCS#1 v1.5 (the platform today)', blob: des3, ...mine },
    { name: 'AES-256-CBC', blob: await encryptLikePlatform(plain, ours.crtPath, { cipher: 'aes256' }), ...mine },
    { name: 'OAEP SHA-256 + SKI', blob: await encryptLikePlatform(plain, ours.crtPath, { oaep: 'sha256', keyid: true }), ...mine },
    { name: 'wrong private key for our certificate', blob: des3, certPem: ours.certPem, keyPem: other.keyPem },
    { name: 'not addressed to us', blob: des3, certPem: other.certPem, keyPem: other.keyPem },
    { name: 'truncated', blob: raw.subarray(0, raw.length - 9).toString('base64'), ...mine },
    { name: 'last byte flipped', blob: flipped.toString('base64'), ...mine },
  ];
}

/** What the driver prints: the runtime that ran it, and one verdict per case. */
export interface DriverAnswer { version: string; arch: string; out: string[] }

/**
 * Bundles test/support/decrypt-driver.ts into `outfile`, one CommonJS file any Node runs: it reads
 * the cases as JSON on stdin and prints a {@link DriverAnswer}.
 */
export function bundleDecryptDriver(outfile: string): Promise<void> {
  return bundleDriver(path.join(path.dirname(fileURLToPath(import.meta.url)), 'decrypt-driver.ts'), outfile);
}
