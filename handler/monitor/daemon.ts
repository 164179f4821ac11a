// The monitor: one long-lived process per VM that keeps the heartbeat true between agent
// commands. It reacts to events (dockerd's event stream ending, file changes under chokidar) and
// keeps one coarse timer that rewrites the heartbeat every minute; it holds no state that a kill
// could corrupt, so systemd (or the next enable) simply starts it again.
import { READ_LIMITS } from '../system/ports.js';
import { FINGERPRINT_LABEL } from '../crypto/fingerprint.js';
import { watch, type FSWatcher } from 'chokidar';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { writeHeartbeat } from '../agent/heartbeat.js';
import type { HandlerEnvironment } from '../agent/handler-env.js';
import type { EventLevel } from '../agent/events.js';
import { openEventStream, type EventStream } from '../docker/event-stream.js';
import type { DaemonProbe } from '../docker/health.js';
import type { LogSink } from '../log/line-log.js';
import { dockerdFromPidFile } from '../system/direct-manager.js';
import { isListening } from '../system/listening.js';
import type { Clock, CommandRunner, FileSystem } from '../system/ports.js';
import { dockerdFailureReason, serviceManagerFromSpec } from '../system/service-manager.js';
import { describeOwner, isOwnerAlive, readLockOwner, tryWorkerLock, workerLockFile, type LockOwner, type MonitorTask } from '../system/worker-lock.js';
import { renewalGate } from './test-gate.js';
import { detectDrift, type DriftItem } from './drift.js';
import { acquireMonitorLock } from './lock.js';
import { CertificateReader, readWatchedFiles } from './read-files.js';
import { DEBOUNCE_MS, HEALTHY_RESET_MS, recheckDelay, RESTART_READY_MS, restartDelay, TICK_MS, TLS_RECHECK_MS } from './schedule.js';
import { EMPTY_SPEC, monitorSpecPath, readMonitorSpec, type MonitorSpec, type MonitorTarget } from './spec.js';
import { checkRenewal, renewCertificate, type RenewDeps } from './renew.js';
import { readHostFacts, type HostFacts } from '../docker/issuance.js';

/** How long the VM's names are trusted before they are read again. */
const HOST_FACTS_MS = 5 * 60_000;
import { judge, type CertState, type DaemonHealth, type Observation, type Recovery, type Verdict } from './verdict.js';

export interface MonitorDeps {
  env: HandlerEnvironment;
  version: string;
  fs: FileSystem;
  clock: Clock;
  log: LogSink;
  /** Called on every tick: the log is rotated by size. */
  rotateLog?: () => void;
  probe: DaemonProbe;
  cmd: () => Promise<CommandRunner>;
  emitEvent: (level: EventLevel, message: string) => Promise<void>;
  /** Aborting stops the monitor (tests); SIGTERM does the same in the real process. */
  signal?: AbortSignal;
  /** The VM's names for an issued certificate (certs.issuer); default: the machine's own. */
  hostFacts?: () => Promise<HostFacts>;
  /** Tests only: the file that holds a renewal before its restart (test-gate.ts). */
  renewalGate?: string;
}

/** Runs until stopped; resolves with the process exit code (0: stopped on purpose or a twin runs). */
export async function runMonitor(deps: MonitorDeps): Promise<number> {
  const lock = await acquireMonitorLock(
    deps.env.dataDir,
    { version: deps.version, extensionDir: deps.env.extensionDir },
    { clock: deps.clock, onTakeover: (o) => deps.log.info({ event: 'monitor takes over', fromVersion: o.version, fromPid: o.pid }) },
  );
  if (lock.kind === 'duplicate') {
    deps.log.info({ event: 'monitor already running', pid: lock.owner.pid });
    return 0;
  }
  const m = new Monitor(deps);
  try {
    return await m.run();
  } finally {
    await lock.release();
  }
}

interface TlsResult {
  ok: boolean;
  detail: string;
  at: number;
  pid: number;
  certSha?: string | undefined;
}

interface RestartState {
  /** Failed attempts since dockerd last served for HEALTHY_RESET_MS. */
  failures: number;
  nextAt?: number;
  lastError?: string;
  restartedAt?: number;
  inProgress: boolean;
}

class Monitor {
  private readonly d: MonitorDeps;
  private readonly certs: CertificateReader;
  private pidSeen: number | undefined;
  private exitedPid: number | undefined;
  private unhealthySince: number | undefined;
  private healthySince: number | undefined;
  private tls: TlsResult | undefined;
  private restart: RestartState = { failures: 0, inProgress: false };
  /** The last renewal that failed (the old certificate still serves) and when it is tried again. */
  private renewFailure: { at: number; error: string; nextAt: number } | undefined;
  private renewProblem: string | undefined;
  /** The holder of the worker lock that the last put-off task was logged for (once per holder and task). */
  private putOffLogged: string | undefined;
  /** The record of a dead enable worker that a task of ours took over (and so removed) from the lock. */
  private tookOver: LockOwner | undefined;
  private stream: EventStream | undefined;
  private streamPid: number | undefined;
  private watcher: FSWatcher | undefined;
  /** The files whose events matter, and the directories watched for them. */
  private watched = new Set<string>();
  private watchedDirs = new Set<string>();
  private timers = new Map<string, NodeJS.Timeout>();
  private evaluating = false;
  private pending = false;
  private recheckN = 0;
  private last: { status: string; reasons: string; driftKey: string } | undefined;
  private writeFailed = false;
  private eventBudget = { windowStart: 0, used: 0 };
  private stopped = false;
  private exitCode = 0;
  private resolveRun: (code: number) => void = () => undefined;

  constructor(deps: MonitorDeps) {
    this.d = deps;
    this.certs = new CertificateReader(deps.fs);
  }

  run(): Promise<number> {
    const done = new Promise<number>((r) => (this.resolveRun = r));
    const onSignal = (sig: string) => this.stop(0, `${sig} received`);
    const term = () => onSignal('SIGTERM');
    const int = () => onSignal('SIGINT');
    const hup = () => this.kick('SIGHUP');
    process.on('SIGTERM', term);
    process.on('SIGINT', int);
    process.on('SIGHUP', hup);
    this.d.signal?.addEventListener('abort', () => this.stop(0, 'aborted'));
    this.d.log.info({ event: 'monitor started', version: this.d.version, extensionDir: this.d.env.extensionDir, heartbeatFile: this.d.env.heartbeatFile });
    // Directories, not files: a file watched before it exists, then created by a rename (every
    // atomic write, monitor.json included), is never reported by chokidar; its directory's events are.
    this.watcher = watch([], {
      ignoreInitial: true,
      persistent: true,
      atomic: true,
      depth: 0,
      ignored: (p: string) => !this.watchedDirs.has(p) && !this.watched.has(p),
    });
    this.watcher.on('all', (ev, p) => {
      if (this.watched.has(p)) this.kick(`${ev} ${p}`);
    });
    // chokidar drops a change that leaves the mtime alone once the file was read (a chmod, a
    // chown); the raw inotify event of the directory still names the file.
    this.watcher.on('raw', (ev, p, opts) => {
      const dir = (opts as { watchedPath?: string } | undefined)?.watchedPath;
      if (ev !== 'change' || !dir) return;
      const file = this.watched.has(dir) ? dir : path.join(dir, String(p));
      if (this.watched.has(file)) this.kick(`attributes of ${file}`);
    });
    this.watcher.on('error', (e) => this.d.log.warn({ event: 'file watch error', err: (e as Error).message }));
    this.setTimer('tick', TICK_MS, () => this.onTick());
    void this.evaluate('start');
    return done.finally(() => {
      process.off('SIGTERM', term);
      process.off('SIGINT', int);
      process.off('SIGHUP', hup);
    });
  }

  private onTick(): void {
    this.d.rotateLog?.();
    this.setTimer('tick', TICK_MS, () => this.onTick());
    void this.evaluate('tick');
  }

  private setTimer(name: string, ms: number, fn: () => void): void {
    const old = this.timers.get(name);
    if (old) clearTimeout(old);
    if (this.stopped) return;
    this.timers.set(
      name,
      setTimeout(() => {
        this.timers.delete(name);
        fn();
      }, Math.max(0, ms)),
    );
  }

  private clearTimer(name: string): void {
    const t = this.timers.get(name);
    if (t) clearTimeout(t);
    this.timers.delete(name);
  }

  /** An event: judge again shortly, once per burst. */
  private kick(why: string): void {
    if (this.stopped || this.timers.has('debounce')) return;
    this.setTimer('debounce', DEBOUNCE_MS, () => void this.evaluate(why));
  }

  private stop(code: number, why: string): void {
    if (this.stopped) return;
    this.stopped = true;
    this.exitCode = code;
    this.d.log.info({ event: 'monitor stopping', why });
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.stream?.close();
    void (this.watcher?.close() ?? Promise.resolve()).finally(() => this.resolveRun(this.exitCode));
  }

  private async evaluate(why: string): Promise<void> {
    if (this.stopped) return;
    if (this.evaluating) {
      this.pending = true;
      return;
    }
    this.evaluating = true;
    try {
      do {
        this.pending = false;
        await this.evaluateOnce(why);
      } while (this.pending && !this.stopped);
    } catch (e) {
      this.d.log.error({ event: 'monitor evaluation failed', err: (e as Error).message, stack: (e as Error).stack });
    } finally {
      this.evaluating = false;
    }
  }

  private async evaluateOnce(why: string): Promise<void> {
    const { env, fs, clock } = this.d;
    if (!existsSync(path.join(env.extensionDir, 'HandlerEnvironment.json'))) {
      // An update replaced this version, or the agent removed it: the new version's enable
      // starts its own monitor. Exit 0 so that systemd does not restart this one.
      this.stop(0, `extension directory ${env.extensionDir} is gone`);
      return;
    }
    const now = clock.now();
    const read = await readMonitorSpec(fs, env.dataDir);
    const spec: MonitorSpec = read.kind === 'ok' ? read.spec : EMPTY_SPEC;
    this.syncWatches(spec);
    const lockOwner = await readLockOwner(workerLockFile(env.dataDir));
    // Our own record (a restart of dockerd that runs beside this evaluation) is no one else's work.
    const ours = lockOwner?.kind === 'monitor' && lockOwner.pid === process.pid;
    const worker = lockOwner && !ours && isOwnerAlive(lockOwner) ? lockOwner : undefined;
    // A renewal of a monitor that was killed mid-way (kill -9, a reboot): the new pair may be on
    // disk while dockerd still serves the old one, and nothing else would restart it.
    const cutRenewal = lockOwner && !worker && !ours && lockOwner.kind === 'monitor' && lockOwner.task === 'renew-certificate' ? lockOwner : undefined;

    const obs: Observation = { now, disabled: spec.disabled, drift: [] };
    // A lock left by a dead enable worker: it was killed mid-apply (kill -9, a reboot). Only the
    // next acquirer removes it, so it stays visible until the agent's next enable resumes the work;
    // when that acquirer was a task of ours, we remember the record instead.
    if (worker && (worker.kind ?? 'enable') !== 'monitor') this.tookOver = undefined;
    const dead = lockOwner && !worker && !ours ? lockOwner : lockOwner && !ours ? undefined : this.tookOver;
    if (dead && (dead.kind ?? 'enable') === 'enable' && !(spec.lastEnable && Date.parse(spec.lastEnable.at) >= Date.parse(dead.startedAt))) {
      obs.interrupted = { seq: dead.seq, pid: dead.pid, startedAt: dead.startedAt };
    }
    // An enable or uninstall owns the machine while it runs: no restart of ours may cross it.
    if (worker) this.cancelRestart();
    if (read.kind === 'invalid') obs.specProblem = `${monitorSpecPath(env.dataDir)}: ${read.why}`;
    if (worker) obs.worker = { pid: worker.pid, seq: worker.seq, kind: worker.kind ?? 'enable', startedAt: worker.startedAt };
    if (spec.lastEnable) obs.lastEnable = spec.lastEnable;
    const t = spec.target;
    // A renewal first: what follows observes the certificate that serves after it. Renewed, the
    // record changed (the files' new hashes): judge again from it rather than report drift.
    // While an enable or uninstall runs, a due renewal is put off (renewIfDue finds the lock taken).
    if (t?.issuance && t.tcp?.tls && !spec.disabled && (await this.renewIfDue(t, now, spec.lastEnable?.seq ?? 0, cutRenewal))) {
      this.pending = true;
      return;
    }
    if (spec.renewal) obs.renewal = { last: spec.renewal };
    if (this.renewFailure) obs.renewal = { ...obs.renewal, failure: this.renewFailure };
    if (this.renewProblem) obs.renewal = { ...obs.renewal, problem: this.renewProblem };
    let cert: { state: CertState; sha256?: string; fingerprint256?: string } | undefined;
    if (t) {
      obs.target = t;
      if (t.tcp?.tls) {
        cert = await this.certs.read(t.tcp.tls.certFile);
        obs.cert = cert.state;
      }
      if (!worker) {
        obs.dockerd = await this.observeDockerd(t, spec.disabled, now, cert);
        obs.drift = detectDrift(t.files, await readWatchedFiles(fs, t.files));
      } else {
        this.closeStream();
      }
    }
    const verdict = judge(obs);
    await this.report(verdict, obs, why);
    this.followUp(obs);
  }

  private hostCache: { at: number; facts: Promise<HostFacts> } | undefined;

  private renewDeps(cmd: CommandRunner): RenewDeps {
    const { fs, clock, probe, log, env } = this.d;
    // The names are read at most every few minutes: each check would otherwise run hostname(1).
    const hostFacts = () => {
      const now = clock.now();
      if (!this.hostCache || now - this.hostCache.at > HOST_FACTS_MS) this.hostCache = { at: now, facts: (this.d.hostFacts ?? (() => readHostFacts(cmd)))() };
      return this.hostCache.facts;
    };
    const beforeRestart = renewalGate(this.d.renewalGate, clock);
    return { fs, clock, cmd, probe, log, dataDir: env.dataDir, hostFacts, ...(beforeRestart ? { beforeRestart } : {}) };
  }

  /**
   * The worker lock for one of the monitor's own tasks, without waiting: when an enable or
   * uninstall holds it, the task is put off (said once per holder in the log) and the next round
   * tries again: the holder's release is a change of the lock file, which wakes the monitor, and
   * the minute's tick comes anyway.
   */
  private async takeWorkerLock(task: MonitorTask, seq: number, what: string): Promise<(() => Promise<void>) | undefined> {
    const lock = await tryWorkerLock(workerLockFile(this.d.env.dataDir), { seq, version: this.d.version, task }, { clock: this.d.clock });
    if (lock.kind === 'acquired') {
      this.putOffLogged = undefined;
      if (lock.tookOver && (lock.tookOver.kind ?? 'enable') === 'enable') this.tookOver = lock.tookOver;
      return lock.release;
    }
    const key = `${task}:${lock.owner.pid}:${lock.owner.startedAt}`;
    if (this.putOffLogged !== key) {
      this.putOffLogged = key;
      this.d.log.info({ event: `${what} put off`, why: `${describeOwner(lock.owner)} holds the worker lock`, holderKind: lock.owner.kind ?? 'enable', holderPid: lock.owner.pid, next: 'tried again at the next round, once the lock is free' });
    }
    return undefined;
  }

  /**
   * Renews the issued certificate when it is due, or finishes the renewal a killed monitor left
   * (`cut`): true when a new one serves.
   */
  private async renewIfDue(t: MonitorTarget, now: number, seq: number, cut: LockOwner | undefined): Promise<boolean> {
    if (this.renewFailure && now < this.renewFailure.nextAt) return false;
    const deps = this.renewDeps(await this.d.cmd());
    const check = await checkRenewal(deps, t, now).catch((e: unknown) => ({ kind: 'unreadable' as const, problem: (e as Error).message }));
    if (check.kind === 'unreadable') {
      if (this.renewProblem !== check.problem) this.d.log.warn({ event: 'certificate renewal not possible', problem: check.problem });
      this.renewProblem = check.problem;
      return false;
    }
    this.renewProblem = undefined;
    if (check.kind === 'keep' && !cut) {
      // Exactly when it is due (setTimeout takes at most 2^31-1 ms; the tick looks again anyway).
      this.setTimer('renew', Math.min(check.renewAt - now + 1_000, 2 ** 31 - 1), () => void this.evaluate('certificate renewal due'));
      return false;
    }
    // A pair on disk that dockerd may not serve: renewed again, which restarts dockerd and proves it.
    const reason = check.kind === 'renew' ? check.reason : `the renewal by the monitor (pid ${cut!.pid}, started ${cut!.startedAt}) was interrupted before dockerd was proved to serve its certificate`;
    const release = await this.takeWorkerLock('renew-certificate', seq, 'certificate renewal');
    if (!release) return false;
    // No restart of dockerd by the monitor may cross the renewal's.
    this.restart.inProgress = true;
    let result;
    try {
      result = await renewCertificate(deps, t, reason).catch((e: unknown) => ({ ok: false as const, error: (e as Error).message }));
    } finally {
      this.restart.inProgress = false;
      await release().catch((e: unknown) => this.d.log.warn({ event: 'worker lock not released', err: (e as Error).message }));
    }
    if (result.ok) {
      this.renewFailure = undefined;
      this.tls = undefined;
      this.d.log.info({ event: 'server certificate renewed', reason, notAfter: result.renewal.notAfter, fingerprint256: result.renewal.fingerprint256, issueMs: result.issueMs, restartToServingMs: result.restartToServingMs });
      await this.event('Informational', `server certificate renewed (${reason}); valid until ${result.renewal.notAfter}`);
      return true;
    }
    const i = t.issuance!;
    const retry = Math.max(5_000, Math.min(10 * 60_000, i.renewBeforeMs / 10));
    this.renewFailure = { at: now, error: result.error, nextAt: this.d.clock.now() + retry };
    this.setTimer('renew', retry, () => void this.evaluate('certificate renewal retry'));
    this.d.log.error({ event: 'certificate renewal failed', reason, error: result.error });
    await this.event('Warning', `renewing the server certificate failed: ${result.error}; the previous certificate serves`);
    return false;
  }

  private async observeDockerd(t: MonitorTarget, disabled: boolean, now: number, cert: { sha256?: string; fingerprint256?: string } | undefined): Promise<DaemonHealth> {
    const { pid, stalePid } = await dockerdFromPidFile(t.pidFile);
    if (pid === undefined) {
      this.exitedPid = this.pidSeen ?? stalePid ?? this.exitedPid;
      this.pidSeen = undefined;
      this.markUnhealthy(now);
      this.closeStream();
      this.scheduleRestart(t, disabled);
      const recovery = await this.recovery(t, disabled, true);
      return this.health({ recovery, ...(this.exitedPid !== undefined ? { exitedPid: this.exitedPid } : {}) });
    }
    this.cancelRestart();
    const recovery = await this.recovery(t, disabled, false);
    if (pid !== this.pidSeen) {
      // A dockerd we have not judged yet: its listeners and certificate are proven afresh.
      this.pidSeen = pid;
      this.exitedPid = undefined;
      this.tls = undefined;
      this.closeStream();
    }
    const ping = await this.d.probe.pingSocket(t.socketPath, 5_000);
    if (!ping.ok) {
      this.markUnhealthy(now);
      this.closeStream();
      return this.health({ pid, socket: { ok: false, detail: ping.detail }, recovery });
    }
    this.ensureStream(t.socketPath, pid);
    const h: DaemonHealth = { pid, socket: { ok: true, ...(ping.version ? { version: ping.version } : {}) }, recovery };
    let healthy = true;
    if (t.tcp) {
      const listening = await isListening(t.tcp.port);
      h.tcp = { listening };
      if (!listening) healthy = false;
      else if (t.tcp.tls) {
        const tls = await this.checkTls(t, pid, now, cert);
        h.tcp.tls = { ok: tls.ok, detail: tls.detail };
        if (!tls.ok) healthy = false;
      }
    }
    if (healthy) {
      this.unhealthySince = undefined;
      this.healthySince ??= now;
      if (now - this.healthySince >= HEALTHY_RESET_MS) this.restart.failures = 0;
    } else {
      this.markUnhealthy(now);
    }
    return this.health(h);
  }

  private health(h: DaemonHealth): DaemonHealth {
    if (this.unhealthySince !== undefined) h.unhealthySince = this.unhealthySince;
    return h;
  }

  private markUnhealthy(now: number): void {
    this.unhealthySince ??= now;
    this.healthySince = undefined;
  }

  /**
   * A real handshake only when something could have changed what the port presents (a new
   * dockerd, a new certificate file), or seldom: dockerd logs every client without a certificate.
   */
  private async checkTls(t: MonitorTarget, pid: number, now: number, cert: { sha256?: string; fingerprint256?: string } | undefined): Promise<TlsResult> {
    const prev = this.tls;
    const fresh = prev && prev.pid === pid && prev.certSha === cert?.sha256 && now - prev.at < (prev.ok ? TLS_RECHECK_MS : 10_000);
    if (fresh) return prev;
    const result: TlsResult = { ...(await this.handshake(t, cert)), at: now, pid, certSha: cert?.sha256 };
    if (!prev || prev.ok !== result.ok || prev.detail !== result.detail) this.d.log.info({ event: 'TLS checked', port: t.tcp!.port, ok: result.ok, detail: result.detail });
    this.tls = result;
    return result;
  }

  private async handshake(t: MonitorTarget, cert: { fingerprint256?: string } | undefined): Promise<{ ok: boolean; detail: string }> {
    const tlsSpec = t.tcp!.tls!;
    const ca = await this.d.fs.readText(tlsSpec.caFile, { maxBytes: READ_LIMITS.certificate }).catch(() => undefined);
    if (ca === undefined) return { ok: false, detail: `the CA file ${tlsSpec.caFile} is missing` };
    const p = await this.d.probe.probeTls(t.tcp!.host, t.tcp!.port, ca, 5_000);
    // The certificate dockerd must present is the one in the certificate file now.
    const want = cert?.fingerprint256 ?? tlsSpec.fingerprint256;
    if (!p.reachable || !p.serverVerified) return { ok: false, detail: p.detail };
    if (want && p.fingerprint256 && p.fingerprint256 !== want) {
      return {
        ok: false,
        detail: `dockerd presents another certificate than ${tlsSpec.certFile} (it presents ${FINGERPRINT_LABEL} ${p.fingerprint256}, the file's is ${want}; restart dockerd to serve the file's certificate, or re-apply the extension)`,
      };
    }
    if (!p.clientCertRequired) return { ok: false, detail: `a client without a certificate is not refused (${p.detail})` };
    return { ok: true, detail: 'server certificate verified; clients without a certificate refused' };
  }

  private async recovery(t: MonitorTarget, disabled: boolean, down: boolean): Promise<Recovery> {
    if (disabled) return { by: 'none', why: 'the extension is disabled (enable it again, or start dockerd yourself)' };
    if (t.manager.kind === 'systemd') {
      const r: Recovery = { by: 'systemd', unit: t.manager.unit };
      if (down) {
        const cmd = await this.d.cmd();
        const state = await cmd.run('systemctl', ['show', '-p', 'ActiveState', '--value', t.manager.unit], { timeoutMs: 10_000 }).catch(() => undefined);
        if (state?.exitCode === 0 && state.stdout.trim()) r.unitState = state.stdout.trim();
      }
      return r;
    }
    const s = this.restart;
    return {
      by: 'monitor',
      attempt: s.failures,
      logFile: t.manager.logFile,
      ...(s.nextAt !== undefined ? { nextAt: s.nextAt } : {}),
      ...(s.lastError !== undefined ? { lastError: s.lastError } : {}),
      ...(s.restartedAt !== undefined ? { restartedAt: s.restartedAt } : {}),
    };
  }

  private ensureStream(socketPath: string, pid: number): void {
    if (this.stream && this.streamPid === pid) return;
    this.closeStream();
    this.streamPid = pid;
    this.stream = openEventStream(socketPath, {
      onEnd: (why) => {
        if (this.streamPid !== pid) return;
        this.stream = undefined;
        this.streamPid = undefined;
        this.d.log.debug({ event: 'dockerd event stream ended', why, pid });
        // dockerd exited (or restarted): look now, not at the next tick.
        void this.evaluate('dockerd event stream ended');
      },
    });
  }

  private closeStream(): void {
    const s = this.stream;
    this.stream = undefined;
    this.streamPid = undefined;
    s?.close();
  }

  private syncWatches(spec: MonitorSpec): void {
    const want = new Set<string>([monitorSpecPath(this.d.env.dataDir), workerLockFile(this.d.env.dataDir)]);
    const t = spec.target;
    if (t) {
      for (const f of t.files) want.add(f.path);
      want.add(t.pidFile);
      if (t.tcp?.tls) want.add(t.tcp.tls.certFile);
    }
    this.watched = want;
    const dirs = new Set([...want].map((p) => path.dirname(p)));
    const add = [...dirs].filter((d) => !this.watchedDirs.has(d));
    const drop = [...this.watchedDirs].filter((d) => !dirs.has(d));
    this.watchedDirs = dirs;
    if (add.length) this.watcher?.add(add);
    if (drop.length) this.watcher?.unwatch(drop);
  }

  private async report(v: Verdict, obs: Observation, why: string): Promise<void> {
    const { env, fs, log } = this.d;
    try {
      await writeHeartbeat(fs, env.heartbeatFile, v.status, v.message);
      if (this.writeFailed) log.info({ event: 'heartbeat writable again' });
      this.writeFailed = false;
    } catch (e) {
      if (!this.writeFailed) log.warn({ event: 'heartbeat write failed', file: env.heartbeatFile, err: (e as Error).message });
      this.writeFailed = true;
    }
    const reasons = v.reasons.join(',');
    const driftKey = obs.drift.map((x: DriftItem) => `${x.path}:${x.kind}:${x.summary}`).join('|');
    const prev = this.last;
    this.last = { status: v.status, reasons, driftKey };
    if (!prev || prev.status !== v.status || prev.reasons !== reasons) {
      const level = v.status === 'Ready' ? 'info' : 'warn';
      log[level]({ event: 'heartbeat', status: v.status, reasons: v.reasons, why, message: v.message });
      if (prev && prev.status !== v.status) {
        await this.event(v.status === 'Ready' ? 'Informational' : 'Warning', `heartbeat ${v.status}: ${v.message}`);
      }
    }
    if (driftKey !== (prev?.driftKey ?? '') && obs.drift.length > 0) {
      for (const x of obs.drift) log.warn({ event: 'changed outside the extension', file: x.path, what: x.what, kind: x.kind, ...x.details });
      await this.event('Warning', `changed outside the extension: ${obs.drift.map((x) => x.summary).join('; ')}`);
    }
  }

  /** At most 20 events an hour: the agent forwards only a few hundred per five minutes for all. */
  private async event(level: EventLevel, message: string): Promise<void> {
    const now = this.d.clock.now();
    if (now - this.eventBudget.windowStart > 3_600_000) this.eventBudget = { windowStart: now, used: 0 };
    if (this.eventBudget.used >= 20) return;
    this.eventBudget.used++;
    await this.d.emitEvent(level, message).catch(() => undefined);
  }

  private followUp(obs: Observation): void {
    const d = obs.dockerd;
    const unhealthy = d !== undefined && this.unhealthySince !== undefined;
    // Nothing may announce a recovery (a hung dockerd, a port that comes back): look again soon.
    if (unhealthy) this.setTimer('recheck', recheckDelay(this.recheckN++), () => void this.evaluate('recheck'));
    else {
      this.recheckN = 0;
      this.clearTimer('recheck');
    }
  }

  /** dockerd is down where no service manager restarts it (the direct manager): the monitor will. */
  private scheduleRestart(t: MonitorTarget, disabled: boolean): void {
    if (t.manager.kind !== 'direct' || disabled || this.restart.nextAt !== undefined || this.restart.inProgress) return;
    const delay = restartDelay(this.restart.failures);
    this.restart.nextAt = this.d.clock.now() + delay;
    this.setTimer('restart', delay, () => void this.restartDockerd(t));
  }

  private cancelRestart(): void {
    if (this.restart.nextAt === undefined) return;
    this.restart.nextAt = undefined;
    this.clearTimer('restart');
  }

  /** No service manager brings dockerd back here: start it exactly as the extension does. */
  private async restartDockerd(t: MonitorTarget): Promise<void> {
    const { log, clock, probe, fs } = this.d;
    this.restart.nextAt = undefined;
    this.restart.inProgress = true;
    let release: (() => Promise<void>) | undefined;
    try {
      const spec = await readMonitorSpec(fs, this.d.env.dataDir);
      if (spec.kind !== 'ok' || spec.spec.disabled || t.manager.kind !== 'direct') return;
      // Under the worker lock: an enable that starts now waits until dockerd answers (or not).
      release = await this.takeWorkerLock('restart-dockerd', spec.spec.lastEnable?.seq ?? 0, 'restart of dockerd');
      if (!release || (await dockerdFromPidFile(t.pidFile)).pid !== undefined) return;
      const attempt = this.restart.failures + 1;
      log.warn({ event: 'restarting dockerd', attempt, dockerd: t.manager.dockerdPath, configFile: t.manager.configFile });
      const services = serviceManagerFromSpec(t.manager, { fs, cmd: await this.d.cmd(), clock });
      let error: string | undefined;
      const previousRestart = this.restart.restartedAt;
      // Recorded before dockerd answers: the evaluation its pid file triggers must already say who started it.
      this.restart.restartedAt = clock.now();
      try {
        await services.start();
        const deadline = clock.now() + RESTART_READY_MS;
        for (;;) {
          if ((await probe.pingSocket(t.socketPath, 2_000)).ok) break;
          if (!(await services.status()).active) {
            error = 'dockerd exited right after it was started';
            break;
          }
          if (clock.now() >= deadline) {
            error = `dockerd did not answer on ${t.socketPath} within ${RESTART_READY_MS / 1000} s`;
            break;
          }
          await clock.sleep(250);
        }
      } catch (e) {
        error = (e as Error).message;
      }
      if (error === undefined) {
        this.restart.lastError = undefined;
        log.warn({ event: 'dockerd restarted by the monitor', attempt });
        await this.event('Warning', `dockerd had exited; the monitor restarted it (attempt ${attempt})`);
      } else {
        const reason = dockerdFailureReason(await services.recentLog(40).catch(() => '')) ?? error;
        this.restart.restartedAt = previousRestart;
        this.restart.failures++;
        this.restart.lastError = reason;
        log.error({ event: 'dockerd restart failed', attempt, reason });
      }
    } finally {
      await release?.().catch((e: unknown) => log.warn({ event: 'worker lock not released', err: (e as Error).message }));
      this.restart.inProgress = false;
      void this.evaluate('after restart attempt');
    }
  }
}
