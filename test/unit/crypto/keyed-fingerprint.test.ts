// The keyed fingerprint of secret values (the login and compose records): equal values under the
// same salt match, anything else does not, and the fingerprint is not the plain hash.
import { describe, expect, test } from '@jest/globals';
import { createHash, createHmac } from 'node:crypto';
import { isSalt, keyedFingerprint, matchesFingerprint, newSalt } from '../../../handler/crypto/keyed-fingerprint.js';

describe('keyed fingerprint', () => {
  const salt = newSalt();
  const value = ['registry.example:5000', 'admin', 'hunter2'];

  test('a new salt is 32 random bytes in hex, different each time', () => {
    expect(isSalt(salt)).toBe(true);
    expect(newSalt()).not.toBe(salt);
    expect(isSalt('xyz')).toBe(false);
    expect(isSalt(undefined)).toBe(false);
  });

  test('HMAC-SHA256 of the JSON under the salt, never the plain hash', () => {
    const fp = keyedFingerprint(salt, value);
    expect(fp).toBe(createHmac('sha256', Buffer.from(salt, 'hex')).update(JSON.stringify(value)).digest('hex'));
    expect(fp).not.toBe(createHash('sha256').update(JSON.stringify(value)).digest('hex'));
  });

  test('matches the same value under the same salt only', () => {
    const fp = keyedFingerprint(salt, value);
    expect(matchesFingerprint(salt, value, fp)).toBe(true);
    expect(matchesFingerprint(salt, ['registry.example:5000', 'admin', 'hunter3'], fp)).toBe(false);
    expect(matchesFingerprint(newSalt(), value, fp)).toBe(false);
    expect(matchesFingerprint(salt, value, 'not hex')).toBe(false);
  });
});
