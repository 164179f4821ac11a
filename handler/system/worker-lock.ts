import { promises as fsp, constants as fsc, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Clock } from './ports.js';

// One enable worker at a time changes the machine. The lock lives in the non-versioned data
// directory so that an old version's worker and the new version's worker (during an update)
// contend on the same file. A recorded /proc start time guards against pid reuse after a crash
// or reboot leaves a stale file behind.

export interface LockOwner {
  pid: number;
  seq: number;
  version: string;
  procStart: string;
  startedAt: string;
}

export type AcquireResult =
  | { kind: 'acquired'; release: () => Promise<void> }
  | { kind: 'newer-running'; owner: LockOwner }
  | { kind: 'same-running'; owner: LockOwner }
  | { kind: 'timeout'; owner: LockOwner };

export function procStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22; the command name (field 2) may contain spaces, so count after its closing paren.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19];
  } catch {
    return undefined;
  }
}

export function isOwnerAlive(owner: LockOwner): boolean {
  const start = procStartTime(owner.pid);
  return start !== undefined && start === owner.procStart;
}

export async function readLockOwner(file: string): Promise<LockOwner | undefined> {
  try {
    const owner = JSON.parse(await fsp.readFile(file, 'utf8')) as LockOwner;
    if (typeof owner.pid !== 'number' || typeof owner.seq !== 'number') return undefined;
    return owner;
  } catch {
    return undefined;
  }
}

/** The worker currently holding the lock, if it is still alive. */
export async function liveOwner(file: string): Promise<LockOwner | undefined> {
  const owner = await readLockOwner(file);
  return owner && isOwnerAlive(owner) ? owner : undefined;
}

/**
 * Takes the lock for (seq, version). An older sequence number, or the same one from another
 * handler version, is asked to stop (SIGTERM: it aborts at its next safe point and releases);
 * a newer number or the same (seq, version) wins and the caller backs off.
 */
export async function acquireWorkerLock(
  file: string,
  me: { seq: number; version: string; pid?: number },
  opts: { clock: Clock; waitMs: number; pollMs?: number },
): Promise<AcquireResult> {
  const pid = me.pid ?? process.pid;
  const mine: LockOwner = {
    pid,
    seq: me.seq,
    version: me.version,
    procStart: procStartTime(pid) ?? '0',
    startedAt: new Date(opts.clock.now()).toISOString(),
  };
  await fsp.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const deadline = opts.clock.now() + opts.waitMs;
  const signalled = new Set<number>();
  for (;;) {
    if (await tryCreate(file, mine)) {
      return { kind: 'acquired', release: () => releaseIfMine(file, mine) };
    }
    const owner = await readLockOwner(file);
    if (!owner) {
      // Unreadable: either being written this instant by a competitor, or left half-written by
      // a crash. Only the latter is old.
      if (await olderThan(file, 5000, opts.clock)) await removeIfUnchanged(file, owner);
      else await opts.clock.sleep(opts.pollMs ?? 200);
      continue;
    }
    if (!isOwnerAlive(owner)) {
      // Stale (crashed worker, reboot): remove only what we just read.
      await removeIfUnchanged(file, owner);
      continue;
    }
    if (owner.seq > me.seq) return { kind: 'newer-running', owner };
    if (owner.seq === me.seq && owner.version === me.version) return { kind: 'same-running', owner };
    if (!signalled.has(owner.pid)) {
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

async function tryCreate(file: string, owner: LockOwner): Promise<boolean> {
  let fh;
  try {
    fh = await fsp.open(file, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
  } catch (e) {
    if ((e as { code?: string }).code === 'EEXIST') return false;
    throw e;
  }
  try {
    await fh.writeFile(JSON.stringify(owner));
    await fh.sync();
  } finally {
    await fh.close();
  }
  return true;
}

async function olderThan(file: string, ms: number, clock: Clock): Promise<boolean> {
  try {
    return clock.now() - (await fsp.stat(file)).mtimeMs > ms;
  } catch {
    return false;
  }
}

async function removeIfUnchanged(file: string, seen: LockOwner | undefined): Promise<void> {
  const now = await readLockOwner(file);
  if (JSON.stringify(now) === JSON.stringify(seen)) await fsp.rm(file, { force: true });
}

async function releaseIfMine(file: string, mine: LockOwner): Promise<void> {
  const owner = await readLockOwner(file);
  if (owner && owner.pid === mine.pid && owner.procStart === mine.procStart) await fsp.rm(file, { force: true });
}
