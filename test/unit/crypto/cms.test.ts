import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import forge from 'node-forge';
import { certificateIdentity, parseCms } from '../../../handler/crypto/cms.js';
import { decryptProtectedSettings } from '../../../handler/crypto/protected-settings.js';
import { decryptErrorCode } from '../../support/decrypt-code.js';
import { encryptLikePlatform, makeWaagentCertificate, runOpenssl, type WaagentCertificate } from '../../support/openssl-vectors.js';

const PAYLOAD = JSON.stringify({ commandToExecute: 'echo hello', n: 1 });
const BIG = JSON.stringify({ script: 'A'.repeat(5000) });

let root: string;
let pair: WaagentCertificate;
let hiSerialPath: string;
let hiSerialPem: string;
const blobs: Record<string, Buffer> = {};

const encrypt = (args: string[], input = PAYLOAD): Promise<Buffer> =>
  runOpenssl(['cms', '-encrypt', '-binary', '-outform', 'DER', ...args, '-recip', pair.crtPath], input);

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'cms-test-'));
  pair = await makeWaagentCertificate(root);
  hiSerialPath = path.join(root, 'hiserial.crt');
  await runOpenssl([
    'req', '-x509', '-new', '-key', pair.prvPath, '-days', '30', '-subj', '/DC=Windows Azure CRP Certificate Generator',
    '-set_serial', '0x8A41FC728CFFB7AF464F83073EF9E305', '-out', hiSerialPath,
  ]);
  hiSerialPem = (await runOpenssl(['x509', '-in', hiSerialPath])).toString('utf8');

  const secret = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';
  const jobs: Array<[string, Promise<Buffer>]> = [
    ['stream', runOpenssl(['cms', '-encrypt', '-binary', '-stream', '-outform', 'DER', '-aes256', '-recip', pair.crtPath], BIG)],
    ['kek-and-pwri', encrypt(['-aes256', '-secretkey', secret, '-secretkeyid', '0102', '-pwri_password', 'pw'])],
    ['hiserial', runOpenssl(['cms', '-encrypt', '-binary', '-outform', 'DER', '-des3', '-recip', hiSerialPath], PAYLOAD)],
    [
      'oaep-mixed-mgf1',
      runOpenssl(
        ['cms', '-encrypt', '-binary', '-outform', 'DER', '-aes128', '-recip', pair.crtPath,
          '-keyopt', 'rsa_padding_mode:oaep', '-keyopt', 'rsa_oaep_md:sha256', '-keyopt', 'rsa_mgf1_md:sha1'],
        PAYLOAD,
      ),
    ],
    ['signed', runOpenssl(['cms', '-sign', '-binary', '-nodetach', '-outform', 'DER', '-signer', pair.crtPath, '-inkey', pair.prvPath], PAYLOAD)],
    ['default', encryptLikePlatform(PAYLOAD, pair.crtPath).then((s) => Buffer.from(s, 'base64'))],
  ];
  const out = await Promise.all(jobs.map(([, p]) => p));
  jobs.forEach(([name], i) => {
    blobs[name] = out[i]!;
  });
});

afterAll(async () => {
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

const blob = (name: string): Buffer => {
  const v = blobs[name];
  if (v === undefined) throw new Error(`no blob ${name}`);
  return v;
};
const decrypt = (d: Uint8Array, certPem = pair.certPem): string =>
  decryptProtectedSettings(Buffer.from(d).toString('base64'), certPem, pair.keyPem);

const codeOf = decryptErrorCode;

// DER of hand-built structures, for shapes openssl will not produce.
const { Class, Type } = forge.asn1;
const seq = (...v: forge.asn1.Asn1[]): forge.asn1.Asn1 => forge.asn1.create(Class.UNIVERSAL, Type.SEQUENCE, true, v);
const oidNode = (o: string): forge.asn1.Asn1 => forge.asn1.create(Class.UNIVERSAL, Type.OID, false, forge.asn1.oidToDer(o).getBytes());
const int = (n: number): forge.asn1.Asn1 => forge.asn1.create(Class.UNIVERSAL, Type.INTEGER, false, String.fromCharCode(n));
const explicit0 = (v: forge.asn1.Asn1): forge.asn1.Asn1 => forge.asn1.create(Class.CONTEXT_SPECIFIC, 0, true, [v]);
const toBytes = (n: forge.asn1.Asn1): Buffer => Buffer.from(forge.asn1.toDer(n).getBytes(), 'binary');

describe('parseCms', () => {
  it('reads BER with indefinite lengths and the content split into constructed chunks (cms -stream)', () => {
    const d = blob('stream');
    expect(d[1]).toBe(0x80); // indefinite length
    const env = parseCms(d);
    expect(env.content.ciphertext.length).toBeGreaterThan(5000);
    expect(decrypt(d)).toBe(BIG);
  });

  it('skips KEK and password RecipientInfos and still finds ours', () => {
    const env = parseCms(blob('kek-and-pwri'));
    expect(env.recipients).toHaveLength(1);
    expect(env.otherRecipients).toBe(2);
    expect(decrypt(blob('kek-and-pwri'))).toBe(PAYLOAD);
  });

  it('matches a serial number with the high bit set (DER-encoded with a leading 00 octet)', () => {
    const id = certificateIdentity(new X509Certificate(hiSerialPem).raw);
    expect(id.serial.toString('hex')).toBe('8a41fc728cffb7af464f83073ef9e305');
    expect(decrypt(blob('hiserial'), hiSerialPem)).toBe(PAYLOAD);
  });

  it('keeps the certificate SKI extension and the SHA-1 of the key bits (identical for openssl certificates)', () => {
    const id = certificateIdentity(new X509Certificate(pair.certPem).raw);
    expect(id.subjectKeyIds).toHaveLength(2);
    expect(id.subjectKeyIds[0]).toEqual(id.subjectKeyIds[1]);
  });

  it('parses OAEP parameters with a different MGF1 hash but refuses to decrypt them (node:crypto cannot)', () => {
    const env = parseCms(blob('oaep-mixed-mgf1'));
    expect(env.recipients[0]?.keyTransport).toMatchObject({ kind: 'rsaes-oaep', hash: 'sha256', mgf1Hash: 'sha1' });
    expect(codeOf(() => decrypt(blob('oaep-mixed-mgf1')))).toBe('EUNSUPPORTED');
  });

  it('SignedData: EUNSUPPORTED', () => {
    expect(codeOf(() => parseCms(blob('signed')))).toBe('EUNSUPPORTED');
  });

  it('id-data ContentInfo: EUNSUPPORTED', () => {
    const d = toBytes(seq(oidNode('1.2.840.113549.1.7.1'), explicit0(forge.asn1.create(Class.UNIVERSAL, Type.OCTETSTRING, false, 'x'))));
    expect(codeOf(() => parseCms(d))).toBe('EUNSUPPORTED');
  });

  it.each([
    ['empty input', Buffer.alloc(0)],
    ['a bare INTEGER', toBytes(int(1))],
    ['EnvelopedData with only a version', toBytes(seq(oidNode('1.2.840.113549.1.7.3'), explicit0(seq(int(0)))))],
    ['ContentInfo without content', toBytes(seq(oidNode('1.2.840.113549.1.7.3')))],
    ['a non-OID content type', toBytes(seq(int(3), explicit0(seq(int(0)))))],
  ])('%s: EBADASN1', (_, d) => {
    expect(codeOf(() => parseCms(d))).toBe('EBADASN1');
  });

  it('deep nesting is refused, not a stack overflow', () => {
    const depth = 5000;
    const d = Buffer.concat([Buffer.from(Array.from({ length: depth }, () => [0x30, 0x80]).flat()), Buffer.alloc(depth * 2)]);
    expect(codeOf(() => parseCms(d))).toBe('EBADASN1');
  });

  it('random mutations end in the decrypted payload, other text, or a DecryptError, never another error', () => {
    const original = blob('default');
    let seed = 0x2545f491;
    const rand = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const seen = new Set<string>();
    for (let i = 0; i < 400; i++) {
      const d = Buffer.from(original);
      if (i % 10 === 0) {
        seen.add(codeOf(() => decrypt(d.subarray(0, 1 + rand(d.length - 1)))));
        continue;
      }
      for (let k = 1 + rand(3); k > 0; k--) {
        const at = rand(d.length);
        d.writeUInt8(d.readUInt8(at) ^ (1 + rand(255)), at);
      }
      seen.add(codeOf(() => decrypt(d)));
    }
    for (const c of seen) expect(['no error', 'EBADASN1', 'EUNSUPPORTED', 'ENORECIPIENT', 'EKEYTRANSPORT', 'EDECRYPT', 'EUTF8']).toContain(c);
    expect(seen.has('EBADASN1')).toBe(true);
  });
});
