import { createHash } from 'node:crypto';

/**
 * The short SHA-256 the dry run shows for a file's content that is no secret (daemon.json, the
 * drop-in). Certificates are shown by their X.509 fingerprint (crypto/fingerprint.ts); a key or a
 * password is never hashed into any output.
 */
export function sha256Prefix(data: string | Buffer, n = 12): string {
  return createHash('sha256').update(data).digest('hex').slice(0, n);
}
