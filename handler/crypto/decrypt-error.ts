import { HandlerError, type ErrorCategory } from '../errors.js';

/**
 * Why protectedSettings could not be turned into text.
 *
 * - EBADBASE64   the settings value is not strict base64
 * - EBADASN1     the decoded bytes are not a well-formed CMS message (truncated, trailing bytes, …)
 * - EUNSUPPORTED well-formed CMS, but an algorithm or structure this handler does not implement
 * - ENORECIPIENT the message is not encrypted to the certificate named by the thumbprint
 * - EBADKEY      the private key file cannot be used (unparsable, encrypted, not RSA)
 * - EKEYTRANSPORT the content-encryption key could not be recovered with our private key
 * - EDECRYPT     the content did not decrypt (bad padding or authentication tag)
 * - EUTF8        the decrypted bytes are not UTF-8 text
 * - ENOCERT      the certificate/key files are missing, unreadable or not the named certificate
 */
export type DecryptErrorCode =
  | 'EBADBASE64'
  | 'EBADASN1'
  | 'EUNSUPPORTED'
  | 'ENORECIPIENT'
  | 'EBADKEY'
  | 'EKEYTRANSPORT'
  | 'EDECRYPT'
  | 'EUTF8'
  | 'ENOCERT';

// The blob, the certificate files and the key are produced by the platform and the guest agent,
// never typed by the admin, so a failure there is the machine's problem. Only the plaintext is the
// admin's own input: settings that decrypt fine but are not UTF-8 text are theirs to fix.
const CATEGORY: Readonly<Record<DecryptErrorCode, ErrorCategory>> = {
  EBADBASE64: 'system',
  EBADASN1: 'system',
  EUNSUPPORTED: 'system',
  ENORECIPIENT: 'system',
  EBADKEY: 'system',
  EKEYTRANSPORT: 'system',
  EDECRYPT: 'system',
  EUTF8: 'user',
  ENOCERT: 'system',
};

/**
 * The only error decryption throws. Messages go into the status file the admin reads, so they say
 * what to do next and never carry plaintext, key material or the content-encryption key; `cause`
 * holds the underlying library error for the log.
 */
export class DecryptError extends HandlerError {
  declare readonly code: DecryptErrorCode;

  constructor(code: DecryptErrorCode, message: string, cause?: unknown) {
    super(message, { code, category: CATEGORY[code], cause });
  }
}

export const isDecryptError = (e: unknown): e is DecryptError => e instanceof DecryptError;
