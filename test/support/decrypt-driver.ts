// Run by a shipped runtime (bundled by bundleDecryptDriver): decrypts the cases on stdin with the
// handler's decryptor and prints the verdicts, with the runtime's version and architecture.
import { readFileSync } from 'node:fs';
import { decryptVerdict } from './decrypt-code.js';
import type { DecryptCase, DriverAnswer } from './decrypt-vectors.js';

const cases = JSON.parse(readFileSync(0, 'utf8')) as DecryptCase[];
const answer: DriverAnswer = { version: process.version, arch: process.arch, out: cases.map((c) => decryptVerdict(c.blob, c.certPem, c.keyPem)) };
process.stdout.write(JSON.stringify(answer));
