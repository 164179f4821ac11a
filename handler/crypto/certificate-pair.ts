import { X509Certificate, createHash } from 'node:crypto';
import * as path from 'node:path';
import { decodeUtf8, UnsafePathError } from '../system/fs.js';
import { READ_LIMITS, type ReadFileSystem } from '../system/ports.js';
import { DecryptError } from './decrypt-error.js';

export interface CertificatePair {
  certPem: string;
  keyPem: string;
  /** Uppercase hex SHA-1 of the DER certificate, as in the settings and the file names. */
  thumbprint: string;
}

const THUMBPRINT = /^[0-9A-Fa-f]{40}$/;

const RESYNC =
  "The VM's certificates may be out of sync with its settings: restart the guest agent (systemctl restart walinuxagent, " +
  'or waagent on RHEL/SUSE) so it downloads them again, or reapply the VM (az vm reapply), then retry.';

/**
 * Reads the certificate and key the guest agent stored for `thumbprint`: `<certDir>/<THUMB>.crt`
 * and `.prv` (certDir is normally /var/lib/waagent, two levels above the config folder).
 *
 * The thumbprint comes from the settings file, so it is checked before it becomes part of a path,
 * and the certificate is checked to really be the one the thumbprint names.
 */
export async function loadCertificatePair(fs: ReadFileSystem, certDir: string, thumbprint: string): Promise<CertificatePair> {
  if (typeof thumbprint !== 'string' || !THUMBPRINT.test(thumbprint)) {
    const shown = typeof thumbprint === 'string' ? JSON.stringify(thumbprint.slice(0, 64)) : typeof thumbprint;
    throw new DecryptError(
      'ENOCERT',
      `protectedSettingsCertThumbprint ${shown} is not a 40-digit hexadecimal SHA-1 thumbprint. The settings file written by ` +
        `the guest agent is damaged; ${RESYNC}`,
    );
  }
  const tp = thumbprint.toUpperCase();
  const [certPem, keyPem] = await Promise.all([readPairFile(fs, certDir, `${tp}.crt`), readPairFile(fs, certDir, `${tp}.prv`)]);
  const missing = [certPem === undefined ? `${tp}.crt` : undefined, keyPem === undefined ? `${tp}.prv` : undefined].filter(
    (f): f is string => f !== undefined,
  );
  if (certPem === undefined || keyPem === undefined) {
    throw new DecryptError(
      'ENOCERT',
      `cannot find certificate ${tp}, which protects the settings: ${missing.join(' and ')} ` +
        `${missing.length > 1 ? 'are' : 'is'} missing in ${certDir}. ${RESYNC}`,
    );
  }
  const actual = thumbprintOf(certPem);
  if (actual !== tp) {
    throw new DecryptError(
      'ENOCERT',
      `${path.join(certDir, `${tp}.crt`)} holds certificate ${actual}, not ${tp}. ${RESYNC}`,
    );
  }
  return { certPem, keyPem, thumbprint: tp };
}

/** Uppercase hex SHA-1 of the DER certificate in `certPem` (what waagent uses as the thumbprint). */
export function thumbprintOf(certPem: string): string {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (e) {
    throw new DecryptError('ENOCERT', `the certificate file is not a PEM X.509 certificate. ${RESYNC}`, e);
  }
  return createHash('sha1').update(cert.raw).digest('hex').toUpperCase();
}

async function readPairFile(fs: ReadFileSystem, certDir: string, name: string): Promise<string | undefined> {
  const exact = await readOrExplain(fs, path.join(certDir, name));
  if (exact !== undefined) return exact;
  // Older agents and hand-copied files do not always uppercase the name.
  const entries = await listOrExplain(fs, certDir);
  const found = entries.find((e) => e.toUpperCase() === name.toUpperCase());
  return found === undefined ? undefined : readOrExplain(fs, path.join(certDir, found));
}

async function readOrExplain(fs: ReadFileSystem, file: string): Promise<string | undefined> {
  try {
    // Certificates and keys are a few KiB: a larger file, a link or a FIFO is not the agent's.
    const bytes = await fs.readBytes(file, { maxBytes: READ_LIMITS.certificate });
    return bytes === undefined ? undefined : decodeUtf8(bytes, file);
  } catch (e) {
    throw accessError(file, e);
  }
}

async function listOrExplain(fs: ReadFileSystem, dir: string): Promise<string[]> {
  try {
    return await fs.list(dir);
  } catch (e) {
    throw accessError(dir, e);
  }
}

function accessError(file: string, e: unknown): DecryptError {
  if (e instanceof UnsafePathError) return new DecryptError('ENOCERT', `${e.problem}; the guest agent stores certificates and keys as small regular files. ${RESYNC}`, e);
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  if (code === 'EACCES' || code === 'EPERM') {
    return new DecryptError(
      'ENOCERT',
      `cannot read ${file}: permission denied. The guest agent keeps certificates and keys readable by root only (0400), ` +
        'so the handler must run as root (it does when the agent starts it; use sudo when running it by hand).',
      e,
    );
  }
  return new DecryptError('ENOCERT', `cannot read ${file}: ${typeof code === 'string' ? code : 'I/O error'}`, e);
}
