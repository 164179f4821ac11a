import * as path from 'node:path';
import { ensureSafeDir } from './fs.js';
import type { Clock } from './ports.js';
import { identityOf, isAlive, readOwnerFile, releaseIfMine, tryTakeOwnerFile, type ProcessIdentity } from './pid-file.js';

export { procStartTime } from './pid-file.js';

// One worker at a time changes the machine. The lock lives in the non-versioned data directory
// so that an old version's worker and the new version's worker (during an update) contend on the
// same file. Two kinds of work take it: the enable worker (one sequence number) and uninstall's
// background part, which nothing supersedes: an enable that arrives meanwhile waits for it.

/** In the non-versioned data directory; the monitor watches it to know when work starts and ends. */
export const WORKER_LOCK_FILE = 'enable-worker.lock';
export const workerLockFile = (dataDir: string) => path.join(dataDir, WORKER_LOCK_FILE);

export interface LockOwner extends ProcessIdentity {
  seq: number;
  version: string;
  startedAt: string;
  /** Absent in records written before uninstall took the lock too: an enable worker. */
  kind?: 'enable' | 'uninstall';
}

export type AcquireResult =
  | { kind: 'acquired'; release: () => Promise<void> }
  | { kind: 'newer-running'; owner: LockOwner }
  | { kind: 'same-running'; owner: LockOwner }
  | { kind: 'timeout'; owner: LockOwner };

export function isOwnerAlive(owner: LockOwner): boolean {
  return isAlive(owner);
}

export function readLockOwner(file: string): Promise<LockOwner | undefined> {
  return readOwnerFile<LockOwner>(file);
}

/** The process currently holding the lock, if it is still alive. */
export async function liveOwner(file: string): Promise<LockOwner | undefined> {
  const owner = await readLockOwner(file);
  return owner && isOwnerAlive(owner) ? owner : undefined;
}

/**
 * Takes the lock for (seq, version). An enable worker for an older sequence number, or for the
 * same one from another handler version, is asked to stop (SIGTERM: it aborts at its next safe
 * point and releases); a newer number or the same (seq, version) wins and the caller backs off.
 * Uninstall stops any enable worker; anyone waits for a running uninstall.
 */
export async function acquireWorkerLock(
  file: string,
  me: { seq: number; version: string; pid?: number; kind?: 'enable' | 'uninstall' },
  opts: { clock: Clock; waitMs: number; pollMs?: number },
): Promise<AcquireResult> {
  const mine: LockOwner = {
    ...identityOf(me.pid ?? process.pid),
    seq: me.seq,
    version: me.version,
    startedAt: new Date(opts.clock.now()).toISOString(),
    kind: me.kind ?? 'enable',
  };
  // The lock is created as root: never inside a data folder that is a link or writable by others.
  await ensureSafeDir(path.dirname(file), 0o700);
  const deadline = opts.clock.now() + opts.waitMs;
  const signalled = new Set<number>();
  for (;;) {
    const took = await tryTakeOwnerFile(file, mine, { clock: opts.clock, ...(opts.pollMs ? { pollMs: opts.pollMs } : {}) });
    if (took.acquired) return { kind: 'acquired', release: () => releaseIfMine(file, mine) };
    const owner = took.owner;
    const ownerIsUninstall = owner.kind === 'uninstall';
    if (!ownerIsUninstall && mine.kind === 'enable') {
      if (owner.seq > me.seq) return { kind: 'newer-running', owner };
      if (owner.seq === me.seq && owner.version === me.version) return { kind: 'same-running', owner };
    }
    if (!ownerIsUninstall && !signalled.has(owner.pid)) {
      signalled.add(owner.pid);
      try {
        process.kill(owner.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    if (opts.clock.now() >= deadline) return { kind: 'timeout', owner };
    await opts.clock.sleep(opts.pollMs ?? 200);
  }
}
