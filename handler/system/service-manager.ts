// How dockerd is run: systemd on a VM, a directly spawned process where systemd is not PID 1
// (containers, WSL, the development machine). The engine code only sees this interface.
import type { ManagerSpec } from './manager-spec.js';
import type { Clock, CommandRunner, FileSystem } from './ports.js';
import { SystemdServiceManager } from './systemd-manager.js';
import { DirectServiceManager } from './direct-manager.js';

export type ServiceManagerKind = 'systemd' | 'direct';

/** Where dockerd's command-line flags come from, as far as daemon.json conflicts go. */
export interface DaemonLaunch {
  manager: ServiceManagerKind;
  /** Absolute path of dockerd as this machine runs it; undefined when no engine is found. */
  dockerdPath?: string;
  /**
   * Flags our drop-in replaces when it resets ExecStart (systemd: the ExecStart in effect without
   * our drop-in, environment expanded). Empty for the direct manager.
   */
  replaceableArgs: string[];
  replaceableSource?: string;
  /** Flags that stay on dockerd's command line whatever we write (direct manager's own arguments). */
  fixedArgs: string[];
  fixedSource?: string;
  /** Set when a foreign drop-in sorting after ours also sets ExecStart: ours could not win. */
  overriddenBy?: string;
  /** The vendor unit passes -H fd:// (docker.socket hands dockerd the local socket). */
  socketActivated: boolean;
  /** The local socket path clients use (docker.socket's ListenStream, or dockerd's default). */
  socketPath: string;
  /** Whether the service unit exists at all (systemd) / dockerd binary exists (direct). */
  installed: boolean;
  /** Our drop-in is currently on disk (systemd). */
  dropInPresent?: boolean;
  /**
   * direct: the running dockerd was not started with this manager's command line (an admin
   * started it by hand), and these of its flags the manager would not pass again.
   */
  handStarted?: { pid: number; foreignArgs: string[] };
  notes: string[];
}

export interface ServiceStatus {
  active: boolean;
  pid?: number;
  /** Starts at boot. Always true for the direct manager (nothing to enable). */
  enabled: boolean;
}

export interface ServiceManager {
  readonly kind: ServiceManagerKind;
  /** Human description for steps ("systemd unit docker.service", "dockerd pid file /run/docker.pid"). */
  readonly description: string;
  /** How to reach this manager again from another process (the monitor). */
  readonly spec: ManagerSpec | undefined;
  inspect(): Promise<DaemonLaunch>;
  status(): Promise<ServiceStatus>;
  start(): Promise<void>;
  /** Stops dockerd (systemd: docker.socket first, so socket activation cannot resurrect it). */
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** SIGHUP: dockerd re-reads the reloadable part of daemon.json. */
  reload(): Promise<void>;
  enable(): Promise<void>;
  /** Re-read unit files (systemd); no-op elsewhere. */
  daemonReload(): Promise<void>;
  /** Clear a start-limit-hit failed state before a retry (systemd); no-op elsewhere. */
  resetFailed(): Promise<void>;
  /** The daemon's own log since the last start attempt (journal or log file), newest last. */
  recentLog(lines: number): Promise<string>;
}

export interface DetectOptions {
  fs: FileSystem;
  cmd: CommandRunner;
  clock: Clock;
}

/**
 * systemd is PID 1 exactly when /run/systemd/system exists (sd_booted(3)). The direct manager's
 * defaults are dockerd's own defaults, so a dockerd started by hand is found by its pid file.
 */
export async function detectServiceManager(opts: DetectOptions): Promise<ServiceManager> {
  if (await opts.fs.exists('/run/systemd/system')) {
    return new SystemdServiceManager({ fs: opts.fs, cmd: opts.cmd });
  }
  return new DirectServiceManager({ clock: opts.clock });
}

/** The manager a recorded spec describes (the monitor's view of how the extension runs dockerd). */
export function serviceManagerFromSpec(spec: ManagerSpec, opts: DetectOptions): ServiceManager {
  if (spec.kind === 'systemd') return new SystemdServiceManager({ fs: opts.fs, cmd: opts.cmd, unit: spec.unit });
  return new DirectServiceManager({
    clock: opts.clock,
    dockerdPath: spec.dockerdPath,
    configFile: spec.configFile,
    pidFile: spec.pidFile,
    logFile: spec.logFile,
    socketPath: spec.socketPath,
    extraArgs: spec.extraArgs,
  });
}

/** Extracts the lines of a dockerd log that say why it stopped, newest last. */
export function dockerdFailureReason(log: string): string | undefined {
  const lines = log
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const picked: string[] = [];
  for (const l of lines) {
    const msg = logfmtMessage(l);
    const level = /level=(\w+)/.exec(l)?.[1];
    if (
      level === 'fatal' ||
      /^(unable to configure the Docker daemon|failed to start daemon|Error starting daemon|invalid|the following directives)/i.test(msg) ||
      /(failed to load listeners|could not load x509|address already in use|no sockets found via socket activation|specified both as a flag and in the configuration file|don't match any configuration option)/i.test(msg)
    ) {
      if (!picked.includes(msg)) picked.push(msg);
    }
  }
  if (picked.length > 0) return picked.slice(-2).join('; ');
  return undefined;
}

/**
 * Why dockerd refused its last SIGHUP: the errors it logged after "Got signal to reload
 * configuration" (it logs nothing else about a refused reload; an applied one sends an event).
 */
export function reloadFailureReason(log: string): string | undefined {
  const lines = log.split(/\r?\n/);
  let from = -1;
  lines.forEach((l, i) => {
    if (/signal to reload configuration/.test(l)) from = i;
  });
  if (from < 0) return undefined;
  const errors = lines.slice(from + 1).filter((l) => /level=(error|fatal)/.test(l)).map((l) => logfmtMessage(l.trim()));
  return errors.length > 0 ? [...new Set(errors)].slice(-2).join('; ') : undefined;
}

function logfmtMessage(line: string): string {
  // journal lines: "Nov 27 10:00:00 vm dockerd[123]: time=... level=... msg=\"...\""
  const m = /msg="((?:[^"\\]|\\.)*)"/.exec(line);
  if (m) return m[1]!.replace(/\\"/g, '"').replace(/\\\\/g, '\\');
  const j = /dockerd\[\d+\]:\s*(.*)$/.exec(line);
  return (j ? j[1]! : line).trim();
}
