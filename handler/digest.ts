import { createHash } from 'node:crypto';

/**
 * The short SHA-256 the handler shows instead of a secret or a file's content. One function, so
 * the status ("key sha256:…") and the dry-run plan ("sha256 …") print the same value for the
 * same key and an admin can match them.
 */
export function sha256Prefix(data: string | Buffer, n = 12): string {
  return createHash('sha256').update(data).digest('hex').slice(0, n);
}
