// RSA key transport with node:crypto: forge's pure-JS RSA costs 25-50 ms per 2048-bit blob and
// ~0.2 s for 4096 bits, OpenSSL well under 1 ms and ~6 ms.
import { constants, privateDecrypt, type KeyObject } from 'node:crypto';
import type { KeyTransport } from './cms.js';
import { DecryptError } from './decrypt-error.js';

/**
 * Recovers the content-encryption key from a KeyTransRecipientInfo's encryptedKey.
 *
 * `keyLength` is the content cipher's key length. A CEK of any other length means the private key
 * is not the one the blob was encrypted for, and is rejected with EKEYTRANSPORT. That check matters
 * beyond tidiness: with implicit rejection (OpenSSL >= 3.2, Node >= 22) a PKCS#1 v1.5 decryption
 * under the wrong key "succeeds" with pseudo-random bytes instead of failing.
 */
export function recoverContentKey(key: KeyObject, transport: KeyTransport, encryptedKey: Buffer, keyLength: number): Buffer {
  switch (transport.kind) {
    case 'rsaes-pkcs1-v1_5':
      return pkcs1v15(key, encryptedKey, keyLength);
    case 'rsaes-oaep':
      return oaep(key, transport, encryptedKey, keyLength);
    case 'unsupported':
      throw new DecryptError(
        'EUNSUPPORTED',
        `protectedSettings uses ${transport.description} for our certificate, which this handler does not support ` +
          '(supported: RSA PKCS#1 v1.5 and RSAES-OAEP with SHA-1/224/256/384/512).',
      );
  }
}

function keyTransportFailed(cause?: unknown): DecryptError {
  return new DecryptError(
    'EKEYTRANSPORT',
    'the content-encryption key could not be recovered with the private key (wrong private key for this certificate, or a corrupted blob)',
    cause,
  );
}

// Node 20 refuses RSA_PKCS1_PADDING for private decryption (CVE-2023-46809, Marvin attack) and
// Node >= 22 answers it with implicit rejection, so the raw RSA result is unpadded here instead.
function pkcs1v15(key: KeyObject, encryptedKey: Buffer, keyLength: number): Buffer {
  const k = modulusBytes(key);
  if (encryptedKey.length > k) throw keyTransportFailed();
  // RSA_NO_PADDING wants exactly k bytes; some encoders drop leading zero octets of the integer.
  const input = encryptedKey.length === k ? encryptedKey : Buffer.concat([Buffer.alloc(k - encryptedKey.length), encryptedKey]);
  let em: Buffer;
  try {
    em = privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, input);
  } catch (e) {
    throw keyTransportFailed(e);
  }
  const cek = unpadPkcs1v15(em, keyLength);
  em.fill(0);
  if (cek === undefined) throw keyTransportFailed();
  return cek;
}

/**
 * Strips EME-PKCS1-v1_5 padding, EM = 00 02 PS(>= 8 non-zero bytes) 00 M, and requires M to be
 * exactly `messageLength` bytes. Every byte is visited and the verdict is a single branch at the
 * end, so the time taken does not tell where the padding went wrong. (JavaScript gives no hard
 * guarantee; a handler decrypting one platform file offers no oracle to time anyway.)
 */
export function unpadPkcs1v15(em: Uint8Array, messageLength: number): Buffer | undefined {
  if (em.length < 11) return undefined;
  let bad = em[0]! | (em[1]! ^ 0x02);
  let sep = 0; // index of the first zero byte after 00 02, 0 while none seen
  for (let i = 2; i < em.length; i++) {
    const isZero = ((em[i]! - 1) >>> 31) & 1;
    const unseen = ((sep - 1) >>> 31) & 1;
    sep |= i & -(isZero & unseen);
  }
  bad |= ((sep - 10) >>> 31) & 1; // no separator, or fewer than 8 padding bytes
  bad |= (em.length - sep - 1) ^ messageLength;
  if (bad !== 0) return undefined;
  return Buffer.from(em.subarray(sep + 1));
}

function oaep(key: KeyObject, t: Extract<KeyTransport, { kind: 'rsaes-oaep' }>, encryptedKey: Buffer, keyLength: number): Buffer {
  // node:crypto has one knob, oaepHash, which OpenSSL also uses for MGF1 unless told otherwise.
  if (t.mgf1Hash !== t.hash) {
    throw new DecryptError(
      'EUNSUPPORTED',
      `protectedSettings uses RSAES-OAEP with hash ${t.hash} but MGF1 hash ${t.mgf1Hash}, which this handler does not support`,
    );
  }
  let cek: Buffer;
  try {
    cek = privateDecrypt(
      {
        key,
        padding: constants.RSA_PKCS1_OAEP_PADDING,
        oaepHash: t.hash,
        ...(t.label.length > 0 ? { oaepLabel: t.label } : {}),
      },
      encryptedKey,
    );
  } catch (e) {
    throw keyTransportFailed(e);
  }
  if (cek.length !== keyLength) {
    cek.fill(0);
    throw keyTransportFailed();
  }
  return cek;
}

function modulusBytes(key: KeyObject): number {
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (bits === undefined) throw new DecryptError('EBADKEY', 'the private key is not an RSA key');
  return Math.ceil(bits / 8);
}
