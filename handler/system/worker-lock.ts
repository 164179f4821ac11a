import * as path from 'node:path';
import { ensureSafeDir } from './fs.js';
import type { Clock } from './ports.js';
import { identityOf, isAlive, readOwnerFile, releaseIfMine, tryTakeOwnerFile, type ProcessIdentity } from './pid-file.js';

export { procStartTime } from './pid-file.js';

// One worker at a time changes the machine. The lock lives in the non-versioned data directory
// so that an old version's worker and the new version's worker (during an update) contend on the
// same file. Three kinds of work take it: the enable worker (one sequence number), uninstall's
// background part, and the monitor while it writes /etc/docker or restarts dockerd (a certificate
// renewal, a restart of a dockerd that exited). Nothing supersedes the last two: an enable that
// arrives meanwhile waits for them. The monitor never waits: it only tries, and puts its work off
// to its next round when the lock is taken. A holder killed with -9 leaves a record whose process
// is gone, which the next taker removes (the lock is free, as a flock would be).

/** In the non-versioned data directory; the monitor watches it to know when work starts and ends. */
export const WORKER_LOCK_FILE = 'enable-worker.lock';
export const workerLockFile = (dataDir: string) => path.join(dataDir, WORKER_LOCK_FILE);

export interface LockOwner extends ProcessIdentity {
  seq: number;
  version: string;
  startedAt: string;
  /** Absent in records written before uninstall took the lock too: an enable worker. */
  kind?: LockKind;
  /** kind 'monitor': what it does under the lock. */
  task?: MonitorTask;
}

export type LockKind = 'enable' | 'uninstall' | 'monitor';
export type MonitorTask = 'renew-certificate' | 'restart-dockerd';

/** What the holder does, for logs, the heartbeat and status: "the monitor renewing the server certificate". */
export function describeOwner(owner: LockOwner): string {
  const kind = owner.kind ?? 'enable';
  if (kind === 'monitor') return `the monitor ${owner.task === 'restart-dockerd' ? 'restarting dockerd' : 'renewing the server certificate'} (pid ${owner.pid})`;
  if (kind === 'uninstall') return `the uninstall (pid ${owner.pid})`;
  return `the run for configuration ${owner.seq} (pid ${owner.pid})`;
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
 * Uninstall stops any enable worker; anyone waits for a running uninstall or monitor task (a
 * SIGTERM would stop the monitor itself, and its task is short). `onWait` is told once per holder
 * that the caller waits for.
 */
export async function acquireWorkerLock(
  file: string,
  me: { seq: number; version: string; pid?: number; kind?: 'enable' | 'uninstall' },
  opts: { clock: Clock; waitMs: number; pollMs?: number; onWait?: (owner: LockOwner) => void },
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
  const waitedFor = new Set<number>();
  for (;;) {
    const took = await tryTakeOwnerFile(file, mine, { clock: opts.clock, ...(opts.pollMs ? { pollMs: opts.pollMs } : {}) });
    if (took.acquired) return { kind: 'acquired', release: () => releaseIfMine(file, mine) };
    const owner = took.owner;
    const ownerIsEnable = (owner.kind ?? 'enable') === 'enable';
    if (ownerIsEnable && mine.kind === 'enable') {
      if (owner.seq > me.seq) return { kind: 'newer-running', owner };
      if (owner.seq === me.seq && owner.version === me.version) return { kind: 'same-running', owner };
    }
    if (ownerIsEnable && !signalled.has(owner.pid)) {
      signalled.add(owner.pid);
      try {
        process.kill(owner.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    if (!waitedFor.has(owner.pid)) {
      waitedFor.add(owner.pid);
      opts.onWait?.(owner);
    }
    if (opts.clock.now() >= deadline) return { kind: 'timeout', owner };
    await opts.clock.sleep(opts.pollMs ?? 200);
  }
}

export type TryResult = { kind: 'acquired'; release: () => Promise<void>; tookOver?: LockOwner } | { kind: 'busy'; owner: LockOwner };

/**
 * The monitor's way in: one attempt, no waiting, nobody signalled. A record left by a holder that
 * is gone is taken over, as any taker does; `tookOver` names it, so that the monitor can still say
 * that an enable was cut short. (Putting such a record back on release would hand every waiting
 * worker the same stale record at once, to remove together.)
 */
export async function tryWorkerLock(file: string, me: { seq: number; version: string; task: MonitorTask }, opts: { clock: Clock }): Promise<TryResult> {
  const mine: LockOwner = {
    ...identityOf(process.pid),
    seq: me.seq,
    version: me.version,
    startedAt: new Date(opts.clock.now()).toISOString(),
    kind: 'monitor',
    task: me.task,
  };
  await ensureSafeDir(path.dirname(file), 0o700);
  const before = await readLockOwner(file);
  const took = await tryTakeOwnerFile(file, mine, { clock: opts.clock });
  if (!took.acquired) return { kind: 'busy', owner: took.owner };
  return { kind: 'acquired', release: () => releaseIfMine(file, mine), ...(before && !isAlive(before) ? { tookOver: before } : {}) };
}
