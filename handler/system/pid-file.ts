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

/** Removes the file only if it still holds what the caller read (another process may have replaced it). */
export async function removeIfUnchanged(file: string, seen: ProcessIdentity | undefined): Promise<void> {
  const now = await readOwnerFile(file);
  if (JSON.stringify(now) === JSON.stringify(seen)) await fsp.rm(file, { force: true });
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
      if (await olderThan(file, 5000, opts.clock)) await removeIfUnchanged(file, owner);
      else await opts.clock.sleep(opts.pollMs ?? 100);
      continue;
    }
    if (!isAlive(owner)) {
      await removeIfUnchanged(file, owner);
      continue;
    }
    return { acquired: false, owner };
  }
}
