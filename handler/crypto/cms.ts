// A deliberately small CMS (RFC 5652/5083) reader for protectedSettings. forge.pkcs7 cannot read
// RSAES-OAEP, subjectKeyIdentifier recipients or AuthEnvelopedData, all of which the platform
// already emits on its other CMS channel, so only forge's ASN.1 decoder is used and the structure
// is walked here. Every malformed input ends as a DecryptError, never a TypeError from a library.
import { createDecipheriv, createHash, type CipherGCMTypes } from 'node:crypto';
import type forge from 'node-forge';
// Only the ASN.1 reader and its byte buffer (see handler/types/node-forge-lib.d.ts).
import asn1 from 'node-forge/lib/asn1.js';
import util from 'node-forge/lib/util.js';
import { DecryptError } from './decrypt-error.js';

type Asn1 = forge.asn1.Asn1;

// @types/node-forge only knows the old boolean `strict` argument; forge >= 1.3 takes options.
interface FromDerOptions {
  strict: boolean;
  parseAllBytes: boolean;
  decodeBitStrings: boolean;
}
const fromDer = asn1.fromDer as unknown as (bytes: forge.util.ByteBuffer, options: FromDerOptions) => Asn1;

// strict: no truncated values; parseAllBytes: trailing bytes after the message are an error
// (openssl silently accepts them); decodeBitStrings off: forge would otherwise guess at ASN.1
// inside BIT STRINGs and hand back a tree that depends on the key bits.
const DER_OPTIONS: FromDerOptions = { strict: true, parseAllBytes: true, decodeBitStrings: false };

const UNIVERSAL = 0x00;
const CONTEXT = 0x80;
const T = { INTEGER: 2, BITSTRING: 3, OCTETSTRING: 4, NULL: 5, OID: 6, SEQUENCE: 16, SET: 17 } as const;

const OID = {
  data: '1.2.840.113549.1.7.1',
  envelopedData: '1.2.840.113549.1.7.3',
  authEnvelopedData: '1.2.840.113549.1.9.16.1.23',
  rsaEncryption: '1.2.840.113549.1.1.1',
  rsaesOaep: '1.2.840.113549.1.1.7',
  mgf1: '1.2.840.113549.1.1.8',
  pSpecified: '1.2.840.113549.1.1.9',
  subjectKeyIdentifier: '2.5.29.14',
} as const;

export type OaepHash = 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';
const HASHES: Readonly<Record<string, OaepHash>> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.4': 'sha224',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

export type ContentCipherName =
  | 'des-ede3-cbc'
  | 'aes-128-cbc'
  | 'aes-192-cbc'
  | 'aes-256-cbc'
  | 'aes-128-gcm'
  | 'aes-192-gcm'
  | 'aes-256-gcm';

interface CipherSpec {
  name: ContentCipherName;
  mode: 'cbc' | 'gcm';
  keyLength: number;
  ivLength: number; // CBC only; GCM nonces come with their own length
}

const CIPHERS: Readonly<Record<string, CipherSpec>> = {
  '1.2.840.113549.3.7': { name: 'des-ede3-cbc', mode: 'cbc', keyLength: 24, ivLength: 8 },
  '2.16.840.1.101.3.4.1.2': { name: 'aes-128-cbc', mode: 'cbc', keyLength: 16, ivLength: 16 },
  '2.16.840.1.101.3.4.1.22': { name: 'aes-192-cbc', mode: 'cbc', keyLength: 24, ivLength: 16 },
  '2.16.840.1.101.3.4.1.42': { name: 'aes-256-cbc', mode: 'cbc', keyLength: 32, ivLength: 16 },
  '2.16.840.1.101.3.4.1.6': { name: 'aes-128-gcm', mode: 'gcm', keyLength: 16, ivLength: 0 },
  '2.16.840.1.101.3.4.1.26': { name: 'aes-192-gcm', mode: 'gcm', keyLength: 24, ivLength: 0 },
  '2.16.840.1.101.3.4.1.46': { name: 'aes-256-gcm', mode: 'gcm', keyLength: 32, ivLength: 0 },
};

export type RecipientId =
  | { kind: 'issuerAndSerialNumber'; issuer: Buffer; serial: Buffer }
  | { kind: 'subjectKeyIdentifier'; keyId: Buffer };

export type KeyTransport =
  | { kind: 'rsaes-pkcs1-v1_5' }
  | { kind: 'rsaes-oaep'; hash: OaepHash; mgf1Hash: OaepHash; label: Buffer }
  // Kept rather than rejected while parsing: an exotic recipient for someone else must not stop us
  // from decrypting with ours. It only fails if it turns out to be our recipient.
  | { kind: 'unsupported'; description: string };

export interface KeyTransRecipient {
  rid: RecipientId;
  keyTransport: KeyTransport;
  encryptedKey: Buffer;
}

export interface ContentEncryption {
  cipher: ContentCipherName;
  mode: 'cbc' | 'gcm';
  keyLength: number;
  iv: Buffer;
  ciphertext: Buffer;
  /** GCM authentication tag (AuthEnvelopedData mac). */
  tag?: Buffer;
}

export interface CmsEnvelope {
  contentType: 'envelopedData' | 'authEnvelopedData';
  recipients: KeyTransRecipient[];
  /** RecipientInfo choices other than KeyTransRecipientInfo (agreement, KEK, password, other). */
  otherRecipients: number;
  content: ContentEncryption;
}

/** What a certificate offers for matching a recipient; see {@link certificateIdentity}. */
export interface CertificateIdentity {
  issuer: Buffer;
  serial: Buffer;
  /** The SKI extension value if present, and SHA-1 of the subjectPublicKey bits. */
  subjectKeyIds: Buffer[];
}

const CORRUPT_HINT =
  'The settings blob is corrupted or is not a CMS message; re-apply the extension settings to have the platform encrypt them again.';

function malformed(what: string): DecryptError {
  return new DecryptError('EBADASN1', `protectedSettings is not a valid CMS message: ${what}. ${CORRUPT_HINT}`);
}

function unsupported(what: string): DecryptError {
  return new DecryptError(
    'EUNSUPPORTED',
    `protectedSettings uses ${what}, which this handler does not support (supported: RSA PKCS#1 v1.5 or RSAES-OAEP key transport; ` +
      '3DES-CBC, AES-CBC or AES-GCM content encryption).',
  );
}

const bin = (s: string): Buffer => Buffer.from(s, 'binary');

function has(o: Asn1 | undefined, cls: number, type: number): o is Asn1 {
  return o !== undefined && (o.tagClass as number) === cls && (o.type as number) === type;
}

function kids(o: Asn1 | undefined, cls: number, type: number, what: string): Asn1[] {
  if (!has(o, cls, type) || !o.constructed || !Array.isArray(o.value)) throw malformed(`${what} is missing or not constructed`);
  return o.value;
}

function prim(o: Asn1 | undefined, cls: number, type: number, what: string): string {
  if (!has(o, cls, type) || o.constructed || typeof o.value !== 'string') throw malformed(`${what} is missing or malformed`);
  return o.value;
}

function oid(o: Asn1 | undefined, what: string): string {
  const v = prim(o, UNIVERSAL, T.OID, what);
  try {
    return asn1.derToOid(v);
  } catch {
    throw malformed(`${what} is not a valid object identifier`);
  }
}

// OCTET STRING (or an IMPLICIT-tagged one), primitive or, in BER, split into constructed chunks
// that must themselves be OCTET STRINGs (openssl cms -stream writes 4 KiB chunks).
function octets(o: Asn1 | undefined, cls: number, type: number, what: string): Buffer {
  if (!has(o, cls, type)) throw malformed(`${what} is missing`);
  if (!o.constructed) return bin(prim(o, cls, type, what));
  const parts = kids(o, cls, type, what).map((c) => octets(c, UNIVERSAL, T.OCTETSTRING, `a chunk of ${what}`));
  return Buffer.concat(parts);
}

function smallInteger(o: Asn1 | undefined, what: string): number {
  const v = prim(o, UNIVERSAL, T.INTEGER, what);
  if (v.length === 0 || v.length > 4 || (v.charCodeAt(0) & 0x80) !== 0) throw malformed(`${what} is out of range`);
  let n = 0;
  for (let i = 0; i < v.length; i++) n = n * 256 + v.charCodeAt(i);
  return n;
}

/** INTEGER content bytes without redundant leading zeros, so 00 8A… and 8A… compare equal. */
function integerBytes(o: Asn1 | undefined, what: string): Buffer {
  const v = bin(prim(o, UNIVERSAL, T.INTEGER, what));
  let i = 0;
  while (i < v.length - 1 && v[i] === 0) i++;
  return v.subarray(i);
}

function algorithm(o: Asn1 | undefined, what: string): { oid: string; params: Asn1 | undefined } {
  const k = kids(o, UNIVERSAL, T.SEQUENCE, what);
  if (k.length < 1 || k.length > 2) throw malformed(`${what} has ${k.length} fields`);
  return { oid: oid(k[0], `${what} algorithm`), params: k[1] };
}

const absentOrNull = (p: Asn1 | undefined): boolean => p === undefined || (has(p, UNIVERSAL, T.NULL) && !p.constructed);

/** Parses DER or BER bytes into the parts needed to decrypt; throws EBADASN1/EUNSUPPORTED. */
export function parseCms(der: Uint8Array): CmsEnvelope {
  let root: Asn1;
  try {
    root = fromDer(util.createBuffer(Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('binary')), DER_OPTIONS);
  } catch (e) {
    // forge's messages ("Too few bytes to read ASN.1 value.") are accurate but not actionable.
    throw new DecryptError('EBADASN1', `protectedSettings is not valid DER/BER (${errorText(e)}). ${CORRUPT_HINT}`, e);
  }
  try {
    return walkContentInfo(root);
  } catch (e) {
    if (e instanceof DecryptError) throw e;
    throw new DecryptError('EBADASN1', `protectedSettings is not a valid CMS message. ${CORRUPT_HINT}`, e);
  }
}

function walkContentInfo(root: Asn1): CmsEnvelope {
  const ci = kids(root, UNIVERSAL, T.SEQUENCE, 'ContentInfo');
  if (ci.length !== 2) throw malformed('ContentInfo must have exactly two fields');
  const type = oid(ci[0], 'ContentInfo contentType');
  const wrapper = kids(ci[1], CONTEXT, 0, 'ContentInfo content [0]');
  if (wrapper.length !== 1) throw malformed('ContentInfo content [0] must hold exactly one value');
  if (type === OID.envelopedData) return walkEnveloped(wrapper[0], false);
  if (type === OID.authEnvelopedData) return walkEnveloped(wrapper[0], true);
  throw unsupported(`CMS content type ${type} instead of EnvelopedData or AuthEnvelopedData`);
}

// EnvelopedData     ::= SEQUENCE { version, originatorInfo [0] OPT, recipientInfos SET,
//                                  encryptedContentInfo, unprotectedAttrs [1] OPT }
// AuthEnvelopedData ::= SEQUENCE { version, originatorInfo [0] OPT, recipientInfos SET,
//                                  authEncryptedContentInfo, authAttrs [1] OPT, mac OCTET STRING,
//                                  unauthAttrs [2] OPT }
function walkEnveloped(node: Asn1 | undefined, auth: boolean): CmsEnvelope {
  const name = auth ? 'AuthEnvelopedData' : 'EnvelopedData';
  const f = kids(node, UNIVERSAL, T.SEQUENCE, name);
  smallInteger(f[0], `${name} version`);
  let i = 1;
  if (has(f[i], CONTEXT, 0)) i++; // originatorInfo: certificates/CRLs we have no use for
  const infos = kids(f[i++], UNIVERSAL, T.SET, `${name} recipientInfos`);
  const eci = f[i++];
  let tag: Buffer | undefined;
  if (auth) {
    // The tag would have to cover authAttrs as AAD; openssl never writes them, so refuse rather
    // than guess at the AAD encoding.
    if (has(f[i], CONTEXT, 1)) throw unsupported('authenticated attributes in AuthEnvelopedData');
    tag = octets(f[i++], UNIVERSAL, T.OCTETSTRING, 'AuthEnvelopedData mac');
    if (has(f[i], CONTEXT, 2)) i++;
  } else if (has(f[i], CONTEXT, 1)) {
    i++;
  }
  if (i !== f.length) throw malformed(`${name} has unexpected trailing fields`);

  const recipients: KeyTransRecipient[] = [];
  let otherRecipients = 0;
  for (const ri of infos) {
    const cls = ri.tagClass as number;
    // KeyTransRecipientInfo is the only untagged RecipientInfo choice; [1]..[4] are the others.
    if (has(ri, UNIVERSAL, T.SEQUENCE)) recipients.push(walkKeyTrans(ri));
    else if (cls === CONTEXT) otherRecipients++;
    else throw malformed('a RecipientInfo has an unknown form');
  }
  if (recipients.length + otherRecipients === 0) throw malformed(`${name} has no recipients`);

  return {
    contentType: auth ? 'authEnvelopedData' : 'envelopedData',
    recipients,
    otherRecipients,
    content: walkEncryptedContent(eci, auth, tag),
  };
}

// KeyTransRecipientInfo ::= SEQUENCE { version, rid, keyEncryptionAlgorithm, encryptedKey }
// rid ::= CHOICE { issuerAndSerialNumber SEQUENCE { Name, INTEGER }, subjectKeyIdentifier [0] }
function walkKeyTrans(ri: Asn1): KeyTransRecipient {
  const f = kids(ri, UNIVERSAL, T.SEQUENCE, 'KeyTransRecipientInfo');
  if (f.length !== 4) throw malformed('KeyTransRecipientInfo must have four fields');
  smallInteger(f[0], 'KeyTransRecipientInfo version');
  let rid: RecipientId;
  if (has(f[1], UNIVERSAL, T.SEQUENCE)) {
    const ias = kids(f[1], UNIVERSAL, T.SEQUENCE, 'issuerAndSerialNumber');
    if (ias.length !== 2) throw malformed('issuerAndSerialNumber must have two fields');
    kids(ias[0], UNIVERSAL, T.SEQUENCE, 'recipient issuer');
    rid = {
      kind: 'issuerAndSerialNumber',
      issuer: nameDer(ias[0] as Asn1),
      serial: integerBytes(ias[1], 'recipient serial number'),
    };
  } else {
    rid = { kind: 'subjectKeyIdentifier', keyId: octets(f[1], CONTEXT, 0, 'recipient subjectKeyIdentifier') };
  }
  const alg = algorithm(f[2], 'keyEncryptionAlgorithm');
  return {
    rid,
    keyTransport: keyTransport(alg.oid, alg.params),
    encryptedKey: octets(f[3], UNIVERSAL, T.OCTETSTRING, 'encryptedKey'),
  };
}

function keyTransport(algOid: string, params: Asn1 | undefined): KeyTransport {
  if (algOid === OID.rsaEncryption) {
    if (!absentOrNull(params)) throw malformed('rsaEncryption parameters must be NULL');
    return { kind: 'rsaes-pkcs1-v1_5' };
  }
  if (algOid === OID.rsaesOaep) return oaepParameters(params);
  return { kind: 'unsupported', description: `key transport algorithm ${algOid}` };
}

// RSAES-OAEP-params ::= SEQUENCE { hashAlgorithm [0] DEFAULT sha1, maskGenAlgorithm [1] DEFAULT
//   mgf1SHA1, pSourceAlgorithm [2] DEFAULT pSpecifiedEmpty } (RFC 8017 A.2.1; openssl writes an
//   empty SEQUENCE for the all-default case, some encoders omit the parameters entirely)
function oaepParameters(params: Asn1 | undefined): KeyTransport {
  let hash: OaepHash = 'sha1';
  let mgf1Hash: OaepHash = 'sha1';
  let label: Buffer = Buffer.alloc(0);
  if (absentOrNull(params)) return { kind: 'rsaes-oaep', hash, mgf1Hash, label };
  for (const field of kids(params, UNIVERSAL, T.SEQUENCE, 'RSAES-OAEP parameters')) {
    if ((field.tagClass as number) !== CONTEXT || !field.constructed) throw malformed('RSAES-OAEP parameters are malformed');
    const inner = kids(field, CONTEXT, field.type as number, 'RSAES-OAEP parameter');
    if (inner.length !== 1) throw malformed('an RSAES-OAEP parameter must hold one AlgorithmIdentifier');
    const alg = algorithm(inner[0], 'RSAES-OAEP parameter');
    switch (field.type as number) {
      case 0: {
        const h = HASHES[alg.oid];
        if (h === undefined) return { kind: 'unsupported', description: `RSAES-OAEP with hash ${alg.oid}` };
        hash = h;
        break;
      }
      case 1: {
        if (alg.oid !== OID.mgf1) return { kind: 'unsupported', description: `RSAES-OAEP with mask generation ${alg.oid}` };
        const h = HASHES[algorithm(alg.params, 'MGF1 hash').oid];
        if (h === undefined) return { kind: 'unsupported', description: 'RSAES-OAEP with an unknown MGF1 hash' };
        mgf1Hash = h;
        break;
      }
      case 2:
        if (alg.oid !== OID.pSpecified) return { kind: 'unsupported', description: `RSAES-OAEP with label source ${alg.oid}` };
        label = alg.params === undefined ? Buffer.alloc(0) : octets(alg.params, UNIVERSAL, T.OCTETSTRING, 'RSAES-OAEP label');
        break;
      default:
        throw malformed('RSAES-OAEP parameters have an unknown field');
    }
  }
  return { kind: 'rsaes-oaep', hash, mgf1Hash, label };
}

// EncryptedContentInfo ::= SEQUENCE { contentType, contentEncryptionAlgorithm,
//                                     encryptedContent [0] IMPLICIT OCTET STRING OPTIONAL }
function walkEncryptedContent(node: Asn1 | undefined, auth: boolean, tag: Buffer | undefined): ContentEncryption {
  const f = kids(node, UNIVERSAL, T.SEQUENCE, 'EncryptedContentInfo');
  if (f.length < 2 || f.length > 3) throw malformed('EncryptedContentInfo must have two or three fields');
  const inner = oid(f[0], 'encrypted content type');
  if (inner !== OID.data) throw unsupported(`encrypted content of type ${inner} instead of id-data`);
  const alg = algorithm(f[1], 'contentEncryptionAlgorithm');
  if (f[2] === undefined) throw unsupported('detached encrypted content');
  const ciphertext = octets(f[2], CONTEXT, 0, 'encryptedContent');

  const spec = CIPHERS[alg.oid];
  if (spec === undefined) throw unsupported(`content encryption algorithm ${alg.oid}`);
  if ((spec.mode === 'gcm') !== auth) {
    throw malformed(auth ? `AuthEnvelopedData must use AES-GCM, not ${spec.name}` : `${spec.name} requires AuthEnvelopedData`);
  }
  if (spec.mode === 'cbc') {
    if (!has(alg.params, UNIVERSAL, T.OCTETSTRING)) throw malformed(`${spec.name} IV is missing`);
    const iv = octets(alg.params, UNIVERSAL, T.OCTETSTRING, `${spec.name} IV`);
    if (iv.length !== spec.ivLength) throw malformed(`${spec.name} IV has ${iv.length} bytes instead of ${spec.ivLength}`);
    return { cipher: spec.name, mode: 'cbc', keyLength: spec.keyLength, iv, ciphertext };
  }
  // GCMParameters ::= SEQUENCE { aes-nonce OCTET STRING, aes-ICVlen INTEGER DEFAULT 12 }
  const p = kids(alg.params, UNIVERSAL, T.SEQUENCE, 'GCM parameters');
  if (p.length < 1 || p.length > 2) throw malformed('GCM parameters must have one or two fields');
  const iv = octets(p[0], UNIVERSAL, T.OCTETSTRING, 'GCM nonce');
  const icvLength = p[1] === undefined ? 12 : smallInteger(p[1], 'GCM tag length');
  if (iv.length === 0 || iv.length > 64) throw malformed(`GCM nonce has ${iv.length} bytes`);
  if (icvLength < 12 || icvLength > 16) throw malformed(`GCM tag length ${icvLength} is not 12..16`);
  if (tag === undefined || tag.length !== icvLength) throw malformed('AuthEnvelopedData mac does not have the declared tag length');
  return { cipher: spec.name, mode: 'gcm', keyLength: spec.keyLength, iv, ciphertext, tag };
}

// forge re-encodes a parsed node canonically, so the recipient's issuer and the certificate's
// issuer are compared in the same normal form even if one side was BER.
function nameDer(name: Asn1): Buffer {
  return bin(asn1.toDer(name).getBytes());
}

/** Issuer, serial and key identifiers of a DER certificate, for {@link findRecipient}. */
export function certificateIdentity(certDer: Uint8Array): CertificateIdentity {
  let cert: Asn1;
  try {
    cert = fromDer(util.createBuffer(Buffer.from(certDer.buffer, certDer.byteOffset, certDer.byteLength).toString('binary')), DER_OPTIONS);
  } catch (e) {
    throw new DecryptError('ENOCERT', `the certificate is not valid DER (${errorText(e)})`, e);
  }
  try {
    // TBSCertificate ::= SEQUENCE { version [0] OPT, serialNumber, signature, issuer, validity,
    //   subject, subjectPublicKeyInfo, issuerUniqueID [1] OPT, subjectUniqueID [2] OPT, extensions [3] OPT }
    const tbs = kids(kids(cert, UNIVERSAL, T.SEQUENCE, 'Certificate')[0], UNIVERSAL, T.SEQUENCE, 'TBSCertificate');
    const o = has(tbs[0], CONTEXT, 0) ? 1 : 0;
    const serial = integerBytes(tbs[o], 'certificate serial number');
    kids(tbs[o + 2], UNIVERSAL, T.SEQUENCE, 'certificate issuer');
    const issuer = nameDer(tbs[o + 2] as Asn1);
    const spki = kids(tbs[o + 5], UNIVERSAL, T.SEQUENCE, 'SubjectPublicKeyInfo');
    const keyBits = bin(prim(spki[1], UNIVERSAL, T.BITSTRING, 'subjectPublicKey'));

    const subjectKeyIds: Buffer[] = [];
    const ext = tbs.slice(o + 6).find((n) => has(n, CONTEXT, 3));
    if (ext !== undefined) {
      for (const e of kids(kids(ext, CONTEXT, 3, 'extensions')[0], UNIVERSAL, T.SEQUENCE, 'extensions')) {
        const ef = kids(e, UNIVERSAL, T.SEQUENCE, 'extension');
        if (oid(ef[0], 'extension id') !== OID.subjectKeyIdentifier) continue;
        const value = ef[ef.length - 1];
        const inner = fromDer(util.createBuffer(prim(value, UNIVERSAL, T.OCTETSTRING, 'extension value')), DER_OPTIONS);
        subjectKeyIds.push(bin(prim(inner, UNIVERSAL, T.OCTETSTRING, 'subjectKeyIdentifier')));
      }
    }
    // RFC 5280 4.2.1.2 method (1): SHA-1 of the BIT STRING's bits, without the unused-bits octet.
    // Also what openssl computes, so a sender that derives the SKI itself for the platform's
    // extension-less tenant certificate still finds us.
    subjectKeyIds.push(createHash('sha1').update(keyBits.subarray(1)).digest());
    return { issuer, serial, subjectKeyIds };
  } catch (e) {
    if (e instanceof DecryptError && e.code === 'ENOCERT') throw e;
    throw new DecryptError('ENOCERT', 'the certificate is not a well-formed X.509 certificate', e);
  }
}

/** The first KeyTransRecipientInfo addressed to the certificate, by issuer+serial or key id. */
export function findRecipient(envelope: CmsEnvelope, cert: CertificateIdentity): KeyTransRecipient | undefined {
  for (const r of envelope.recipients) {
    const rid = r.rid;
    if (rid.kind === 'issuerAndSerialNumber') {
      if (rid.serial.equals(cert.serial) && rid.issuer.equals(cert.issuer)) return r;
    } else if (cert.subjectKeyIds.some((id) => id.equals(rid.keyId))) {
      return r;
    }
  }
  return undefined;
}

/** Describes the recipients for an error message (serials and key ids are public). */
export function describeRecipients(envelope: CmsEnvelope): string {
  const parts = envelope.recipients.map((r) =>
    r.rid.kind === 'issuerAndSerialNumber'
      ? `certificate serial ${r.rid.serial.toString('hex').toUpperCase()}`
      : `subject key id ${r.rid.keyId.toString('hex').toUpperCase()}`,
  );
  if (envelope.otherRecipients > 0) parts.push(`${envelope.otherRecipients} key-agreement/KEK/password recipient(s)`);
  return parts.join(', ');
}

/**
 * Decrypts the content with the recovered content-encryption key. Returns only after the padding
 * (CBC) or tag (GCM) checked out: OpenSSL hands out GCM plaintext before verifying the tag, which
 * is why nothing from update() is returned on failure.
 */
export function decryptContent(content: ContentEncryption, cek: Buffer): Buffer {
  if (cek.length !== content.keyLength) {
    throw new DecryptError(
      'EKEYTRANSPORT',
      `the recovered content-encryption key has the wrong length for ${content.cipher}; the private key does not fit this blob`,
    );
  }
  let head: Buffer | undefined;
  try {
    if (content.mode === 'gcm') {
      const tag = content.tag ?? Buffer.alloc(0);
      const d = createDecipheriv(content.cipher as CipherGCMTypes, cek, content.iv, { authTagLength: tag.length });
      d.setAuthTag(tag);
      head = d.update(content.ciphertext);
      return Buffer.concat([head, d.final()]);
    }
    const d = createDecipheriv(content.cipher, cek, content.iv);
    head = d.update(content.ciphertext);
    return Buffer.concat([head, d.final()]);
  } catch (e) {
    head?.fill(0);
    const check = content.mode === 'gcm' ? 'authentication tag' : 'padding';
    throw new DecryptError(
      'EDECRYPT',
      `protectedSettings did not decrypt: the ${check} of the ${content.cipher} content is wrong, so the blob was corrupted in ` +
        'transit or storage. Re-apply the extension settings to have the platform encrypt them again.',
      e,
    );
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
