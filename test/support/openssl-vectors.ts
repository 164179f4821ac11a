// Test vectors made by the openssl CLI at test time, the way the platform and the guest agent make
// them, so no private key is ever committed and the decryptor is checked against an independent
// implementation. Used by the crypto unit tests and by system tests that lay out a fake
// /var/lib/waagent.
//
//   const pair = await makeWaagentCertificate(path.join(root, 'var/lib/waagent'));
//   const blob = await encryptLikePlatform('{"a":1}', pair.crtPath);   // N.settings protectedSettings
//   // settings.protectedSettingsCertThumbprint = pair.thumbprint
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

export const OPENSSL = '/usr/bin/openssl';

/** What {@link makeWaagentCertificate} wrote. */
export interface WaagentCertificate {
  /** Uppercase hex SHA-1 of the DER certificate, computed by `openssl x509 -fingerprint`. */
  thumbprint: string;
  /** `<dir>/<THUMBPRINT>.crt`: "Bag Attributes" preamble + PEM certificate, mode 0400. */
  crtPath: string;
  /** `<dir>/<THUMBPRINT>.prv`: "Bag Attributes" preamble + unencrypted PKCS#8 PEM key, mode 0400. */
  prvPath: string;
  /** The exact contents of crtPath. */
  certPem: string;
  /** The exact contents of prvPath. */
  keyPem: string;
}

export interface EncryptOptions {
  /** Content cipher; default 'des3' (des-ede3-cbc, what the platform sends today). 'aes128-gcm' makes AuthEnvelopedData. */
  cipher?: 'des3' | 'aes128' | 'aes192' | 'aes256' | 'aes128-gcm';
  /** RSAES-OAEP key transport with this hash (and the same MGF1 hash); default RSA PKCS#1 v1.5. */
  oaep?: 'sha1' | 'sha256';
  /** Identify recipients by subjectKeyIdentifier (RecipientInfo v2) instead of issuer and serial. */
  keyid?: boolean;
  /**
   * Certificates (PEM paths) that also receive the key. DER sorts the SET OF RecipientInfo by
   * encoding, so argument order does not decide position: to put ours second, make ours the longer
   * encoding (e.g. ours RSA-4096, the extra RSA-2048).
   */
  extraRecipients?: string[];
}

/**
 * Runs /usr/bin/openssl with `args`, feeding `input` on stdin, and resolves with stdout.
 * Rejects with openssl's stderr when it exits non-zero.
 */
export function runOpenssl(args: readonly string[], input?: string | Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = execFile(OPENSSL, args, { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`openssl ${args.join(' ')} failed: ${stderr.toString('utf8').trim() || err.message}`));
      else resolve(stdout);
    });
    // openssl may exit before reading stdin (e.g. on a bad argument); that is reported above.
    child.stdin?.on('error', () => {});
    child.stdin?.end(input ?? '');
  });
}

/**
 * Creates a certificate and key in `dir` exactly as waagent leaves them in /var/lib/waagent: a
 * self-signed RSA certificate with the platform's subject (DC=Windows Azure CRP Certificate
 * Generator), passed through a PFX and `openssl pkcs12 -nodes` like the agent's
 * Certificates.pfx, then split at the END lines so each file keeps its "Bag Attributes" text.
 * Files are named `<THUMBPRINT>.crt` / `.prv` and made 0400.
 *
 * Unlike the real tenant certificate (which has no extensions at all) this one carries openssl's
 * default extensions, including subjectKeyIdentifier, so `encryptLikePlatform(..., {keyid: true})`
 * works with it. A 4096-bit key takes about a second to generate; 2048 bits (default) ~0.1 s.
 */
export async function makeWaagentCertificate(dir: string, opts: { bits?: 2048 | 4096 } = {}): Promise<WaagentCertificate> {
  const scratch = await mkdtemp(path.join(tmpdir(), 'waagent-cert-'));
  try {
    const key = path.join(scratch, 'key.pem');
    const crt = path.join(scratch, 'crt.pem');
    const pfx = path.join(scratch, 'Certificates.pfx');
    await runOpenssl([
      'req', '-x509', '-newkey', `rsa:${opts.bits ?? 2048}`, '-nodes', '-days', '3650', '-sha256',
      '-subj', '/DC=Windows Azure CRP Certificate Generator', '-keyout', key, '-out', crt,
    ]);
    await runOpenssl(['pkcs12', '-export', '-in', crt, '-inkey', key, '-name', 'TenantEncryptionCert', '-passout', 'pass:', '-out', pfx]);
    const [pem, fingerprint] = await Promise.all([
      runOpenssl(['pkcs12', '-in', pfx, '-nodes', '-password', 'pass:']),
      runOpenssl(['x509', '-in', crt, '-noout', '-fingerprint', '-sha1']),
    ]);
    // waagent: thumbprint = `openssl x509 -fingerprint` value without colons, uppercased.
    const thumbprint = (fingerprint.toString('utf8').trim().split('=')[1] ?? '').replace(/:/g, '').toUpperCase();
    const { certPem, keyPem } = splitLikeWaagent(pem.toString('utf8'));

    await mkdir(dir, { recursive: true });
    const crtPath = path.join(dir, `${thumbprint}.crt`);
    const prvPath = path.join(dir, `${thumbprint}.prv`);
    for (const [file, text] of [[crtPath, certPem], [prvPath, keyPem]] as const) {
      await rm(file, { force: true });
      await writeFile(file, text, { mode: 0o400 });
      await chmod(file, 0o400); // the umask may have narrowed it further; the agent's mode is exact
    }
    return { thumbprint, crtPath, prvPath, certPem, keyPem };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

// WALinuxAgent Certificates._extract_certificate: everything since the previous cut belongs to the
// block whose END line comes next, so the Bag Attributes/subject=/issuer= lines travel along.
function splitLikeWaagent(pem: string): { certPem: string; keyPem: string } {
  let buf = '';
  let certPem: string | undefined;
  let keyPem: string | undefined;
  for (const line of pem.split('\n')) {
    if (line === '' && buf === '') continue;
    buf += `${line}\n`;
    if (/^-+END .*KEY-+/.test(line)) {
      keyPem ??= buf;
      buf = '';
    } else if (/^-+END .*CERTIFICATE-+/.test(line)) {
      certPem ??= buf;
      buf = '';
    }
  }
  if (certPem === undefined || keyPem === undefined) throw new Error('openssl pkcs12 output has no certificate or no key');
  return { certPem, keyPem };
}

const CIPHER_FLAG: Readonly<Record<NonNullable<EncryptOptions['cipher']>, string>> = {
  des3: '-des3',
  aes128: '-aes128',
  aes192: '-aes192',
  aes256: '-aes256',
  'aes128-gcm': '-aes-128-gcm',
};

/**
 * Encrypts `plaintext` (a string is UTF-8 encoded; bytes are used as they are) to the certificate
 * at `crtPath` with `openssl cms -encrypt -binary`, and returns the DER as one line of base64,
 * i.e. what the agent puts in `protectedSettings`. With no options the shape is the platform's:
 * EnvelopedData, issuerAndSerialNumber, RSA PKCS#1 v1.5, des-ede3-cbc.
 */
export async function encryptLikePlatform(plaintext: string | Uint8Array, crtPath: string, opts: EncryptOptions = {}): Promise<string> {
  const args = ['cms', '-encrypt', '-binary', '-outform', 'DER', CIPHER_FLAG[opts.cipher ?? 'des3']];
  if (opts.keyid) args.push('-keyid');
  for (const extra of opts.extraRecipients ?? []) args.push('-recip', extra);
  args.push('-recip', crtPath);
  // -keyopt applies to the -recip just before it, i.e. ours only.
  if (opts.oaep !== undefined) {
    args.push('-keyopt', 'rsa_padding_mode:oaep', '-keyopt', `rsa_oaep_md:${opts.oaep}`, '-keyopt', `rsa_mgf1_md:${opts.oaep}`);
  }
  const der = await runOpenssl(args, plaintext);
  return der.toString('base64');
}
