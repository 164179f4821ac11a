import * as path from 'node:path';
import { ensureSafeDir } from '../system/fs.js';
import type { Clock } from '../system/ports.js';
import { identityOf, isAlive, readOwnerFile, releaseIfMine, tryTakeOwnerFile, type ProcessIdentity } from '../system/pid-file.js';

// One monitor per VM: whoever starts it (systemd at boot, enable where there is no systemd, two
// enables at once), the monitor itself takes this lock first and a second one exits. A monitor of
// another extension directory (the version before an update) is told to stop and replaced.

export const MONITOR_LOCK = 'monitor.lock';
export const monitorLockPath = (dataDir: string) => path.join(dataDir, MONITOR_LOCK);

export interface MonitorOwner extends ProcessIdentity {
  version: string;
  /** The versioned extension directory whose heartbeat this monitor writes. */
  extensionDir: string;
  startedAt: string;
}

/** The running monitor, if any: two small file reads, no process spawned (the no-op re-enable uses it). */
export async function liveMonitor(dataDir: string): Promise<MonitorOwner | undefined> {
  const owner = await readOwnerFile<MonitorOwner>(monitorLockPath(dataDir));
  return owner && isAlive(owner) ? owner : undefined;
}

export type MonitorLock = { kind: 'acquired'; release: () => Promise<void> } | { kind: 'duplicate'; owner: MonitorOwner };

export async function acquireMonitorLock(
  dataDir: string,
  me: { version: string; extensionDir: string },
  opts: { clock: Clock; takeoverWaitMs?: number; onTakeover?: (owner: MonitorOwner) => void },
): Promise<MonitorLock> {
  const file = monitorLockPath(dataDir);
  const mine: MonitorOwner = { ...identityOf(), version: me.version, extensionDir: me.extensionDir, startedAt: new Date(opts.clock.now()).toISOString() };
  const waitMs = opts.takeoverWaitMs ?? 15_000;
  // Created as root: never inside a data folder that is a link or writable by others.
  await ensureSafeDir(dataDir, 0o700);
  for (;;) {
    const took = await tryTakeOwnerFile(file, mine, { clock: opts.clock });
    if (took.acquired) return { kind: 'acquired', release: () => releaseIfMine(file, mine) };
    const owner = took.owner;
    if (owner.extensionDir === me.extensionDir) return { kind: 'duplicate', owner };
    opts.onTakeover?.(owner);
    await stopProcess(owner, waitMs, opts.clock);
  }
}

/** SIGTERM, wait, SIGKILL: the monitor holds nothing that a kill could leave half-done. */
export async function stopProcess(owner: ProcessIdentity, waitMs: number, clock: Clock): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(owner.pid, sig);
    } catch {
      // gone already
    }
  };
  signal('SIGTERM');
  const deadline = clock.now() + waitMs;
  while (isAlive(owner) && clock.now() < deadline) await clock.sleep(50);
  if (isAlive(owner)) {
    signal('SIGKILL');
    const hard = clock.now() + 5_000;
    while (isAlive(owner) && clock.now() < hard) await clock.sleep(50);
  }
}
