// dockerd without systemd as PID 1 (containers, WSL, the development machine): started detached
// in its own session with a pid file and a log file, reloaded with SIGHUP, stopped with SIGTERM.
import { closeSync, constants as fsc, fstatSync, openSync, promises as fsp, existsSync } from 'node:fs';
import * as path from 'node:path';
import { StepFailedError } from '../errors.js';
import { BASE_ENV } from './base-env.js';
import { writeError } from './fs.js';
import type { ManagerSpec } from './manager-spec.js';
import type { Clock } from './ports.js';
import type { DaemonLaunch, ServiceManager, ServiceStatus } from './service-manager.js';

export interface DirectOptions {
  clock: Clock;
  /** Default: the first of /usr/bin/dockerd, /usr/sbin/dockerd, /usr/local/bin/dockerd that exists. */
  dockerdPath?: string;
  /** Real path dockerd reads (--config-file). Default /etc/docker/daemon.json. */
  configFile?: string;
  /** Default /var/run/docker.pid (dockerd's own default, so a hand-started dockerd is found). */
  pidFile?: string;
  /** stdout+stderr of dockerd. Default /var/log/dockerd.log. */
  logFile?: string;
  /** More flags for dockerd; they stay on the command line (daemon.json must not repeat them). */
  extraArgs?: string[];
  env?: Record<string, string>;
  /** Local socket clients use when daemon.json sets no hosts. */
  socketPath?: string;
  stopTimeoutMs?: number;
  pollMs?: number;
}

const DOCKERD_CANDIDATES = ['/usr/bin/dockerd', '/usr/sbin/dockerd', '/usr/local/bin/dockerd'];

export class DirectServiceManager implements ServiceManager {
  readonly kind = 'direct' as const;
  readonly description: string;
  readonly configFile: string;
  readonly pidFile: string;
  readonly logFile: string;
  private readonly clock: Clock;
  private readonly extraArgs: string[];
  private readonly stopTimeoutMs: number;
  private readonly pollMs: number;
  private spawnedPid: number | undefined;
  private logOffset: number | undefined;
  private lastExit: { pid: number; code: number | null; signal: string | null } | undefined;

  constructor(private readonly opts: DirectOptions) {
    this.clock = opts.clock;
    this.configFile = opts.configFile ?? '/etc/docker/daemon.json';
    this.pidFile = opts.pidFile ?? '/var/run/docker.pid';
    this.logFile = opts.logFile ?? '/var/log/dockerd.log';
    this.extraArgs = opts.extraArgs ?? [];
    this.stopTimeoutMs = opts.stopTimeoutMs ?? 30_000;
    this.pollMs = opts.pollMs ?? 25;
    this.description = `dockerd started directly (pid file ${this.pidFile}, log ${this.logFile})`;
  }

  get dockerdPath(): string | undefined {
    return this.opts.dockerdPath ?? DOCKERD_CANDIDATES.find((c) => existsSync(c));
  }

  get spec(): ManagerSpec | undefined {
    const dockerdPath = this.dockerdPath;
    if (dockerdPath === undefined) return undefined;
    return {
      kind: 'direct',
      dockerdPath,
      configFile: this.configFile,
      pidFile: this.pidFile,
      logFile: this.logFile,
      socketPath: this.opts.socketPath ?? '/var/run/docker.sock',
      extraArgs: this.extraArgs,
    };
  }

  /**
   * `--config-file` only while the file exists. dockerd refuses a --config-file that is not there
   * ("open /etc/docker/daemon.json: no such file or directory") but starts with its own defaults
   * when its default file is missing, and a machine without daemon.json is a normal one (the
   * extension removes the file it created when it owns nothing in it any more, an admin may delete
   * it). Started this way dockerd runs exactly as it would by hand, so the command line never
   * claims a file that is not there. Keeping an empty file instead would leave the admin a file
   * they never had, and a file deleted by hand would still stop every later start (the monitor's
   * too). The other way round, an existing file is always named, so a relocated configFile is
   * read wherever it lives.
   */
  configFileArgs(): string[] {
    return existsSync(this.configFile) ? ['--config-file', this.configFile] : [];
  }

  /** The flags this manager always passes, apart from --config-file. */
  get fixedArgs(): string[] {
    return ['--pidfile', this.pidFile, ...this.extraArgs];
  }

  async inspect(): Promise<DaemonLaunch> {
    const dockerd = this.dockerdPath;
    const launch: DaemonLaunch = {
      manager: 'direct',
      replaceableArgs: [],
      fixedArgs: this.fixedArgs,
      fixedSource: 'the arguments the direct service manager passes to dockerd',
      socketActivated: false,
      socketPath: this.opts.socketPath ?? '/var/run/docker.sock',
      installed: dockerd !== undefined && existsSync(dockerd),
      notes: [],
    };
    if (dockerd !== undefined) launch.dockerdPath = dockerd;
    const hand = await this.handStarted();
    if (hand) launch.handStarted = hand;
    return launch;
  }

  /**
   * A running dockerd whose command line (/proc/<pid>/cmdline) carries flags this manager would
   * not pass again: started by hand, not by the extension or the monitor. Its --config-file and
   * --pidfile when they name this manager's files, and this manager's own extra arguments, are
   * not counted (restarting it with them loses nothing; a plain `dockerd` reads the same defaults).
   */
  async handStarted(): Promise<{ pid: number; foreignArgs: string[] } | undefined> {
    const pid = await this.currentPid();
    if (pid === undefined || pid === this.spawnedPid) return undefined;
    let argv: string[];
    try {
      argv = (await fsp.readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    } catch {
      return undefined;
    }
    if (argv.at(-1) === '') argv.pop();
    const args = argv.slice(1);
    const extraAt = indexOfSlice(args, this.extraArgs);
    const rest = extraAt >= 0 && this.extraArgs.length > 0 ? [...args.slice(0, extraAt), ...args.slice(extraAt + this.extraArgs.length)] : args;
    const foreignArgs: string[] = [];
    for (let i = 0; i < rest.length; i++) {
      const a = rest[i]!;
      const eq = /^(--config-file|--pidfile|-p)=(.*)$/.exec(a);
      const [flag, value, width] = eq ? [eq[1]!, eq[2]!, 1] : [a, rest[i + 1], 2];
      const ownFile = flag === '--config-file' ? this.configFile : flag === '--pidfile' || flag === '-p' ? this.pidFile : undefined;
      if (ownFile !== undefined && value === ownFile) {
        i += width - 1;
        continue;
      }
      foreignArgs.push(a);
    }
    return foreignArgs.length > 0 ? { pid, foreignArgs } : undefined;
  }

  async status(): Promise<ServiceStatus> {
    const pid = await this.currentPid();
    return pid === undefined ? { active: false, enabled: true } : { active: true, pid, enabled: true };
  }

  async start(): Promise<void> {
    if ((await this.currentPid()) !== undefined) return;
    const dockerd = this.dockerdPath;
    if (dockerd === undefined || !existsSync(dockerd)) throw new StepFailedError(`dockerd not found${dockerd ? ` at ${dockerd}` : ''}`, 'ENODOCKERD');
    await fsp.mkdir(path.dirname(this.logFile), { recursive: true, mode: 0o755 });
    const fd = openDockerdLog(this.logFile);
    this.logOffset = fstatSync(fd).size;
    const args = [...this.configFileArgs(), ...this.fixedArgs];
    // Loaded here: the monitor, which holds this manager for weeks, spawns dockerd rarely if ever.
    const { spawn } = await import('node:child_process');
    let child;
    try {
      // detached: own session and process group, so the handler's exit (or the agent killing
      // its process group) does not take dockerd down.
      const [file, argv] = await withInitCoreLimit(dockerd, args);
      child = spawn(file, argv, { detached: true, stdio: ['ignore', fd, fd], env: { ...BASE_ENV, ...this.opts.env } });
    } finally {
      closeSync(fd);
    }
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (e) => reject(new StepFailedError(`cannot start ${dockerd}: ${e.message}`, 'EDOCKERDSPAWN', e)));
    });
    const pid = child.pid!;
    child.once('exit', (code, signal) => {
      this.lastExit = { pid, code, signal };
    });
    child.unref();
    this.spawnedPid = pid;
  }

  async stop(): Promise<void> {
    const pid = await this.currentPid();
    if (pid === undefined) return;
    signal(pid, 'SIGTERM');
    if (await this.waitGone(pid, this.stopTimeoutMs)) return;
    signal(pid, 'SIGKILL');
    if (!(await this.waitGone(pid, 5_000))) throw new StepFailedError(`dockerd (pid ${pid}) did not stop after SIGTERM and SIGKILL`, 'EDOCKERDSTOP');
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async reload(): Promise<void> {
    const pid = await this.currentPid();
    if (pid === undefined) throw new StepFailedError('cannot reload dockerd: it is not running', 'EDOCKERDRELOAD');
    signal(pid, 'SIGHUP');
  }

  async enable(): Promise<void> {}
  async daemonReload(): Promise<void> {}
  async resetFailed(): Promise<void> {}

  async recentLog(lines: number): Promise<string> {
    let text: string;
    try {
      text = await readLogTail(this.logFile, this.logOffset ?? 0);
    } catch {
      return '';
    }
    const exit = this.lastExit && this.lastExit.pid === this.spawnedPid ? `\n(dockerd exited with ${this.lastExit.signal ?? `code ${this.lastExit.code}`})` : '';
    return text.split('\n').slice(-lines - 1).join('\n').trimEnd() + exit;
  }

  /** The running dockerd's pid: the pid file's, else the one we spawned while it has not written it yet. */
  private async currentPid(): Promise<number | undefined> {
    let fromFile: number | undefined;
    try {
      const n = Number.parseInt((await fsp.readFile(this.pidFile, 'utf8')).trim(), 10);
      if (n > 0) fromFile = n;
    } catch {
      // no pid file
    }
    for (const pid of [fromFile, this.spawnedPid]) {
      if (pid !== undefined && (await isLiveDockerd(pid))) return pid;
    }
    return undefined;
  }

  private async waitGone(pid: number, ms: number): Promise<boolean> {
    const deadline = this.clock.now() + ms;
    while (this.clock.now() < deadline) {
      if (!(await isLive(pid))) return true;
      await this.clock.sleep(this.pollMs);
    }
    return !(await isLive(pid));
  }
}

/**
 * The handler runs with core dumps off (scripts/handler.sh lowers the soft limit: a crashed
 * worker's core would hold the TLS key and the agent's keys), and a child inherits that limit.
 * dockerd, and through it every container, must not: it gets init's (PID 1's) soft limit back,
 * capped by the hard limit handler.sh left alone (raising that would need CAP_SYS_RESOURCE),
 * through util-linux's prlimit, which sets it and execs dockerd, so dockerd's own command line
 * is unchanged. Without prlimit, or when the soft limits already match, dockerd starts directly.
 */
async function withInitCoreLimit(dockerd: string, args: string[]): Promise<[string, string[]]> {
  const core = async (pid: string) => /^Max core file size\s+(\S+)\s+(\S+)/m.exec(await fsp.readFile(`/proc/${pid}/limits`, 'utf8').catch(() => ''))?.slice(1, 3);
  const [init, mine] = await Promise.all([core('1'), core('self')]);
  if (!init || !mine) return [dockerd, args];
  const size = (v: string) => (v === 'unlimited' ? Infinity : Number(v));
  const soft = size(init[0]!) <= size(mine[1]!) ? init[0]! : mine[1]!;
  const prlimit = ['/usr/bin/prlimit', '/bin/prlimit'].find((p) => existsSync(p));
  if (soft === mine[0] || !prlimit) return [dockerd, args];
  return [prlimit, [`--core=${soft}:`, dockerd, ...args]];
}

function indexOfSlice(haystack: readonly string[], needle: readonly string[]): number {
  if (needle.length === 0) return -1;
  for (let i = 0; i + needle.length <= haystack.length; i++) {
    if (needle.every((n, j) => haystack[i + j] === n)) return i;
  }
  return -1;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

/** Alive and not a zombie (an exited child not yet reaped still answers kill 0). */
async function isLive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  try {
    const stat = await fsp.readFile(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/**
 * What a pid file says about dockerd: `pid` when that dockerd runs; `stalePid` when the file names
 * a process that is gone (dockerd was killed: only a clean exit removes its pid file).
 */
export async function dockerdFromPidFile(pidFile: string): Promise<{ pid?: number; stalePid?: number }> {
  let pid: number;
  try {
    pid = Number.parseInt((await fsp.readFile(pidFile, 'utf8')).trim(), 10);
  } catch {
    return {};
  }
  if (!(pid > 0)) return {};
  return (await isLiveDockerd(pid)) ? { pid } : { stalePid: pid };
}

/** Guards against a recycled pid in a stale pid file. */
async function isLiveDockerd(pid: number): Promise<boolean> {
  if (!(await isLive(pid))) return false;
  try {
    return (await fsp.readFile(`/proc/${pid}/comm`, 'utf8')).trim() === 'dockerd';
  } catch {
    return false;
  }
}

/**
 * dockerd's stdout/stderr, appended by root: never through a link planted in its place, never a
 * FIFO (whose open would block the start). The folder is the system's log folder, not ours.
 */
function openDockerdLog(file: string): number {
  let fd: number;
  try {
    fd = openSync(file, fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT | fsc.O_NOFOLLOW | fsc.O_NONBLOCK, 0o640);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ELOOP' || code === 'ENXIO') {
      throw new StepFailedError(`${file} is ${code === 'ELOOP' ? 'a symbolic link' : 'a FIFO'}; dockerd's log must be a regular file. Remove it and retry.`, 'EDOCKERDLOG', e);
    }
    throw writeError(e, "open dockerd's log", file);
  }
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    throw new StepFailedError(`${file} is not a regular file; dockerd's log must be one. Move it away and retry.`, 'EDOCKERDLOG');
  }
  return fd;
}

/** What dockerd wrote since `from`, at most the last 256 KiB: the log grows for as long as dockerd runs. */
async function readLogTail(file: string, from: number): Promise<string> {
  const fh = await fsp.open(file, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  try {
    const st = await fh.stat();
    if (!st.isFile()) return '';
    const start = Math.max(Math.min(from, st.size), st.size - 256 * 1024);
    const buf = Buffer.alloc(st.size - start);
    const { bytesRead } = await fh.read(buf, 0, buf.length, start);
    return buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await fh.close();
  }
}
