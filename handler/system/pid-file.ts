import { promises as fsp, constants as fsc, readFileSync } from 'node:fs';
import { readBounded } from './fs.js';
import type { Clock } from './ports.js';

// Owner files: a JSON record of the process that holds something (the enable worker's lock, the
// monitor's single-instance lock), created with O_EXCL so that exactly one process wins. The
// recorded /proc start time tells a live owner from a recycled pid after a crash or reboot.

export interface ProcessIdentity {
  pid: number;
  /** Field 22 of /proc/<pid>/stat: clock ticks since boot when the process started. */
  procStart: string;
}

/** The fields of /proc/<pid>/stat after the command name: [0] is field 3 (state), [19] field 22. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces, so count after its closing paren.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

export function procStartTime(pid: number): string | undefined {
  return statFields(pid)?.[19];
}

export function identityOf(pid: number = process.pid): ProcessIdentity {
  return { pid, procStart: procStartTime(pid) ?? '0' };
}

/** The same process is still running (not a zombie: its stat is gone or says Z only then). */
export function isAlive(id: ProcessIdentity): boolean {
  const f = statFields(id.pid);
  if (f?.[19] === undefined || f[19] !== id.procStart) return false;
  return f[0] !== 'Z' && f[0] !== 'X';
}

/** The owner record, or undefined when absent, half-written or not an owner record. */
export async function readOwnerFile<T extends ProcessIdentity>(file: string): Promise<T | undefined> {
  try {
    const bytes = await readBounded(file, { maxBytes: 64 * 1024 });
    if (bytes === undefined) return undefined;
    const owner = JSON.parse(bytes.toString('utf8')) as T;
    if (typeof owner?.pid !== 'number' || typeof owner.procStart !== 'string') return undefined;
    return owner;
  } catch {
    return undefined;
  }
}

/** O_EXCL create, written and synced before anyone can read it whole; false when it exists. */
export async function createOwnerFile(file: string, owner: ProcessIdentity): Promise<boolean> {
  let fh;
  try {
    fh = await fsp.open(file, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
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

export async function olderThan(file: string, ms: number, clock: Clock): Promise<boolean> {
  try {
    return clock.now() - (await fsp.stat(file)).mtimeMs > ms;
  } catch {
    return false;
  }
}

/**
 * Removes a stale record only if the file still holds it. Done under a second, short-lived owner
 * file (<file>.break): without it, a contender that read the stale record could delete the record
 * another contender wrote after removing that stale record itself, and both would hold the lock.
 * Under it nobody else removes a record, and a live holder removes only its own, so the file
 * cannot change between the read and the removal. False when another process is at it: nothing
 * is done, and the caller tries again a little later.
 */
export async function removeIfUnchanged(file: string, seen: ProcessIdentity | undefined, clock: Clock): Promise<boolean> {
  const breaker = `${file}.break`;
  if (!(await createOwnerFile(breaker, identityOf()))) {
    // Held for a few milliseconds; one left by a process killed inside them is cleared once its
    // owner is gone (or, half-written, once it is old). That clearing has the race this file
    // closes, but only right after a kill inside those milliseconds.
    const b = await readOwnerFile(breaker);
    if (b ? !isAlive(b) : await olderThan(breaker, 5000, clock)) await fsp.rm(breaker, { force: true });
    return false;
  }
  try {
    const now = await readOwnerFile(file);
    if (JSON.stringify(now) === JSON.stringify(seen)) await fsp.rm(file, { force: true });
  } finally {
    await fsp.rm(breaker, { force: true });
  }
  return true;
}

export async function releaseIfMine(file: string, mine: ProcessIdentity): Promise<void> {
  const owner = await readOwnerFile(file);
  if (owner && owner.pid === mine.pid && owner.procStart === mine.procStart) await fsp.rm(file, { force: true });
}

/**
 * Takes the owner file: a stale record (dead owner) is removed, a half-written one only once it
 * is old enough not to be a competitor's write in progress. Returns the live owner otherwise.
 */
export async function tryTakeOwnerFile<T extends ProcessIdentity>(
  file: string,
  mine: T,
  opts: { clock: Clock; pollMs?: number },
): Promise<{ acquired: true } | { acquired: false; owner: T }> {
  for (;;) {
    if (await createOwnerFile(file, mine)) return { acquired: true };
    const owner = await readOwnerFile<T>(file);
    if (!owner) {
      if (!(await olderThan(file, 5000, opts.clock)) || !(await removeIfUnchanged(file, owner, opts.clock))) await opts.clock.sleep(opts.pollMs ?? 100);
      continue;
    }
    if (!isAlive(owner)) {
      if (!(await removeIfUnchanged(file, owner, opts.clock))) await opts.clock.sleep(opts.pollMs ?? 100);
      continue;
    }
    return { acquired: false, owner };
  }
}
