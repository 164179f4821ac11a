import { X509Certificate } from 'node:crypto';

// Every certificate fingerprint the handler shows (status, dry run, heartbeat, logs) is the X.509
// SHA-256 fingerprint: the hash of the certificate's DER encoding, as colon-separated upper-case
// hex, exactly what `openssl x509 -noout -fingerprint -sha256 -in cert.pem` prints after
// "sha256 Fingerprint=". An admin compares it with their own file without anything else.
// Private keys and passwords are never fingerprinted: a key is named by the certificate it
// belongs to, a password only as "set".

/** How a fingerprint is introduced wherever it is shown, so that nobody takes it for a file hash. */
export const FINGERPRINT_LABEL = 'SHA-256 fingerprint';

/** The X.509 SHA-256 fingerprint of the first certificate in `pem`; undefined when it holds none. */
export function certificateFingerprint(pem: string | Buffer): string | undefined {
  try {
    return new X509Certificate(pem).fingerprint256;
  } catch {
    return undefined;
  }
}

/** "SHA-256 fingerprint AB:CD:…", or a clause saying the value is not a certificate. */
export function describeFingerprint(pem: string | Buffer): string {
  const fp = certificateFingerprint(pem);
  return fp ? `${FINGERPRINT_LABEL} ${fp}` : 'not a readable certificate';
}
