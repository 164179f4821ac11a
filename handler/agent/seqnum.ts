import { READ_LIMITS } from '../system/ports.js';
import * as path from 'node:path';
import { AgentContractError } from '../errors.js';
import type { FileSystem, ReadFileSystem } from '../system/ports.js';

const SETTINGS_RE = /^(\d+)\.settings$/;

export interface SettingsFileInfo {
  seq: number;
  mtimeMs: number;
}

/**
 * The sequence number this command is for. ConfigSequenceNumber is authoritative (the agent
 * sets it for every command, and during an update the old version gets the new number). Only
 * very old agents omit it; then the most recently modified N.settings wins, ties to the
 * highest N, because numbers are not guaranteed to increase.
 */
export function requestedSeq(envValue: string | undefined, files: readonly SettingsFileInfo[]): number | undefined {
  if (envValue !== undefined && envValue.trim() !== '') {
    const v = envValue.trim();
    // The agent writes a plain integer: "007" is not one (and would silently pick 7.settings).
    if (!/^(0|[1-9]\d{0,8})$/.test(v)) {
      throw new AgentContractError(`ConfigSequenceNumber "${v.slice(0, 20)}" is not a sequence number; the agent sets it to a non-negative integer.`, 'EBADSEQ');
    }
    return Number(v);
  }
  let best: SettingsFileInfo | undefined;
  for (const f of files) {
    if (!best || f.mtimeMs > best.mtimeMs || (f.mtimeMs === best.mtimeMs && f.seq > best.seq)) best = f;
  }
  return best?.seq;
}

export async function listSettingsFiles(fs: ReadFileSystem, configFolder: string): Promise<SettingsFileInfo[]> {
  const out: SettingsFileInfo[] = [];
  for (const name of await fs.list(configFolder)) {
    const m = SETTINGS_RE.exec(name);
    if (!m) continue;
    const st = await fs.stat(path.join(configFolder, name));
    if (st?.isFile) out.push({ seq: Number(m[1]), mtimeMs: st.mtimeMs });
  }
  return out;
}

export type SeqDecision =
  | { action: 'run' }
  | { action: 'skip'; reason: 'already-applied' | 'stale' };

/** What this version's worker last finished, kept in the (versioned) extension directory. */
export interface LastRun {
  seq: number;
  version: string;
  result: 'success' | 'error';
}

/**
 * Whether enable should act on `requested`.
 * - `applied` is mrseq: the last number whose enable succeeded. It is copied to the new version
 *   on update, so an older number is refused across versions too.
 * - `lastRun` is this version's own record, which the agent does not copy: a new version always
 *   runs once (restarting nothing when nothing changed) and reports its own status, never the
 *   copied one.
 * - `currentStatus` is what status/<requested>.status holds now: a success written by disable,
 *   or a transitioning left by an interrupted run, does not count as applied.
 */
export function decideSeq(
  requested: number,
  applied: number | undefined,
  lastRun: LastRun | undefined,
  currentStatus: { status?: string; operation?: string } | undefined,
  version: string,
): SeqDecision {
  if (applied !== undefined && requested < applied) return { action: 'skip', reason: 'stale' };
  if (
    applied === requested &&
    lastRun?.seq === requested &&
    lastRun.version === version &&
    lastRun.result === 'success' &&
    currentStatus?.status === 'success' &&
    currentStatus.operation === 'Enable'
  ) {
    return { action: 'skip', reason: 'already-applied' };
  }
  return { action: 'run' };
}

export const LAST_RUN_FILE = 'last-enable.json';

export async function readLastRun(fs: ReadFileSystem, extensionDir: string): Promise<LastRun | undefined> {
  const text = await fs.readText(path.join(extensionDir, LAST_RUN_FILE), { maxBytes: READ_LIMITS.small });
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text) as LastRun;
    return typeof v.seq === 'number' && typeof v.version === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

export async function writeLastRun(fs: FileSystem, extensionDir: string, run: LastRun): Promise<void> {
  await fs.writeAtomic(path.join(extensionDir, LAST_RUN_FILE), JSON.stringify(run), 0o644);
}

export const MRSEQ_FILE = 'mrseq';

/** mrseq lives in the extension root: the only place besides status/ the agent copies on update. */
export async function readMrseq(fs: ReadFileSystem, extensionDir: string): Promise<number | undefined> {
  const text = await fs.readText(path.join(extensionDir, MRSEQ_FILE), { maxBytes: READ_LIMITS.small });
  if (text === undefined) return undefined;
  const t = text.trim();
  return /^\d{1,9}$/.test(t) ? Number(t) : undefined;
}

export async function writeMrseq(fs: FileSystem, extensionDir: string, seq: number): Promise<void> {
  await fs.writeAtomic(path.join(extensionDir, MRSEQ_FILE), `${seq}\n`, 0o644);
}
