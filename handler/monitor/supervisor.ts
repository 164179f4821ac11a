// Starts, replaces and stops the monitor. Where systemd runs it is a service of ours (enabled,
// started at boot before the agent, restarted on failure, tracked by the agent through
// resourceLimits.services); without systemd it is a detached process. Either way the monitor's
// own lock makes a second one exit, so callers may race.
import { spawnSetsid } from '../system/detached.js';
import type { CommandRunner, Clock, FileSystem } from '../system/ports.js';
import { liveMonitor, stopProcess, type MonitorOwner } from './lock.js';
import { MONITOR_UNIT, MONITOR_UNIT_PATH, monitorArgv, monitorEnvironment, renderMonitorUnit } from './unit.js';

export interface MonitorSupervisor {
  readonly kind: 'systemd' | 'direct';
  /** Nothing is spawned when a monitor already runs for this extension directory. */
  ensureRunning(): Promise<{ started: boolean; detail: string }>;
  /** Stops the monitor and removes what starts it at boot. */
  remove(): Promise<void>;
}

export interface SupervisorOptions {
  dataDir: string;
  extensionDir: string;
  version: string;
  /** The runtime and the monitor's bundle (dist/monitor.cjs of the package). */
  nodePath: string;
  monitorScript: string;
  /** Environment the monitor needs beyond the unit's defaults (log level, test switches). */
  env: Record<string, string>;
  fs: FileSystem;
  cmd: () => Promise<CommandRunner>;
  clock: Clock;
  /** How long to wait for a started monitor to take its lock. */
  startWaitMs?: number;
}

const mine = (o: MonitorOwner | undefined, extensionDir: string) => o !== undefined && o.extensionDir === extensionDir;

async function waitForMonitor(o: SupervisorOptions, exited?: Promise<unknown>): Promise<MonitorOwner | undefined> {
  const deadline = o.clock.now() + (o.startWaitMs ?? 15_000);
  let gone = false;
  void exited?.then(() => (gone = true));
  for (;;) {
    const owner = await liveMonitor(o.dataDir);
    if (mine(owner, o.extensionDir)) return owner;
    if (o.clock.now() >= deadline || (gone && !owner)) return undefined;
    await o.clock.sleep(50);
  }
}

export class SystemdMonitorSupervisor implements MonitorSupervisor {
  readonly kind = 'systemd' as const;
  constructor(private readonly o: SupervisorOptions) {}

  async ensureRunning(): Promise<{ started: boolean; detail: string }> {
    const o = this.o;
    const unit = renderMonitorUnit({ nodePath: o.nodePath, monitorScript: o.monitorScript, extensionDir: o.extensionDir, version: o.version, env: o.env });
    const current = await o.fs.readText(MONITOR_UNIT_PATH);
    const owner = await liveMonitor(o.dataDir);
    if (current === unit && mine(owner, o.extensionDir)) return { started: false, detail: `${MONITOR_UNIT} runs (pid ${owner!.pid})` };
    const cmd = await o.cmd();
    const systemctl = async (...args: string[]) => {
      const r = await cmd.run('systemctl', args, { timeoutMs: 60_000 });
      if (r.exitCode !== 0) throw new Error(`systemctl ${args.join(' ')} failed (exit ${r.exitCode}): ${(r.stderr || r.stdout).trim().split('\n').slice(-2).join(' ')}`);
    };
    if (current !== unit) {
      await o.fs.writeAtomic(MONITOR_UNIT_PATH, unit, 0o644);
      await systemctl('daemon-reload');
    }
    await systemctl('enable', MONITOR_UNIT);
    await cmd.run('systemctl', ['reset-failed', MONITOR_UNIT], { timeoutMs: 60_000 });
    // restart, not start: a monitor of the previous version (an update) runs in the same unit.
    await systemctl(current !== unit ? 'restart' : 'start', MONITOR_UNIT);
    const now = await waitForMonitor(o);
    if (!now) throw new Error(`${MONITOR_UNIT} did not start; see journalctl -u ${MONITOR_UNIT}`);
    return { started: true, detail: `${MONITOR_UNIT} ${current !== unit ? 'installed and started' : 'started'} (pid ${now.pid})` };
  }

  async remove(): Promise<void> {
    const o = this.o;
    const cmd = await o.cmd();
    if ((await o.fs.exists(MONITOR_UNIT_PATH)) || (await liveMonitor(o.dataDir))) {
      await cmd.run('systemctl', ['disable', '--now', MONITOR_UNIT], { timeoutMs: 60_000 });
      await o.fs.remove(MONITOR_UNIT_PATH);
      await cmd.run('systemctl', ['daemon-reload'], { timeoutMs: 60_000 });
      await cmd.run('systemctl', ['reset-failed', MONITOR_UNIT], { timeoutMs: 60_000 });
    }
    // A monitor started outside the unit (before systemd ran, by hand) goes too.
    const left = await liveMonitor(o.dataDir);
    if (left) await stopProcess(left, 10_000, o.clock);
  }
}

export class DirectMonitorSupervisor implements MonitorSupervisor {
  readonly kind = 'direct' as const;
  constructor(private readonly o: SupervisorOptions) {}

  async ensureRunning(): Promise<{ started: boolean; detail: string }> {
    const o = this.o;
    const owner = await liveMonitor(o.dataDir);
    if (mine(owner, o.extensionDir)) return { started: false, detail: `monitor runs (pid ${owner!.pid})` };
    // A new session: neither the agent's process-group kill nor our exit reaches it. The monitor
    // itself replaces a monitor of another version and backs off from a twin.
    const launched = await spawnSetsid({ argv: monitorArgv(o), cwd: o.extensionDir, env: monitorEnvironment(o) });
    const now = await waitForMonitor(o, launched.exited);
    if (!now) throw new Error(`the monitor (${launched.label}) did not start; see monitor.log in the extension's log folder`);
    return { started: true, detail: `monitor started (pid ${now.pid})` };
  }

  async remove(): Promise<void> {
    const owner = await liveMonitor(this.o.dataDir);
    if (owner) await stopProcess(owner, 10_000, this.o.clock);
  }
}

export function makeMonitorSupervisor(o: SupervisorOptions & { systemd: boolean }): MonitorSupervisor {
  return o.systemd ? new SystemdMonitorSupervisor(o) : new DirectMonitorSupervisor(o);
}

export { MONITOR_UNIT };
