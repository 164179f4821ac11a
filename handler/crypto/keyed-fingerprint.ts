// A fingerprint of secret values that shows whether they changed without telling what they are:
// HMAC-SHA256 under a random salt kept in the same 0600 record, so that a plain hash of a short
// password cannot be looked up or guessed offline from the record alone. Used by the records of
// the registry login and of the compose environment.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const SALT_RE = /^[0-9a-f]{64}$/;

/** A new salt: 32 random bytes, hex. */
export function newSalt(): string {
  return randomBytes(32).toString('hex');
}

export function isSalt(v: unknown): v is string {
  return typeof v === 'string' && SALT_RE.test(v);
}

/** HMAC-SHA256 of the JSON of `value` under `salt` (hex), hex. */
export function keyedFingerprint(salt: string, value: unknown): string {
  return createHmac('sha256', Buffer.from(salt, 'hex')).update(JSON.stringify(value)).digest('hex');
}

/** `fingerprint` is `value`'s under `salt` (compared in constant time). */
export function matchesFingerprint(salt: string, value: unknown, fingerprint: string): boolean {
  const want = Buffer.from(keyedFingerprint(salt, value), 'hex');
  const have = Buffer.from(fingerprint, 'hex');
  return want.length === have.length && timingSafeEqual(want, have);
}
