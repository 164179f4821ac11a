// Fakes for the engine's ports: a recording CommandRunner with scripted replies, a Clock whose
// sleeps are instant, a ServiceManager and a DaemonProbe that a test can make fail.
import type { Clock, CommandResult, CommandRunner, RunOptions } from '../../handler/system/ports.js';
import type { ManagerSpec } from '../../handler/system/manager-spec.js';
import type { DaemonLaunch, ServiceManager, ServiceStatus } from '../../handler/system/service-manager.js';
import type { DaemonInfo, DaemonProbe, PlainProbe, ReloadWatch, SocketPing, TlsProbe } from '../../handler/docker/health.js';

export interface RecordedCall {
  file: string;
  args: string[];
  env?: Record<string, string>;
  input?: string;
}

export type Reply = Partial<CommandResult> | ((call: RecordedCall) => Partial<CommandResult> | Promise<Partial<CommandResult>>);

/**
 * Replies are matched by a prefix of the argv line ("apt-get -q update"); a list of replies is
 * used in order, the last one repeating. Unmatched commands succeed with empty output.
 */
export class FakeCommandRunner implements CommandRunner {
  readonly calls: RecordedCall[] = [];
  private readonly script: { match: string | RegExp; replies: Reply[] }[] = [];

  on(match: string | RegExp, ...replies: Reply[]): this {
    this.script.push({ match, replies });
    return this;
  }

  async run(file: string, args: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
    const call: RecordedCall = { file, args: [...args] };
    if (opts.env) call.env = opts.env;
    if (opts.input !== undefined) call.input = opts.input;
    this.calls.push(call);
    const line = [file, ...args].join(' ');
    const entry = this.script.find((s) => (typeof s.match === 'string' ? line.startsWith(s.match) : s.match.test(line)));
    let reply: Reply = {};
    if (entry) reply = entry.replies.length > 1 ? entry.replies.shift()! : (entry.replies[0] ?? {});
    const r = typeof reply === 'function' ? await reply(call) : reply;
    return { exitCode: r.exitCode ?? 0, stdout: r.stdout ?? '', stderr: r.stderr ?? '', timedOut: r.timedOut ?? false };
  }

  lines(): string[] {
    return this.calls.map((c) => [c.file, ...c.args].join(' '));
  }
}

export class FakeClock implements Clock {
  slept: number[] = [];
  constructor(public t = Date.UTC(2026, 10, 27, 12, 0, 0)) {}
  now(): number {
    return this.t;
  }
  async sleep(ms: number): Promise<void> {
    this.slept.push(ms);
    this.t += ms;
  }
  get totalSlept(): number {
    return this.slept.reduce((a, b) => a + b, 0);
  }
}

export class FakeServiceManager implements ServiceManager {
  readonly kind: 'systemd' | 'direct';
  readonly description = 'fake service manager';
  readonly calls: string[] = [];
  active: boolean;
  enabled = true;
  pid = 1000;
  /** When set, the next start/restart "fails": dockerd exits and the log says this. */
  failStarts = 0;
  failReason = 'failed to start daemon: something broke';
  log = '';
  launch: DaemonLaunch;

  constructor(opts: { kind?: 'systemd' | 'direct'; active?: boolean; launch?: Partial<DaemonLaunch> } = {}) {
    this.kind = opts.kind ?? 'direct';
    this.active = opts.active ?? true;
    this.launch = {
      manager: this.kind,
      dockerdPath: '/usr/bin/dockerd',
      replaceableArgs: [],
      fixedArgs: [],
      socketActivated: false,
      socketPath: '/var/run/docker.sock',
      installed: true,
      notes: [],
      ...opts.launch,
    };
  }
  get spec(): ManagerSpec {
    return this.kind === 'systemd'
      ? { kind: 'systemd', unit: 'docker.service' }
      : { kind: 'direct', dockerdPath: '/usr/bin/dockerd', configFile: '/etc/docker/daemon.json', pidFile: '/var/run/docker.pid', logFile: '/var/log/dockerd.log', socketPath: '/var/run/docker.sock', extraArgs: [] };
  }
  async inspect(): Promise<DaemonLaunch> {
    this.calls.push('inspect');
    return structuredClone(this.launch);
  }
  async status(): Promise<ServiceStatus> {
    return this.active ? { active: true, pid: this.pid, enabled: this.enabled } : { active: false, enabled: this.enabled };
  }
  private launchOnce(what: string): void {
    this.calls.push(what);
    if (this.failStarts > 0) {
      this.failStarts--;
      this.active = false;
      this.log += `time="2026-11-27T12:00:00Z" level=info msg="Starting up"\n${this.failReason}\n`;
      return;
    }
    this.active = true;
    this.pid++;
  }
  async start(): Promise<void> {
    if (this.active) {
      this.calls.push('start');
      return;
    }
    this.launchOnce('start');
  }
  async restart(): Promise<void> {
    this.launchOnce('restart');
  }
  async stop(): Promise<void> {
    this.calls.push('stop');
    this.active = false;
  }
  async reload(): Promise<void> {
    this.calls.push('reload');
  }
  async enable(): Promise<void> {
    this.calls.push('enable');
    this.enabled = true;
  }
  async daemonReload(): Promise<void> {
    this.calls.push('daemon-reload');
  }
  async resetFailed(): Promise<void> {
    this.calls.push('reset-failed');
  }
  async recentLog(): Promise<string> {
    return this.log;
  }
}

/** Healthy unless told otherwise; the TLS answer reports the fingerprint it is given. */
export class FakeProbe implements DaemonProbe {
  socketOk = true;
  tls: Partial<TlsProbe> = {};
  fingerprint?: string;
  readonly calls: string[] = [];
  async pingSocket(socketPath: string): Promise<SocketPing> {
    this.calls.push(`ping ${socketPath}`);
    return this.socketOk ? { ok: true, detail: 'OK', version: '27.5.1', apiVersion: '1.47' } : { ok: false, detail: 'ECONNREFUSED' };
  }
  /** What dockerd does with the next SIGHUP: applies it, rejects it (no reload event), or no event stream at all. */
  reload: 'applied' | 'rejected' | 'unobservable' = 'applied';
  async watchReload(): Promise<ReloadWatch | undefined> {
    this.calls.push('watch reload');
    if (this.reload === 'unobservable') return undefined;
    const applied = this.reload === 'applied';
    return { reloaded: async () => applied, close: () => undefined };
  }
  swarm = false;
  liveRestore: boolean | undefined;
  async info(): Promise<DaemonInfo | undefined> {
    this.calls.push('info');
    return { swarmActive: this.swarm, ...(this.liveRestore !== undefined ? { liveRestore: this.liveRestore } : {}) };
  }
  async probeTls(host: string, port: number): Promise<TlsProbe> {
    this.calls.push(`tls ${host}:${port}`);
    const r: TlsProbe = { reachable: true, serverVerified: true, clientCertRequired: true, detail: 'refused', ...this.tls };
    if (this.fingerprint && r.fingerprint256 === undefined) r.fingerprint256 = this.fingerprint;
    return r;
  }
  async probeTcp(host: string, port: number): Promise<PlainProbe> {
    this.calls.push(`tcp ${host}:${port}`);
    return { ok: true, detail: 'accepts connections' };
  }
  async probePlain(host: string, port: number): Promise<PlainProbe> {
    this.calls.push(`plain ${host}:${port}`);
    return { ok: true, detail: 'OK' };
  }
}
