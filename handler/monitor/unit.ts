// The monitor's systemd unit. Pure rendering; the supervisor writes it.
//
// - Its own unit, not a process forked from enable: under cgroups that would live in the enable's
//   transient scope, and where the agent runs commands without cgroups (Debian) in
//   walinuxagent.service's cgroup, which every agent restart kills.
// - Before the agent at boot, so the heartbeat is fresh before the agent first reads it.
// - Restart=on-failure: a crash comes back; a monitor that stops because its extension directory
//   was removed (an update replaced it, the agent cleaned it up) exits 0 and stays down, and
//   ConditionPathExists keeps a stale unit from failing at the next boot.
// - The CPU quota is the one HandlerManifest.json declares under resourceLimits.services; the agent
//   applies it only at runtime (systemctl set-property --runtime), so the unit carries it too.

import { BASE_ENV } from '../system/base-env.js';

export const MONITOR_UNIT = 'azure-docker-extension-monitor.service';
export const MONITOR_UNIT_PATH = `/etc/systemd/system/${MONITOR_UNIT}`;
export const MONITOR_CPU_QUOTA_PERCENT = 10;
/** A safety net far above the measured footprint: a leak is restarted instead of starving the VM. */
export const MONITOR_MEMORY_MAX_MB = 256;
/**
 * A process that holds almost nothing and does little, for weeks: V8 without its optimising
 * compilers (--lite-mode: the monitor's work is a few file reads and probes a minute) and with a
 * small young generation; glibc with few malloc arenas and libuv with few threads, so that bursts
 * of file events do not leave fragmented arenas resident. Measured with `npm run bench monitor`.
 */
export const MONITOR_NODE_FLAGS = ['--lite-mode', '--max-semi-space-size=1', '--max-old-space-size=48'];
export const MONITOR_PROCESS_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2', UV_THREADPOOL_SIZE: '2' };

export interface MonitorUnitInput {
  nodePath: string;
  monitorScript: string;
  extensionDir: string;
  version: string;
  /** Extra environment for the monitor (log level, test switches). */
  env?: Record<string, string>;
}

/** The monitor's command line, in its unit and where it is spawned without systemd. */
export function monitorArgv(u: Pick<MonitorUnitInput, 'nodePath' | 'monitorScript'>): string[] {
  return [u.nodePath, ...MONITOR_NODE_FLAGS, u.monitorScript, '__monitor'];
}

/** The monitor's whole environment, the same under systemd and without it. */
export function monitorEnvironment(u: Omit<MonitorUnitInput, 'nodePath' | 'monitorScript'>): Record<string, string> {
  return {
    ...BASE_ENV,
    AZURE_GUEST_AGENT_EXTENSION_PATH: u.extensionDir,
    AZURE_GUEST_AGENT_EXTENSION_VERSION: u.version,
    ...MONITOR_PROCESS_ENV,
    ...u.env,
  };
}

/** systemd's quoting for one word of ExecStart= / Environment=. */
export function systemdQuote(word: string): string {
  const escaped = word.replace(/%/g, '%%'); // % starts a specifier in ExecStart= and Environment=
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(escaped)) return escaped;
  return `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

export function renderMonitorUnit(u: MonitorUnitInput): string {
  const exec = monitorArgv(u).map(systemdQuote).join(' ');
  return [
    '# Written by the Azure Docker extension handler; rewritten by every enable, removed by uninstall.',
    '[Unit]',
    'Description=Azure Docker extension monitor (keeps the extension heartbeat true)',
    'After=local-fs.target',
    'Before=walinuxagent.service waagent.service',
    `ConditionPathExists=${u.monitorScript}`,
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=${exec}`,
    `WorkingDirectory=${systemdQuote(u.extensionDir)}`,
    ...Object.entries(monitorEnvironment(u)).map(([k, v]) => `Environment=${systemdQuote(`${k}=${v}`)}`),
    'Restart=on-failure',
    'RestartSec=5',
    'CPUAccounting=yes',
    'MemoryAccounting=yes',
    `CPUQuota=${MONITOR_CPU_QUOTA_PERCENT}%`,
    `MemoryMax=${MONITOR_MEMORY_MAX_MB}M`,
    'Nice=10',
    // No core dump: the monitor reads the TLS key's file to watch it (handler/agent/sanitise.ts).
    'LimitCORE=0',
    'KillMode=control-group',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}
