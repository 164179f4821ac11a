import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { certificateIdentity, findRecipient, parseCms } from '../../../handler/crypto/cms.js';
import { DecryptError, type DecryptErrorCode } from '../../../handler/crypto/decrypt-error.js';
import { decryptProtectedSettings } from '../../../handler/crypto/protected-settings.js';
import { HandlerError } from '../../../handler/errors.js';
import {
  encryptLikePlatform,
  makeWaagentCertificate,
  runOpenssl,
  type EncryptOptions,
  type WaagentCertificate,
} from '../../support/openssl-vectors.js';

// Raw multi-byte UTF-8 on purpose: the plaintext must be decoded as UTF-8, not as a binary string.
const SECRET = 'c2VjcmV0LWtleS0xMjM0NTY3ODkw';
const PAYLOAD = JSON.stringify({ commandToExecute: 'echo hello', storageAccountKey: SECRET, unicode: 'ü€ héllo ☃ 😀', n: 42 });

let root: string;
let a: WaagentCertificate; // the VM's certificate in most tests
let b: WaagentCertificate; // an unrelated certificate ("wrong key", other recipient)
let big: WaagentCertificate; // RSA-4096
let noSkiPem: string; // a second certificate for a's key, without the subjectKeyIdentifier extension
let noSkiPath: string;
const blobs: Record<string, string> = {};

const der = (b64: string): Buffer => Buffer.from(b64, 'base64');
const b64 = (d: Uint8Array): string => Buffer.from(d).toString('base64');
const flipLastByte = (d: Buffer): void => {
  d.writeUInt8(d.readUInt8(d.length - 1) ^ 0x01, d.length - 1);
};

function decryptError(fn: () => unknown): DecryptError {
  try {
    fn();
  } catch (e) {
    if (e instanceof DecryptError) return e;
    throw new Error(`expected a DecryptError, got ${String(e)}`);
  }
  throw new Error('expected a DecryptError, but decryption succeeded');
}

// A last-byte flip leaves valid padding about once in 256 blobs; openssl (an independent
// implementation) confirms the padding is bad so the test cannot flake.
async function withBadPadding(cipher: 'des3' | 'aes256'): Promise<string> {
  for (let attempt = 0; attempt < 8; attempt++) {
    const d = der(await encryptLikePlatform(PAYLOAD, a.crtPath, { cipher }));
    flipLastByte(d);
    const rejected = await runOpenssl(['cms', '-decrypt', '-inform', 'DER', '-recip', a.crtPath, '-inkey', a.prvPath], d).then(
      () => false,
      () => true,
    );
    if (rejected) return b64(d);
  }
  throw new Error('could not make a blob with bad padding');
}

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'ps-test-'));
  [a, b, big] = await Promise.all([
    makeWaagentCertificate(path.join(root, 'a')),
    makeWaagentCertificate(path.join(root, 'b')),
    makeWaagentCertificate(path.join(root, 'big'), { bits: 4096 }),
  ]);
  noSkiPath = path.join(root, 'noski.crt');
  await runOpenssl([
    'req', '-x509', '-new', '-key', a.prvPath, '-days', '30', '-sha256', '-subj', '/DC=Windows Azure CRP Certificate Generator',
    '-config', '/dev/null', '-addext', 'subjectKeyIdentifier=none', '-addext', 'authorityKeyIdentifier=none',
    '-addext', 'basicConstraints=CA:FALSE', '-out', noSkiPath,
  ]);
  noSkiPem = (await runOpenssl(['x509', '-in', noSkiPath])).toString('utf8');

  const make: Array<[string, Promise<string>]> = [
    ['default', encryptLikePlatform(PAYLOAD, a.crtPath)],
    ['aes128', encryptLikePlatform(PAYLOAD, a.crtPath, { cipher: 'aes128' })],
    ['aes192', encryptLikePlatform(PAYLOAD, a.crtPath, { cipher: 'aes192' })],
    ['aes256', encryptLikePlatform(PAYLOAD, a.crtPath, { cipher: 'aes256' })],
    ['aes128-gcm', encryptLikePlatform(PAYLOAD, a.crtPath, { cipher: 'aes128-gcm' })],
    ['oaep-sha1', encryptLikePlatform(PAYLOAD, a.crtPath, { cipher: 'aes256', oaep: 'sha1' })],
    ['oaep-sha256', encryptLikePlatform(PAYLOAD, a.crtPath, { cipher: 'aes256', oaep: 'sha256' })],
    ['keyid', encryptLikePlatform(PAYLOAD, a.crtPath, { cipher: 'aes256', keyid: true })],
    // the WireServer Certificates blob's shape: RecipientInfo v2, SKI, RSAES-OAEP, aes-128-cbc
    ['keyid-oaep', encryptLikePlatform(PAYLOAD, a.crtPath, { cipher: 'aes128', keyid: true, oaep: 'sha1' })],
    ['to-noski', encryptLikePlatform(PAYLOAD, noSkiPath)],
    ['rsa4096', encryptLikePlatform(PAYLOAD, big.crtPath)],
    // DER sorts the SET OF RecipientInfo, and a 4096-bit recipient encodes longer, so ours is second.
    ['ours-second', encryptLikePlatform(PAYLOAD, big.crtPath, { cipher: 'aes256', extraRecipients: [a.crtPath] })],
    ['two-recipients', encryptLikePlatform(PAYLOAD, a.crtPath, { extraRecipients: [b.crtPath] })],
    ['bom', encryptLikePlatform(`\uFEFF${PAYLOAD}`, a.crtPath)],
    ['not-utf8', encryptLikePlatform(Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]), a.crtPath)],
    ['bad-padding-des3', withBadPadding('des3')],
    ['bad-padding-aes', withBadPadding('aes256')],
  ];
  const done = await Promise.all(make.map(([, p]) => p));
  make.forEach(([name], i) => {
    blobs[name] = done[i]!;
  });
});

afterAll(async () => {
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

const blob = (name: string): string => {
  const v = blobs[name];
  if (v === undefined) throw new Error(`no blob ${name}`);
  return v;
};

describe('decryptProtectedSettings: what the platform sends', () => {
  it('decrypts 3DES + RSA PKCS#1 v1.5 + issuerAndSerialNumber with waagent-style .crt/.prv files', async () => {
    expect(a.certPem).toMatch(/^Bag Attributes\n[\s\S]*-----BEGIN CERTIFICATE-----/);
    expect(a.keyPem).toMatch(/^Bag Attributes\n[\s\S]*-----BEGIN PRIVATE KEY-----/);
    expect((await stat(a.prvPath)).mode & 0o777).toBe(0o400);
    const r = parseCms(der(blob('default')));
    expect(r.content.cipher).toBe('des-ede3-cbc');
    expect(r.recipients[0]?.keyTransport).toEqual({ kind: 'rsaes-pkcs1-v1_5' });
    expect(decryptProtectedSettings(blob('default'), a.certPem, a.keyPem)).toBe(PAYLOAD);
  });

  it('returns non-ASCII UTF-8 text intact', () => {
    const out = decryptProtectedSettings(blob('default'), a.certPem, a.keyPem);
    expect((JSON.parse(out) as { unicode: string }).unicode).toBe('ü€ héllo ☃ 😀');
  });

  it('accepts base64 wrapped over several lines, with CRLF', () => {
    const wrapped = blob('default').replace(/.{1,64}/g, '$&\r\n');
    expect(decryptProtectedSettings(wrapped, a.certPem, a.keyPem)).toBe(PAYLOAD);
  });

  it('strips a leading byte order mark', () => {
    expect(decryptProtectedSettings(blob('bom'), a.certPem, a.keyPem)).toBe(PAYLOAD);
  });

  it('reads CRLF PEM files and a PKCS#1 key', () => {
    const crlf = (s: string): string => s.replace(/\n/g, '\r\n');
    const pkcs1 = createPrivateKey(a.keyPem).export({ type: 'pkcs1', format: 'pem' }) as string;
    expect(pkcs1).toContain('BEGIN RSA PRIVATE KEY');
    expect(decryptProtectedSettings(blob('default'), crlf(a.certPem), crlf(a.keyPem))).toBe(PAYLOAD);
    expect(decryptProtectedSettings(blob('default'), a.certPem, pkcs1)).toBe(PAYLOAD);
  });
});

describe('decryptProtectedSettings: algorithms the platform may move to', () => {
  it.each([
    ['aes128', 'aes-128-cbc'],
    ['aes192', 'aes-192-cbc'],
    ['aes256', 'aes-256-cbc'],
    ['aes128-gcm', 'aes-128-gcm'],
  ])('%s content encryption', (name, cipher) => {
    expect(parseCms(der(blob(name))).content.cipher).toBe(cipher);
    expect(decryptProtectedSettings(blob(name), a.certPem, a.keyPem)).toBe(PAYLOAD);
  });

  it('AES-GCM arrives as AuthEnvelopedData', () => {
    expect(parseCms(der(blob('aes128-gcm'))).contentType).toBe('authEnvelopedData');
  });

  it.each([
    ['oaep-sha1', 'sha1'],
    ['oaep-sha256', 'sha256'],
  ])('RSAES-OAEP key transport (%s)', (name, hash) => {
    const kt = parseCms(der(blob(name))).recipients[0]?.keyTransport;
    expect(kt).toMatchObject({ kind: 'rsaes-oaep', hash, mgf1Hash: hash });
    expect(decryptProtectedSettings(blob(name), a.certPem, a.keyPem)).toBe(PAYLOAD);
  });

  it.each(['keyid', 'keyid-oaep'])('subjectKeyIdentifier recipient (%s)', (name) => {
    expect(parseCms(der(blob(name))).recipients[0]?.rid.kind).toBe('subjectKeyIdentifier');
    expect(decryptProtectedSettings(blob(name), a.certPem, a.keyPem)).toBe(PAYLOAD);
  });

  it('subjectKeyIdentifier recipient matched by a certificate without the SKI extension', async () => {
    const text = (await runOpenssl(['x509', '-in', noSkiPath, '-noout', '-text'])).toString('utf8');
    expect(text).not.toContain('Subject Key Identifier');
    expect(decryptProtectedSettings(blob('keyid'), noSkiPem, a.keyPem)).toBe(PAYLOAD);
  });

  it('issuerAndSerialNumber recipient for a certificate without the SKI extension (like the real tenant cert)', () => {
    expect(decryptProtectedSettings(blob('to-noski'), noSkiPem, a.keyPem)).toBe(PAYLOAD);
  });

  it('RSA-4096', () => {
    expect(decryptProtectedSettings(blob('rsa4096'), big.certPem, big.keyPem)).toBe(PAYLOAD);
  });

  it('two recipients, ours second', () => {
    const env = parseCms(der(blob('ours-second')));
    expect(env.recipients).toHaveLength(2);
    expect(findRecipient(env, certificateIdentity(der(pemBody(big.certPem))))).toBe(env.recipients[1]);
    expect(decryptProtectedSettings(blob('ours-second'), big.certPem, big.keyPem)).toBe(PAYLOAD);
  });

  it('two recipients, whichever of them we are', () => {
    expect(decryptProtectedSettings(blob('two-recipients'), a.certPem, a.keyPem)).toBe(PAYLOAD);
    expect(decryptProtectedSettings(blob('two-recipients'), b.certPem, b.keyPem)).toBe(PAYLOAD);
  });
});

function pemBody(pem: string): string {
  const m = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(pem);
  return (m?.[1] ?? '').replace(/\s+/g, '');
}

describe('decryptProtectedSettings: failures', () => {
  it('wrong private key for the matching certificate: EKEYTRANSPORT naming the .prv/.crt mismatch', () => {
    const e = decryptError(() => decryptProtectedSettings(blob('default'), a.certPem, b.keyPem));
    expect(e.code).toBe('EKEYTRANSPORT');
    expect(e.message).toContain(a.thumbprint);
    expect(e.message).toMatch(/do not match/);
  });

  it('wrong private key with OAEP: EKEYTRANSPORT', () => {
    expect(decryptError(() => decryptProtectedSettings(blob('oaep-sha256'), a.certPem, b.keyPem)).code).toBe('EKEYTRANSPORT');
  });

  it('blob not encrypted for our certificate: ENORECIPIENT naming our thumbprint and what to do', () => {
    const e = decryptError(() => decryptProtectedSettings(blob('default'), b.certPem, b.keyPem));
    expect(e.code).toBe('ENORECIPIENT');
    expect(e.message).toContain(b.thumbprint);
    expect(e.message).toMatch(/restart the guest agent/);
  });

  it('truncated blob: EBADASN1', () => {
    const d = der(blob('default'));
    expect(decryptError(() => decryptProtectedSettings(b64(d.subarray(0, d.length - 8)), a.certPem, a.keyPem)).code).toBe('EBADASN1');
  });

  it('trailing garbage (which openssl accepts): EBADASN1', () => {
    const d = Buffer.concat([der(blob('default')), Buffer.from('GARBAGE!')]);
    expect(decryptError(() => decryptProtectedSettings(b64(d), a.certPem, a.keyPem)).code).toBe('EBADASN1');
  });

  it('random bytes: EBADASN1', () => {
    const d = Buffer.alloc(300, 0x5a);
    expect(decryptError(() => decryptProtectedSettings(b64(d), a.certPem, a.keyPem)).code).toBe('EBADASN1');
  });

  it.each(['bad-padding-des3', 'bad-padding-aes'])('last byte flipped (%s): EDECRYPT', (name) => {
    expect(decryptError(() => decryptProtectedSettings(blob(name), a.certPem, a.keyPem)).code).toBe('EDECRYPT');
  });

  it('GCM tag flipped: EDECRYPT, although OpenSSL already produced the plaintext', () => {
    const d = der(blob('aes128-gcm'));
    flipLastByte(d);
    expect(decryptError(() => decryptProtectedSettings(b64(d), a.certPem, a.keyPem)).code).toBe('EDECRYPT');
  });

  it('invalid base64 characters: EBADBASE64 (Buffer.from would silently skip them)', () => {
    const s = blob('default');
    const e = decryptError(() => decryptProtectedSettings(`${s.slice(0, 20)}!!!!${s.slice(20)}`, a.certPem, a.keyPem));
    expect(e.code).toBe('EBADBASE64');
    expect(e.message).toContain('offset 20');
  });

  it.each([
    ['missing padding', (s: string) => s.replace(/=+$/, '').slice(0, -1)],
    ['padding in the middle', (s: string) => `QQ==${s}`],
    ['empty', () => '  \n'],
    ['non-zero padding bits', () => 'QR=='],
  ])('malformed base64 (%s): EBADBASE64', (_, mangle) => {
    expect(decryptError(() => decryptProtectedSettings(mangle(blob('default')), a.certPem, a.keyPem)).code).toBe('EBADBASE64');
  });

  it('plaintext that is not UTF-8: EUTF8, a user error', () => {
    const e = decryptError(() => decryptProtectedSettings(blob('not-utf8'), a.certPem, a.keyPem));
    expect(e.code).toBe('EUTF8');
    expect(e.category).toBe('user');
  });

  it('encrypted private key (PKCS#8 and legacy PKCS#1): EBADKEY saying so', () => {
    const k = createPrivateKey(a.keyPem);
    const pkcs8 = k.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'test-pass' }) as string;
    const pkcs1 = k.export({ type: 'pkcs1', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'test-pass' }) as string;
    for (const key of [pkcs8, pkcs1]) {
      const e = decryptError(() => decryptProtectedSettings(blob('default'), a.certPem, key));
      expect(e.code).toBe('EBADKEY');
      expect(e.message).toMatch(/encrypted with a passphrase/);
    }
  });

  it('unusable key files: EBADKEY', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    for (const key of ['', a.certPem, ec]) {
      expect(decryptError(() => decryptProtectedSettings(blob('default'), a.certPem, key)).code).toBe('EBADKEY');
    }
  });

  it('a certificate file without a certificate: ENOCERT', () => {
    expect(decryptError(() => decryptProtectedSettings(blob('default'), a.keyPem, a.keyPem)).code).toBe('ENOCERT');
  });

  it('every failure is a system/user HandlerError whose message carries no plaintext or key', () => {
    const cases: Array<[DecryptErrorCode, () => unknown]> = [
      ['EKEYTRANSPORT', () => decryptProtectedSettings(blob('default'), a.certPem, b.keyPem)],
      ['ENORECIPIENT', () => decryptProtectedSettings(blob('default'), b.certPem, b.keyPem)],
      ['EDECRYPT', () => decryptProtectedSettings(blob('bad-padding-aes'), a.certPem, a.keyPem)],
      ['EUTF8', () => decryptProtectedSettings(blob('not-utf8'), a.certPem, a.keyPem)],
      ['EBADBASE64', () => decryptProtectedSettings(PAYLOAD, a.certPem, a.keyPem)],
      ['EBADASN1', () => decryptProtectedSettings(b64(Buffer.from(PAYLOAD)), a.certPem, a.keyPem)],
    ];
    const keyBody = a.keyPem.split('\n').find((l) => /^[A-Za-z0-9+/]{64}$/.test(l)) ?? 'unreachable';
    for (const [code, fn] of cases) {
      const e = decryptError(fn);
      expect(e).toBeInstanceOf(HandlerError);
      expect(e.code).toBe(code);
      expect(['user', 'system']).toContain(e.category);
      for (const secret of [SECRET, 'echo hello', keyBody]) expect(e.message).not.toContain(secret);
    }
  });
});
