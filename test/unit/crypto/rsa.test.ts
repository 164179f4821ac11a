import { beforeAll, describe, expect, it } from '@jest/globals';
import { constants, generateKeyPairSync, publicEncrypt, randomBytes, type KeyObject } from 'node:crypto';
import type { KeyTransport } from '../../../handler/crypto/cms.js';
import { decryptErrorCode } from '../../support/decrypt-code.js';
import { recoverContentKey, unpadPkcs1v15 } from '../../../handler/crypto/rsa.js';

const PKCS1: KeyTransport = { kind: 'rsaes-pkcs1-v1_5' };
const oaep = (hash: 'sha1' | 'sha256', mgf1Hash = hash): KeyTransport => ({ kind: 'rsaes-oaep', hash, mgf1Hash, label: Buffer.alloc(0) });

function em(parts: { head?: number[]; ps?: number; sep?: boolean; message?: Buffer; total?: number }): Buffer {
  const message = parts.message ?? Buffer.alloc(24, 0xab);
  const psLength = parts.ps ?? (parts.total ?? 256) - 3 - message.length;
  return Buffer.concat([
    Buffer.from(parts.head ?? [0x00, 0x02]),
    Buffer.alloc(psLength, 0x5c),
    Buffer.from(parts.sep === false ? [] : [0x00]),
    message,
  ]);
}

describe('unpadPkcs1v15', () => {
  it('returns the message of a well-formed block', () => {
    const m = randomBytes(24);
    expect(unpadPkcs1v15(em({ message: m }), 24)).toEqual(m);
  });

  it('takes the first zero after the padding as the separator', () => {
    const m = Buffer.concat([Buffer.from([0x00]), randomBytes(15)]);
    expect(unpadPkcs1v15(em({ message: m }), 16)).toEqual(m);
  });

  it('accepts exactly eight padding bytes', () => {
    expect(unpadPkcs1v15(em({ ps: 8, message: Buffer.alloc(5, 1) }), 5)).toEqual(Buffer.alloc(5, 1));
  });

  it.each([
    ['first byte not zero', em({ head: [0x01, 0x02] })],
    ['block type 1 (signature padding)', em({ head: [0x00, 0x01] })],
    ['seven padding bytes', em({ ps: 7, message: Buffer.alloc(5, 1) })],
    ['no separator', em({ sep: false, message: Buffer.alloc(24, 0x11) })],
    ['too short', Buffer.from([0x00, 0x02, 0x00])],
  ])('rejects %s', (_, block) => {
    expect(unpadPkcs1v15(block, 24)).toBeUndefined();
  });

  it('rejects a message of another length than the content cipher needs', () => {
    expect(unpadPkcs1v15(em({ message: Buffer.alloc(16, 1) }), 24)).toBeUndefined();
    expect(unpadPkcs1v15(em({ message: Buffer.alloc(32, 1) }), 24)).toBeUndefined();
  });
});

describe('recoverContentKey', () => {
  let ours: KeyObject;
  let ourPublic: KeyObject;
  let other: KeyObject;

  beforeAll(() => {
    const a = generateKeyPairSync('rsa', { modulusLength: 2048 });
    ours = a.privateKey;
    ourPublic = a.publicKey;
    other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  });

  const code = decryptErrorCode;

  it('recovers a PKCS#1 v1.5 wrapped key (Node 20 refuses RSA_PKCS1_PADDING for this)', () => {
    const cek = randomBytes(24);
    const ek = publicEncrypt({ key: ourPublic, padding: constants.RSA_PKCS1_PADDING }, cek);
    expect(recoverContentKey(ours, PKCS1, ek, 24)).toEqual(cek);
  });

  it('accepts an encryptedKey whose leading zero octet was dropped', () => {
    const cek = randomBytes(16);
    let ek = Buffer.alloc(0);
    for (let i = 0; i < 20000 && ek[0] !== 0; i++) ek = publicEncrypt({ key: ourPublic, padding: constants.RSA_PKCS1_PADDING }, cek);
    expect(ek[0]).toBe(0);
    expect(recoverContentKey(ours, PKCS1, ek.subarray(1), 16)).toEqual(cek);
  });

  it('PKCS#1 v1.5 with the wrong key or the wrong expected length: EKEYTRANSPORT', () => {
    const ek = publicEncrypt({ key: ourPublic, padding: constants.RSA_PKCS1_PADDING }, randomBytes(24));
    expect(code(() => recoverContentKey(other, PKCS1, ek, 24))).toBe('EKEYTRANSPORT');
    expect(code(() => recoverContentKey(ours, PKCS1, ek, 32))).toBe('EKEYTRANSPORT');
    expect(code(() => recoverContentKey(ours, PKCS1, Buffer.concat([ek, Buffer.from([0])]), 24))).toBe('EKEYTRANSPORT');
  });

  it.each(['sha1', 'sha256'] as const)('recovers an OAEP (%s) wrapped key', (hash) => {
    const cek = randomBytes(32);
    const ek = publicEncrypt({ key: ourPublic, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, cek);
    expect(recoverContentKey(ours, oaep(hash), ek, 32)).toEqual(cek);
    expect(code(() => recoverContentKey(other, oaep(hash), ek, 32))).toBe('EKEYTRANSPORT');
    expect(code(() => recoverContentKey(ours, oaep(hash), ek, 16))).toBe('EKEYTRANSPORT');
  });

  it('OAEP with an MGF1 hash other than the OAEP hash, or an unknown algorithm: EUNSUPPORTED', () => {
    expect(code(() => recoverContentKey(ours, oaep('sha256', 'sha1'), Buffer.alloc(256), 32))).toBe('EUNSUPPORTED');
    expect(code(() => recoverContentKey(ours, { kind: 'unsupported', description: 'x' }, Buffer.alloc(256), 32))).toBe('EUNSUPPORTED');
  });
});
