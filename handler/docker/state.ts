// What survives between runs in stateDir (not versioned, kept across extension updates): which
// daemon.json keys and files the extension owns, and the rollback snapshot of an apply in flight.
import { StepFailedError } from '../errors.js';
import { READ_LIMITS } from '../system/ports.js';
import type { FileSystem, ReadFileSystem } from '../system/ports.js';
import type { EngineState } from './desired.js';

export const STATE_FILE = 'engine-state.json';
export const ROLLBACK_FILE = 'engine-rollback.json';

export const statePath = (stateDir: string) => `${stateDir.replace(/\/+$/, '')}/${STATE_FILE}`;
export const rollbackPath = (stateDir: string) => `${stateDir.replace(/\/+$/, '')}/${ROLLBACK_FILE}`;

export async function readState(fs: ReadFileSystem, stateDir: string): Promise<EngineState | undefined> {
  const text = await fs.readText(statePath(stateDir), { maxBytes: READ_LIMITS.small });
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text) as EngineState;
    if (v && v.version === 1 && v.daemonJson && typeof v.daemonJson.owned === 'object') return v;
  } catch {
    // unreadable record: behave as if we owned nothing (foreign keys are never touched then)
  }
  return undefined;
}

export async function writeState(fs: FileSystem, stateDir: string, state: EngineState): Promise<void> {
  await fs.mkdirp(stateDir, 0o700);
  await fs.writeAtomic(statePath(stateDir), `${JSON.stringify(state, null, 2)}\n`, 0o600);
}

/**
 * What the extension may own while an apply is in flight: everything the previous record and the
 * new one own (keys, files, drop-in). Written before the first file changes, so that a run killed
 * half-way leaves a record that still claims every key and file on disk that is the extension's,
 * the ones it was adding as well as the ones it was taking away; the next run gives back or
 * removes what the settings no longer want. The new record alone replaces it once the files are
 * written.
 */
export function inFlightState(before: EngineState | undefined, after: EngineState): EngineState {
  if (!before) return after;
  const owned = { ...after.daemonJson.owned };
  for (const [k, v] of Object.entries(before.daemonJson.owned)) if (!(k in owned)) owned[k] = v;
  const dropIn = after.dropIn ?? before.dropIn;
  const installed = after.installed ?? before.installed;
  return {
    version: 1,
    daemonJson: { path: after.daemonJson.path, owned, created: before.daemonJson.created || after.daemonJson.created },
    files: [...new Set([...before.files, ...after.files])],
    ...(dropIn !== undefined ? { dropIn } : {}),
    ...(installed !== undefined ? { installed } : {}),
  };
}

export interface SnapshotEntry {
  path: string;
  existed: boolean;
  mode?: number;
  base64?: string;
}

export interface RollbackRecord {
  createdAt: string;
  entries: SnapshotEntry[];
  /** dockerd was running before the change. */
  wasRunning: boolean;
  /** The steps that finished, in order (see progress.ts): how far an interrupted apply got. */
  done?: string[];
  /**
   * An uninstall that removes the engine: the data roots it empties, found while dockerd still ran
   * (it alone can tell a root that is not in daemon.json), so that a run killed after the stop
   * empties the same ones.
   */
  dataRoots?: string[];
}

export async function snapshot(fs: ReadFileSystem, paths: readonly string[]): Promise<SnapshotEntry[]> {
  const out: SnapshotEntry[] = [];
  for (const p of new Set(paths)) {
    const b = await fs.readBytes(p);
    if (b === undefined) out.push({ path: p, existed: false });
    else out.push({ path: p, existed: true, mode: (await fs.stat(p))?.mode ?? 0o644, base64: b.toString('base64') });
  }
  return out;
}

/**
 * Puts every entry back as it was. A file that already is (a write that failed on a full or
 * read-only disk never reached it) is left alone: rewriting it could only fail the same way. Every
 * entry is tried; the ones that could not be restored are named together.
 */
export async function restoreSnapshot(fs: FileSystem, entries: readonly SnapshotEntry[]): Promise<void> {
  const failed: string[] = [];
  for (const e of entries) {
    try {
      if (e.existed) {
        const want = Buffer.from(e.base64 ?? '', 'base64');
        const now = await fs.readBytes(e.path).catch(() => undefined);
        if (now?.equals(want) && (await fs.stat(e.path))?.mode === (e.mode ?? 0o644)) continue;
        await fs.mkdirp(e.path.slice(0, e.path.lastIndexOf('/')) || '/', 0o755);
        await fs.writeAtomic(e.path, want, e.mode ?? 0o644);
      } else {
        await fs.remove(e.path);
      }
    } catch (err) {
      failed.push((err as Error).message);
    }
  }
  if (failed.length) throw new StepFailedError(`could not restore the previous files: ${failed.join('; ')}`, 'ERESTORE');
}

export async function readRollback(fs: ReadFileSystem, stateDir: string): Promise<RollbackRecord | undefined> {
  const text = await fs.readText(rollbackPath(stateDir));
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text) as RollbackRecord;
    return Array.isArray(v.entries) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Mode 0600: the snapshot holds the previous private key. */
export async function writeRollback(fs: FileSystem, stateDir: string, rec: RollbackRecord): Promise<void> {
  await fs.mkdirp(stateDir, 0o700);
  await fs.writeAtomic(rollbackPath(stateDir), JSON.stringify(rec), 0o600);
}
