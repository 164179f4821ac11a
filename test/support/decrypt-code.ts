import { DecryptError } from '../../handler/crypto/decrypt-error.js';
import { decryptProtectedSettings } from '../../handler/crypto/protected-settings.js';

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

/**
 * `ok:<plaintext>` or `error:<DecryptError code>`: one case's verdict as the shipped-runtime
 * suites compare it between Node 20 and a packaged Node (test/support/decrypt-driver.ts).
 */
export function decryptVerdict(blob: string, certPem: string, keyPem: string): string {
  let plaintext = '';
  const code = decryptErrorCode(() => {
    plaintext = decryptProtectedSettings(blob, certPem, keyPem);
  });
  return code === 'no error' ? `ok:${plaintext}` : `error:${code}`;
}
