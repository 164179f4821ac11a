import { DecryptError } from '../../handler/crypto/decrypt-error.js';

/** The DecryptError code `fn` throws, or 'no error'; anything else is rethrown as a test failure. */
export function decryptErrorCode(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof DecryptError) return e.code;
    throw e;
  }
  return 'no error';
}
