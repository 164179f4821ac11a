// Changes to the files the extension manages that the extension did not make: compared with the
// baseline the last proven enable recorded. Pure. The monitor reports them and never reverts
// them: the admin may have reasons, and the next enable re-applies the settings anyway.
import type { WatchedFile } from './spec.js';

/** What the monitor read from disk for one watched path. */
export interface FileNow {
  sha256: string | null;
  mode: number | null;
  /** daemon.json parsed; 'invalid' when it no longer parses. */
  json?: Record<string, unknown> | 'invalid';
  /** For certificate files: what a person recognises a certificate by. */
  cert?: { subject: string; fingerprint256: string; notAfter: string } | 'invalid';
}

export interface DriftItem {
  path: string;
  what: string;
  kind: 'changed' | 'removed' | 'created' | 'mode';
  /** One clause for the heartbeat: no file content, no secret. */
  summary: string;
  /** For the log: key names, certificate identities, modes; never a key's content. */
  details: Record<string, unknown>;
}

const octal = (m: number | null) => (m === null ? 'none' : `0${(m & 0o7777).toString(8)}`);

export function detectDrift(baseline: readonly WatchedFile[], now: ReadonlyMap<string, FileNow>): DriftItem[] {
  const out: DriftItem[] = [];
  for (const b of baseline) {
    const cur = now.get(b.path) ?? { sha256: null, mode: null };
    const base = { path: b.path, what: b.what };
    if (b.sha256 === null && cur.sha256 === null) continue;
    if (b.sha256 === null) {
      out.push({ ...base, kind: 'created', summary: `${b.path} was created`, details: { mode: octal(cur.mode) } });
      continue;
    }
    if (cur.sha256 === null) {
      out.push({ ...base, kind: 'removed', summary: `${b.what} ${b.path} was removed`, details: {} });
      continue;
    }
    if (cur.sha256 !== b.sha256) {
      out.push({ ...base, kind: 'changed', ...describeContentChange(b, cur) });
      continue;
    }
    if (b.mode !== null && cur.mode !== null && (b.mode & 0o7777) !== (cur.mode & 0o7777)) {
      const exposed = b.sensitive && (cur.mode & 0o077) !== 0;
      out.push({
        ...base,
        kind: 'mode',
        summary: `${b.path} mode changed from ${octal(b.mode)} to ${octal(cur.mode)}${exposed ? ' (the private key is readable by other users)' : ''}`,
        details: { from: octal(b.mode), to: octal(cur.mode) },
      });
    }
  }
  return out;
}

function describeContentChange(b: WatchedFile, cur: FileNow): { summary: string; details: Record<string, unknown> } {
  if (b.json !== undefined) {
    if (cur.json === 'invalid' || cur.json === undefined) {
      return { summary: `${b.path} was edited and is no longer valid JSON (dockerd will refuse it at its next start)`, details: { json: 'invalid' } };
    }
    const keys = changedKeyNames(b.json, cur.json);
    if (keys.length === 0) return { summary: `${b.path} was reformatted (same settings)`, details: { keys: [] } };
    const shown = keys.length > 6 ? `${keys.slice(0, 6).join(', ')} and ${keys.length - 6} more` : keys.join(', ');
    return { summary: `${b.path} was edited (${keys.length === 1 ? 'key' : 'keys'} ${shown})`, details: { keys } };
  }
  if (b.sensitive) return { summary: `${b.what} ${b.path} was replaced`, details: {} };
  if (cur.cert === 'invalid') return { summary: `${b.what} ${b.path} was replaced by something that is not a certificate`, details: {} };
  if (cur.cert) {
    return {
      summary: `${b.what} ${b.path} was replaced (now ${cur.cert.subject}, valid until ${cur.cert.notAfter})`,
      details: { subject: cur.cert.subject, fingerprint256: cur.cert.fingerprint256, notAfter: cur.cert.notAfter },
    };
  }
  return { summary: `${b.what} ${b.path} was changed`, details: {} };
}

/** Top-level keys added, removed or changed in value, sorted. */
export function changedKeyNames(before: Record<string, unknown>, after: Record<string, unknown>): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((k) => JSON.stringify(canonical(before[k])) !== JSON.stringify(canonical(after[k]))).sort();
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v as Record<string, unknown>)
        .sort()
        .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}
