// `handler.sh status`: what was read on the machine (StatusFacts, read-facts.ts) → the report
// (pure, here) → text or JSON (render.ts). The report's zod schema is the JSON contract for
// scripts and the type the code uses; nothing in it is a secret or a hash of one.
//
// To add a part: a field in StatusReportSchema, what it needs read in StatusFacts and
// readStatusFacts, its problems in buildStatusReport, and one row in render.ts (the compose
// project, the registry login and the docker group are one such part: workloads.ts).
import * as z from 'zod/mini';
import type { HandlerEnvironment } from '../agent/handler-env.js';
import type { LastRun } from '../agent/seqnum.js';
import type { EngineState } from '../docker/desired.js';
import type { DriftItem } from '../monitor/drift.js';
import type { MonitorOwner } from '../monitor/lock.js';
import type { Renewal, SpecRead } from '../monitor/spec.js';
import type { LockOwner } from '../system/worker-lock.js';
import { ComposeStatusSchema, DockerGroupStatusSchema, LoginStatusSchema, workloadStatus, type WorkloadFacts } from './workloads.js';

/** "enable of configuration 3 (pid 42, since …)", or what the monitor does under the lock. */
export function describeInProgress(p: NonNullable<StatusReport['inProgress']>): string {
  const what =
    p.kind === 'monitor'
      ? `the monitor's ${p.task === 'restart-dockerd' ? 'restart of dockerd' : 'renewal of the server certificate'}`
      : `${p.kind} of configuration ${p.seq}`;
  return `${what} (pid ${p.pid}, since ${p.since})`;
}

/** The agent calls a heartbeat older than this "Unresponsive". */
export const HEARTBEAT_STALE_MS = 600_000;
/** The monitor's own warning window for the server certificate. */
export const CERT_WARN_DAYS = 30;

/**
 * The exit codes of `status`, for scripts. 0 and 1 are answers about the machine; 3 and 4 say why
 * there is no such answer.
 */
export const STATUS_EXIT = {
  /** The applied configuration serves: dockerd answers, the TLS port listens, the monitor runs, no drift. */
  ok: 0,
  /** Something needs attention: each problem is listed. */
  attention: 1,
  /** A usage error (unknown flag). */
  usage: 2,
  /** The status could not be read: not run as root, or the agent's HandlerEnvironment.json is unusable. */
  unreadable: 3,
  /** The extension has not applied a configuration on this machine yet (or was never installed here). */
  notEnabled: 4,
} as const;

export const StatusReportSchema = z.object({
  schema: z.literal(1),
  /** ok | attention | not-enabled | unreadable: the exit code, as a word. */
  state: z.enum(['ok', 'attention', 'not-enabled', 'unreadable']),
  exitCode: z.number(),
  /** One sentence: the state and what to do first. */
  headline: z.string(),
  checkedAt: z.string(),
  /** The handler code that answered (the package this command ran from). */
  version: z.string(),
  extension: z.nullable(z.object({ dir: z.string(), dataDir: z.string(), logFolder: z.string(), statusFolder: z.string(), heartbeatFile: z.string() })),
  serves: z.object({
    socket: z.nullable(z.string()),
    tcp: z.nullable(z.object({ host: z.string(), port: z.number(), tls: z.boolean(), listening: z.boolean() })),
  }),
  certificate: z.nullable(
    z.object({
      file: z.string(),
      subject: z.nullable(z.string()),
      subjectAltNames: z.array(z.string()),
      notAfter: z.nullable(z.string()),
      daysLeft: z.nullable(z.number()),
      /** X.509 SHA-256 fingerprint, as `openssl x509 -noout -fingerprint -sha256` prints it. */
      fingerprintSha256: z.nullable(z.string()),
      issuedOnVm: z.boolean(),
      /** certs.issuer: the monitor's last renewal. */
      lastRenewal: z.nullable(z.object({ at: z.string(), reason: z.string() })),
      problem: z.nullable(z.string()),
    }),
  ),
  engine: z.object({
    answers: z.boolean(),
    version: z.nullable(z.string()),
    apiVersion: z.nullable(z.string()),
    detail: z.string(),
    /** The packages the extension installed (removeOnUninstall removes only those); null: the engine was there before. */
    installedByExtension: z.nullable(z.object({ manager: z.string(), packages: z.array(z.string()), at: z.string() })),
  }),
  applied: z.nullable(z.object({ seq: z.number(), result: z.enum(['success', 'error']), at: z.nullable(z.string()), version: z.nullable(z.string()), message: z.nullable(z.string()) })),
  /** An enable, uninstall or monitor task (a certificate renewal, a restart of dockerd) that holds the worker lock right now. */
  inProgress: z.nullable(z.object({ kind: z.string(), seq: z.number(), pid: z.number(), since: z.string(), task: z.optional(z.string()) })),
  monitor: z.object({
    running: z.boolean(),
    pid: z.nullable(z.number()),
    since: z.nullable(z.string()),
    disabled: z.boolean(),
    heartbeat: z.nullable(z.object({ status: z.string(), message: z.string(), writtenAt: z.string(), ageSeconds: z.number() })),
  }),
  drift: z.array(z.object({ path: z.string(), kind: z.string(), summary: z.string() })),
  /** The compose project the extension runs (null: none). */
  compose: z.nullable(ComposeStatusSchema),
  /** The registry login the extension did (null: none). */
  login: z.nullable(LoginStatusSchema),
  /** The docker group membership the extension added for the VM's admin user (null: none). */
  dockerGroup: z.nullable(DockerGroupStatusSchema),
  lastError: z.nullable(z.string()),
  logs: z.array(z.object({ what: z.string(), where: z.string() })),
  problems: z.array(z.string()),
});
export type StatusReport = z.infer<typeof StatusReportSchema>;

export interface CertFacts {
  file: string;
  subject?: string;
  subjectAltNames?: string[];
  notAfter?: number;
  fingerprint256?: string;
  problem?: string;
}

/** Everything `status` read, as values; no secret in it. */
export interface StatusFacts {
  now: number;
  version: string;
  isRoot: boolean;
  /** Where HandlerEnvironment.json was looked for. */
  searched: string[];
  env?: HandlerEnvironment;
  /** HandlerEnvironment.json exists but cannot be used (the loader's own message). */
  envError?: string;
  mrseq?: number;
  lastRun?: LastRun;
  /** status/<mrseq>.status as the agent reads it. */
  appliedStatus?: { seq: number; status?: string; operation?: string; message?: string };
  spec: SpecRead;
  engineState?: EngineState;
  monitor?: MonitorOwner;
  heartbeat?: { status: string; message: string; mtimeMs: number } | { problem: string };
  worker?: LockOwner;
  ping: { socketPath: string; ok: boolean; detail: string; version?: string; apiVersion?: string };
  tcpListening?: boolean;
  cert?: CertFacts;
  drift: DriftItem[];
  /** dockerd's own log: a journal unit or a file (direct manager). */
  dockerdLog: string;
  /** The compose project, the registry login and the docker group, from the extension's records. */
  workloads?: WorkloadFacts;
}

const DAY_MS = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export function buildStatusReport(f: StatusFacts): StatusReport {
  const base = { schema: 1 as const, checkedAt: iso(f.now), version: f.version };
  const engine = engineOf(f);
  if (!f.isRoot) {
    return unreadable(base, engine, 'Run status as root (sudo): the extension\'s records, keys and logs are readable by root only.', f);
  }
  if (f.envError) return unreadable(base, engine, f.envError, f);
  if (!f.env) {
    return {
      ...empty(base, engine, f),
      state: 'not-enabled',
      exitCode: STATUS_EXIT.notEnabled,
      headline:
        `Not enabled yet: no HandlerEnvironment.json in ${f.searched.join(' or ')}, so the Azure Linux Agent has not installed the extension from this package. ` +
        `Run the status of the installed extension (sudo /var/lib/waagent/Microsoft.Azure.Extensions.DockerExtension-<version>/scripts/handler.sh status), or add the extension to the VM.`,
    };
  }
  const env = f.env;
  const spec = f.spec.kind === 'ok' ? f.spec.spec : undefined;
  const target = spec?.target;
  const problems: string[] = [];
  if (f.spec.kind === 'invalid') problems.push(`${env.dataDir}/monitor.json is unreadable (${f.spec.why}); the next enable rewrites it`);

  const last = spec?.lastEnable;
  const applied: StatusReport['applied'] =
    last !== undefined
      ? { seq: last.seq, result: last.result, at: last.at, version: last.version, message: last.message }
      : f.lastRun
        ? { seq: f.lastRun.seq, result: f.lastRun.result, at: null, version: f.lastRun.version, message: f.appliedStatus?.message ?? null }
        : f.mrseq !== undefined
          ? { seq: f.mrseq, result: 'success', at: null, version: null, message: f.appliedStatus?.message ?? null }
          : null;
  const inProgress = f.worker
    ? { kind: f.worker.kind ?? 'enable', seq: f.worker.seq, pid: f.worker.pid, since: f.worker.startedAt, ...(f.worker.task ? { task: f.worker.task } : {}) }
    : null;
  const lastError = applied?.result === 'error' ? applied.message ?? 'the last enable failed (see handler.log)' : null;
  if (applied === null && !inProgress) {
    return {
      ...empty(base, engine, f),
      extension: extensionOf(env),
      logs: logsOf(env, f),
      state: 'not-enabled',
      exitCode: STATUS_EXIT.notEnabled,
      headline: `Not enabled yet: the extension is installed in ${env.extensionDir} but has applied no configuration. The agent runs enable with the VM's settings; see ${env.logFolder}/handler.log.`,
    };
  }
  if (lastError) problems.push(`configuration ${applied!.seq} was not applied: ${lastError}`);
  if (inProgress) problems.push(`${describeInProgress(inProgress)} is running; run status again when it is done`);

  if (!engine.answers) problems.push(`dockerd does not answer on ${f.ping.socketPath} (${f.ping.detail}); see ${f.dockerdLog}`);
  const tcp = target?.tcp ? { host: target.tcp.host, port: target.tcp.port, tls: target.tcp.tls !== undefined, listening: f.tcpListening === true } : null;
  if (tcp && !tcp.listening) problems.push(`nothing listens on TCP port ${tcp.port}; see ${f.dockerdLog}`);
  if (tcp && !tcp.tls) problems.push(`TCP port ${tcp.port} is served WITHOUT TLS (docker.allowInsecureTcp): anyone who reaches it is root on this VM`);

  const certificate = certOf(f, target?.issuance !== undefined, spec?.renewal);
  if (certificate?.problem) problems.push(certificate.problem);
  else if (certificate?.daysLeft !== null && certificate?.daysLeft !== undefined) {
    if (certificate.daysLeft < 0) problems.push(`the server certificate expired on ${certificate.notAfter}: ${certificate.issuedOnVm ? 'the monitor renews it; see monitor.log' : 'renew certs.cert and certs.key in the protected settings'}`);
    else if (certificate.daysLeft < CERT_WARN_DAYS && !certificate.issuedOnVm) problems.push(`the server certificate expires in ${certificate.daysLeft} days (${certificate.notAfter}): renew certs.cert and certs.key in the protected settings`);
  }

  const disabled = spec?.disabled === true;
  if (disabled) problems.push('the extension is disabled: dockerd keeps running, the monitor restarts nothing; enable it again or uninstall it');
  const hb = f.heartbeat && 'status' in f.heartbeat ? { status: f.heartbeat.status, message: f.heartbeat.message, writtenAt: iso(f.heartbeat.mtimeMs), ageSeconds: Math.max(0, Math.round((f.now - f.heartbeat.mtimeMs) / 1000)) } : null;
  if (!f.monitor) problems.push(`the monitor is not running: ${monitorHint(target?.manager.kind)}`);
  if (f.heartbeat && 'problem' in f.heartbeat) problems.push(f.heartbeat.problem);
  else if (!hb) problems.push(`no heartbeat file (${env.heartbeatFile}): the agent will report "Failed to get heart beat file"`);
  else if (hb.ageSeconds * 1000 > HEARTBEAT_STALE_MS) problems.push(`the heartbeat was last written ${hb.ageSeconds} s ago: the agent calls the extension Unresponsive after 600 s`);
  else if (hb.status !== 'Ready' && !disabled) problems.push(`the monitor reports ${hb.status}: ${hb.message}`);

  const drift = f.drift.map((d) => ({ path: d.path, kind: d.kind, summary: d.summary }));
  for (const d of drift) problems.push(`changed outside the extension: ${d.summary} (the next enable re-applies the settings)`);
  const workloads = workloadStatus(f.workloads ?? {});
  problems.push(...workloads.problems);

  const state = problems.length ? 'attention' : 'ok';
  return {
    ...base,
    state,
    exitCode: problems.length ? STATUS_EXIT.attention : STATUS_EXIT.ok,
    headline: problems.length
      ? `Needs attention (${problems.length} problem${problems.length === 1 ? '' : 's'}): ${problems[0]}`
      : `Configuration ${applied!.seq} serves as applied; the monitor keeps the heartbeat current.`,
    extension: extensionOf(env),
    serves: { socket: engine.answers ? f.ping.socketPath : null, tcp },
    certificate,
    engine,
    applied,
    inProgress,
    monitor: { running: f.monitor !== undefined, pid: f.monitor?.pid ?? null, since: f.monitor?.startedAt ?? null, disabled, heartbeat: hb },
    drift,
    compose: workloads.compose,
    login: workloads.login,
    dockerGroup: workloads.dockerGroup,
    lastError,
    logs: logsOf(env, f),
    problems,
  };
}

function monitorHint(manager: string | undefined): string {
  return manager === 'systemd'
    ? 'see systemctl status azure-docker-extension-monitor and journalctl -u azure-docker-extension-monitor; the agent\'s next enable starts it'
    : 'the agent\'s next enable starts it; see monitor.log';
}

function engineOf(f: StatusFacts): StatusReport['engine'] {
  const inst = f.engineState?.installed;
  return {
    answers: f.ping.ok,
    version: f.ping.version ?? null,
    apiVersion: f.ping.apiVersion ?? null,
    detail: f.ping.detail,
    installedByExtension: inst ? { manager: inst.manager, packages: inst.packages, at: inst.at } : null,
  };
}

function certOf(f: StatusFacts, issuedOnVm: boolean, renewal: Renewal | undefined): StatusReport['certificate'] {
  const c = f.cert;
  if (!c) return null;
  return {
    file: c.file,
    subject: c.subject ?? null,
    subjectAltNames: c.subjectAltNames ?? [],
    notAfter: c.notAfter !== undefined ? iso(c.notAfter) : null,
    daysLeft: c.notAfter !== undefined ? Math.floor((c.notAfter - f.now) / DAY_MS) : null,
    fingerprintSha256: c.fingerprint256 ?? null,
    issuedOnVm,
    lastRenewal: issuedOnVm && renewal ? { at: renewal.at, reason: renewal.reason } : null,
    problem: c.problem ?? null,
  };
}

function extensionOf(env: HandlerEnvironment): StatusReport['extension'] {
  return { dir: env.extensionDir, dataDir: env.dataDir, logFolder: env.logFolder, statusFolder: env.statusFolder, heartbeatFile: env.heartbeatFile };
}

function logsOf(env: HandlerEnvironment, f: StatusFacts): StatusReport['logs'] {
  return [
    { what: 'handler (every agent command, enable and uninstall work; JSON lines)', where: `${env.logFolder}/handler.log` },
    { what: 'monitor (changes of state, drift, renewals; JSON lines)', where: `${env.logFolder}/monitor.log` },
    { what: 'status the agent reads (one file per configuration)', where: `${env.statusFolder}/<seq>.status` },
    { what: 'heartbeat', where: env.heartbeatFile },
    { what: 'dockerd', where: f.dockerdLog },
    { what: 'enable and uninstall work under systemd', where: 'journalctl -u "azure-docker-extension-*"' },
    { what: 'the Azure Linux Agent', where: '/var/log/waagent.log' },
  ];
}

type Base = Pick<StatusReport, 'schema' | 'checkedAt' | 'version'>;

function empty(base: Base, engine: StatusReport['engine'], f: StatusFacts): Omit<StatusReport, 'state' | 'exitCode' | 'headline'> {
  return {
    ...base,
    extension: null,
    serves: { socket: engine.answers ? f.ping.socketPath : null, tcp: null },
    certificate: null,
    engine,
    applied: null,
    inProgress: null,
    monitor: { running: f.monitor !== undefined, pid: f.monitor?.pid ?? null, since: f.monitor?.startedAt ?? null, disabled: false, heartbeat: null },
    drift: [],
    compose: null,
    login: null,
    dockerGroup: null,
    lastError: null,
    logs: [],
    problems: [],
  };
}

function unreadable(base: Base, engine: StatusReport['engine'], why: string, f: StatusFacts): StatusReport {
  return { ...empty(base, engine, f), state: 'unreadable', exitCode: STATUS_EXIT.unreadable, headline: why, problems: [why] };
}
