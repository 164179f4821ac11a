import { X509Certificate, createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { certificateIdentity, decryptContent, describeRecipients, findRecipient, parseCms, type CertificateIdentity } from './cms.js';
import { DecryptError } from './decrypt-error.js';
import { recoverContentKey } from './rsa.js';

const REFRESH_CERTIFICATES =
  "The VM's certificates may be out of sync with its settings: restart the guest agent (systemctl restart walinuxagent, " +
  'or waagent on RHEL/SUSE) so it downloads them again, or reapply the VM (az vm reapply), then retry.';

const REAPPLY_SETTINGS = 'Re-apply the extension settings to have the platform encrypt them again.';

/**
 * Decrypts the agent's `protectedSettings` value (base64 of a DER CMS EnvelopedData or
 * AuthEnvelopedData) with the waagent certificate and private key named by
 * `protectedSettingsCertThumbprint`, and returns the plaintext as text (normally JSON, not parsed
 * here).
 *
 * Throws a DecryptError on every failure and returns nothing partial: CBC has no integrity, so
 * bytes that merely decrypted are not trustworthy until padding, tag and UTF-8 all checked out.
 * Callers must still validate the JSON strictly, since a tampered IV yields different valid text.
 */
export function decryptProtectedSettings(base64: string, certPem: string, keyPem: string): string {
  try {
    return decrypt(base64, certPem, keyPem);
  } catch (e) {
    if (e instanceof DecryptError) throw e;
    throw new DecryptError('EDECRYPT', 'protectedSettings could not be decrypted (unexpected internal failure)', e);
  }
}

function decrypt(base64: string, certPem: string, keyPem: string): string {
  const envelope = parseCms(decodeBase64(base64));
  const cert = readCertificate(certPem);
  const key = readPrivateKey(keyPem, cert.thumbprint);

  const recipient = findRecipient(envelope, cert.identity);
  if (recipient === undefined) {
    throw new DecryptError(
      'ENORECIPIENT',
      `protectedSettings is not encrypted for certificate ${cert.thumbprint} (it is addressed to ${describeRecipients(envelope)}). ` +
        REFRESH_CERTIFICATES,
    );
  }

  let cek: Buffer;
  try {
    cek = recoverContentKey(key, recipient.keyTransport, recipient.encryptedKey, envelope.content.keyLength);
  } catch (e) {
    if (e instanceof DecryptError && e.code === 'EKEYTRANSPORT') throw keyTransportError(cert, key, e);
    throw e;
  }

  let plain: Buffer;
  try {
    plain = decryptContent(envelope.content, cek);
  } finally {
    cek.fill(0);
  }

  try {
    const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(plain);
    // .NET writes a BOM when settings pass through a UTF-8 StreamWriter; JSON.parse rejects it.
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  } catch (e) {
    throw new DecryptError(
      'EUTF8',
      'protectedSettings decrypted, but the result is not UTF-8 text. Protected settings must be a JSON object in UTF-8; ' +
        `if they are, the blob was corrupted: ${REAPPLY_SETTINGS}`,
      e,
    );
  } finally {
    plain.fill(0);
  }
}

/**
 * Strict base64: Buffer.from(s, 'base64') silently skips invalid characters and accepts missing
 * padding, which would turn a damaged settings file into a confusing ASN.1 error further on.
 */
function decodeBase64(value: string): Buffer {
  if (typeof value !== 'string') throw new DecryptError('EBADBASE64', 'protectedSettings is not a string');
  const compact = value.replace(/\s+/g, '');
  if (compact.length === 0) throw new DecryptError('EBADBASE64', 'protectedSettings is empty');
  const invalidAt = compact.search(/[^A-Za-z0-9+/=]/);
  if (invalidAt >= 0) {
    // Only the offset: the value might be plaintext someone pasted here by mistake.
    throw new DecryptError('EBADBASE64', `protectedSettings is not base64: invalid character at offset ${invalidAt}. ${REAPPLY_SETTINGS}`);
  }
  if (compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) {
    throw new DecryptError('EBADBASE64', `protectedSettings is not base64: bad length or padding (truncated?). ${REAPPLY_SETTINGS}`);
  }
  const der = Buffer.from(compact, 'base64');
  if (der.toString('base64') !== compact) {
    throw new DecryptError('EBADBASE64', `protectedSettings is not canonical base64 (non-zero padding bits). ${REAPPLY_SETTINGS}`);
  }
  return der;
}

interface Certificate {
  x509: X509Certificate;
  thumbprint: string;
  identity: CertificateIdentity;
}

function readCertificate(pem: string): Certificate {
  let x509: X509Certificate;
  try {
    // Skips the "Bag Attributes" lines waagent leaves in front of -----BEGIN CERTIFICATE-----.
    x509 = new X509Certificate(pem);
  } catch (e) {
    throw new DecryptError('ENOCERT', `the certificate file is not a PEM X.509 certificate. ${REFRESH_CERTIFICATES}`, e);
  }
  const thumbprint = createHash('sha1').update(x509.raw).digest('hex').toUpperCase();
  return { x509, thumbprint, identity: certificateIdentity(x509.raw) };
}

function readPrivateKey(pem: string, thumbprint: string): KeyObject {
  // Detected up front: without a passphrase OpenSSL only says "interrupted or cancelled".
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(pem) || /Proc-Type:\s*4,ENCRYPTED/.test(pem)) {
    throw new DecryptError(
      'EBADKEY',
      `the private key of certificate ${thumbprint} is encrypted with a passphrase. The guest agent writes <thumbprint>.prv ` +
        `unencrypted; something replaced the file. ${REFRESH_CERTIFICATES}`,
    );
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch (e) {
    throw new DecryptError(
      'EBADKEY',
      `the private key file of certificate ${thumbprint} is not a readable PEM private key (PKCS#8 or PKCS#1). ${REFRESH_CERTIFICATES}`,
      e,
    );
  }
  if (key.asymmetricKeyType !== 'rsa') {
    throw new DecryptError(
      'EBADKEY',
      `the private key of certificate ${thumbprint} is a ${key.asymmetricKeyType ?? 'non-RSA'} key; protected settings need RSA. ` +
        REFRESH_CERTIFICATES,
    );
  }
  return key;
}

// Only reached after a failure, so the extra key comparison costs nothing on the normal path and
// turns "could not recover the key" into which of the two files to blame.
function keyTransportError(cert: Certificate, key: KeyObject, cause: DecryptError): DecryptError {
  let matches: boolean;
  try {
    const ours = createPublicKey(key).export({ type: 'spki', format: 'der' });
    matches = ours.equals(cert.x509.publicKey.export({ type: 'spki', format: 'der' }));
  } catch {
    matches = false;
  }
  const message = matches
    ? `the content-encryption key for certificate ${cert.thumbprint} could not be recovered although the private key ` +
      `matches the certificate, so the blob is corrupted. ${REAPPLY_SETTINGS}`
    : `the private key file does not belong to certificate ${cert.thumbprint} (the .prv and .crt files do not match). ` +
      REFRESH_CERTIFICATES;
  return new DecryptError('EKEYTRANSPORT', message, cause);
}
