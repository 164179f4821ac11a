import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { FileSystem } from '../system/ports.js';
import { LAST_RUN_FILE, MRSEQ_FILE } from './seqnum.js';
import { statusFilePath } from './status.js';

// The no-op re-enable, decided by scripts/handler.sh without starting Node. Every goal state and
// boot of every VM re-runs enable with the same sequence number; Node alone costs ~25 ms, the
// shim ~3 ms. The decision stays decideSeq's: the handler writes this token only right after
// decideSeq said "already applied" (and the monitor runs), recording the identity (inode, size,
// mtime) of the three files decideSeq reads. The shim skips only while the agent asks for the same
// sequence number and version, those files are exactly as they were, and the same monitor process
// is alive; anything else falls through to Node, which decides and writes a new token.

export const NOOP_TOKEN_FILE = 'noop-enable';
const FORMAT = 'noop1';

export interface NoopToken {
  seq: number;
  version: string;
  /** `inode:size:mtime` of mrseq, last-enable.json, status/<seq>.status, as `stat --printf='%i:%s:%.9Y '` prints them. */
  files: string[];
  monitor: { pid: number; procStart: string };
}

/** The files decideSeq reads, in the order the token and the shim list them. */
export function decisionFiles(extensionDir: string, statusFolder: string, seq: number): string[] {
  return [path.join(extensionDir, MRSEQ_FILE), path.join(extensionDir, LAST_RUN_FILE), statusFilePath(statusFolder, seq)];
}

/** One line; the version may not contain a space (the agent's versions are dotted numbers). */
export function renderNoopToken(t: NoopToken): string {
  return `${FORMAT} ${t.seq} ${t.version} ${t.files.join(' ')} ${t.monitor.pid} ${t.monitor.procStart}\n`;
}

/**
 * What `stat --printf='%i:%s:%.9Y '` prints for a file (the inode may pass 2^53: bigint). The
 * mtime to the nanosecond: a rewrite in place with the same size is still a change.
 */
export async function fileIdentity(file: string): Promise<string> {
  const st = await fsp.lstat(file, { bigint: true });
  const ns = st.mtimeNs % 1_000_000_000n;
  return `${st.ino}:${st.size}:${st.mtimeNs / 1_000_000_000n}.${ns.toString().padStart(9, '0')}`;
}

export async function writeNoopToken(
  fs: FileSystem,
  dirs: { extensionDir: string; statusFolder: string },
  seq: number,
  version: string,
  monitor: { pid: number; procStart: string },
): Promise<void> {
  if (/\s/.test(version)) return;
  const files = await Promise.all(decisionFiles(dirs.extensionDir, dirs.statusFolder, seq).map(fileIdentity));
  await fs.writeAtomic(path.join(dirs.extensionDir, NOOP_TOKEN_FILE), renderNoopToken({ seq, version, files, monitor }), 0o644);
}

export async function removeNoopToken(fs: FileSystem, extensionDir: string): Promise<void> {
  await fs.remove(path.join(extensionDir, NOOP_TOKEN_FILE));
}
