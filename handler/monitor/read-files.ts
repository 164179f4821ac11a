import { READ_LIMITS } from '../system/ports.js';
import { createHash, X509Certificate } from 'node:crypto';
import { registerSecrets } from '../agent/sanitise.js';
import type { ReadFileSystem } from '../system/ports.js';
import type { FileNow } from './drift.js';
import type { CertState } from './verdict.js';
import type { WatchedFile } from './spec.js';

// What the watched files hold now, in the shape the pure drift and verdict rules take. Only
// hashes, modes, parsed daemon.json and certificate identities leave this module; a key's
// content never does.

export const sha256Hex = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export async function readWatchedFiles(fs: ReadFileSystem, files: readonly WatchedFile[]): Promise<Map<string, FileNow>> {
  const out = new Map<string, FileNow>();
  for (const f of files) {
    const bytes = await fs.readBytes(f.path).catch(() => undefined);
    if (bytes === undefined) {
      out.set(f.path, { sha256: null, mode: null });
      continue;
    }
    const st = await fs.stat(f.path).catch(() => undefined);
    const now: FileNow = { sha256: sha256Hex(bytes), mode: st?.mode ?? null };
    // The monitor's heartbeat, events and log go through the same sanitiser as the commands';
    // the one secret it ever holds is the key it watches, so that is what it scrubs.
    if (f.sensitive) registerSecrets([bytes.toString('utf8')]);
    if (f.json !== undefined) now.json = parseJsonObject(bytes);
    else if (!f.sensitive && /certificate/i.test(f.what)) now.cert = certIdentity(bytes);
    out.set(f.path, now);
  }
  return out;
}

/** daemon.json's content as an object, or 'invalid' when it is not a JSON object. */
export function parseJsonObject(bytes: Buffer): Record<string, unknown> | 'invalid' {
  try {
    const v = JSON.parse(bytes.toString('utf8')) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : 'invalid';
  } catch {
    return 'invalid';
  }
}

export function certIdentity(bytes: Buffer): FileNow['cert'] {
  try {
    const c = new X509Certificate(bytes);
    return { subject: c.subject.replace(/\n/g, ', '), fingerprint256: c.fingerprint256, notAfter: new Date(c.validTo).toISOString().slice(0, 10) };
  } catch {
    return 'invalid';
  }
}

/** The server certificate's subject and expiry, for the countdown; cached by content hash. */
export class CertificateReader {
  private cache: { sha256: string; state: CertState; fingerprint256?: string } | undefined;
  constructor(private readonly fs: ReadFileSystem) {}

  async read(certFile: string): Promise<{ state: CertState; sha256?: string; fingerprint256?: string }> {
    const bytes = await this.fs.readBytes(certFile, { maxBytes: READ_LIMITS.certificate }).catch(() => undefined);
    if (bytes === undefined) return { state: { problem: `${certFile} is missing` } };
    const sha = sha256Hex(bytes);
    if (this.cache?.sha256 !== sha) {
      try {
        const c = new X509Certificate(bytes);
        const cn = /(?:^|\n)CN=([^\n]*)/.exec(c.subject)?.[1];
        this.cache = { sha256: sha, state: { subject: cn ? `CN=${cn}` : c.subject.replace(/\n/g, ', '), notAfter: Date.parse(c.validTo) }, fingerprint256: c.fingerprint256 };
      } catch {
        this.cache = { sha256: sha, state: { problem: `${certFile} does not hold a PEM certificate` } };
      }
    }
    return { state: this.cache.state, sha256: sha, ...(this.cache.fingerprint256 ? { fingerprint256: this.cache.fingerprint256 } : {}) };
  }
}
