// What `status` reads: the agent's files (HandlerEnvironment.json, mrseq, the status file, the
// heartbeat), the extension's records (monitor.json, engine-state.json, the locks), the watched
// files for drift, dockerd over its local socket (GET /_ping, /version, the compose project's
// containers: nothing dockerd logs), the compose, login and docker group records (workloads.ts) and
// /proc/net/tcp for the port. Read-only: no file written, no process started, no TLS handshake
// (a client without a certificate is logged by dockerd as an error).
import { X509Certificate } from 'node:crypto';
import { handlerEnvCandidates, loadHandlerEnvironment, type HandlerEnvironment } from '../agent/handler-env.js';
import { readLastRun, readMrseq } from '../agent/seqnum.js';
import { readStatusSummary } from '../agent/status.js';
import { readState } from '../docker/state.js';
import type { DaemonProbe } from '../docker/health.js';
import { describeError } from '../errors.js';
import { detectDrift } from '../monitor/drift.js';
import { liveMonitor } from '../monitor/lock.js';
import { readWatchedFiles } from '../monitor/read-files.js';
import { readMonitorSpec, type MonitorTarget, type SpecRead } from '../monitor/spec.js';
import { READ_LIMITS, type ReadFileSystem } from '../system/ports.js';
import { liveOwner, workerLockFile } from '../system/worker-lock.js';
import type { CertFacts, StatusFacts } from './report.js';
import { readWorkloadFacts } from './workloads.js';

/** Where dockerd serves when no enable recorded it (the engine packages' default). */
const DEFAULT_SOCKET = '/var/run/docker.sock';
const PING_TIMEOUT_MS = 3_000;

export interface StatusReadDeps {
  fs: ReadFileSystem;
  probe: DaemonProbe;
  isListening: (port: number) => Promise<boolean>;
  /** AZURE_GUEST_AGENT_EXTENSION_PATH, when the agent runs us (an admin's shell has none). */
  extensionPathEnv: string | undefined;
  /** Directory of the running code: HandlerEnvironment.json is next to or above it. */
  codeDir: string;
  version: string;
  isRoot: boolean;
  now: () => number;
}

export async function readStatusFacts(d: StatusReadDeps): Promise<StatusFacts> {
  const searched = handlerEnvCandidates(d.extensionPathEnv, d.codeDir);
  const base = { version: d.version, isRoot: d.isRoot, searched, spec: { kind: 'absent' } as SpecRead, drift: [] };
  if (!d.isRoot) {
    return { ...base, now: d.now(), ping: { socketPath: DEFAULT_SOCKET, ok: false, detail: 'not read: status runs as root' }, dockerdLog: 'journalctl -u docker' };
  }
  let env: HandlerEnvironment | undefined;
  let envError: string | undefined;
  try {
    env = await loadHandlerEnvironment(d.fs, searched);
  } catch (e) {
    if ((e as { code?: string }).code !== 'ENOHANDLERENV') envError = describeError(e);
  }
  if (!env) {
    const ping = await pingOf(d, DEFAULT_SOCKET);
    return { ...base, now: d.now(), ...(envError ? { envError } : {}), ping, dockerdLog: 'journalctl -u docker' };
  }
  const spec = await readMonitorSpec(d.fs, env.dataDir).catch((e: unknown): SpecRead => ({ kind: 'invalid', why: describeError(e) }));
  const target = spec.kind === 'ok' ? spec.spec.target : undefined;
  const [mrseq, lastRun, engineState, monitor, worker, heartbeat] = await Promise.all([
    readMrseq(d.fs, env.extensionDir).catch(() => undefined),
    readLastRun(d.fs, env.extensionDir).catch(() => undefined),
    readState(d.fs, env.dataDir).catch(() => undefined),
    liveMonitor(env.dataDir),
    liveOwner(workerLockFile(env.dataDir)),
    readHeartbeat(d.fs, env.heartbeatFile),
  ]);
  const appliedSeq = mrseq ?? lastRun?.seq;
  const summary = appliedSeq !== undefined ? await readStatusSummary(d.fs, env.statusFolder, appliedSeq).catch(() => undefined) : undefined;
  const socketPath = target?.socketPath ?? DEFAULT_SOCKET;
  const [ping, tcpListening, cert, drift] = await Promise.all([
    pingOf(d, socketPath),
    target?.tcp ? d.isListening(target.tcp.port) : Promise.resolve(undefined),
    target?.tcp?.tls ? readCert(d.fs, target.tcp.tls.certFile) : Promise.resolve(undefined),
    target ? readWatchedFiles(d.fs, target.files).then((now) => detectDrift(target.files, now)) : Promise.resolve([]),
  ]);
  const workloads = await readWorkloadFacts(d.fs, { dataDir: env.dataDir, socketPath, dockerAnswers: ping.ok });
  return {
    ...base,
    now: d.now(),
    env,
    spec,
    ...(mrseq !== undefined ? { mrseq } : {}),
    ...(lastRun ? { lastRun } : {}),
    ...(summary && appliedSeq !== undefined ? { appliedStatus: { seq: appliedSeq, ...summary } } : {}),
    ...(engineState ? { engineState } : {}),
    ...(monitor ? { monitor } : {}),
    ...(worker ? { worker } : {}),
    ...(heartbeat ? { heartbeat } : {}),
    ping,
    ...(tcpListening !== undefined ? { tcpListening } : {}),
    ...(cert ? { cert } : {}),
    drift,
    dockerdLog: dockerdLogOf(target),
    workloads,
  };
}

async function pingOf(d: StatusReadDeps, socketPath: string): Promise<StatusFacts['ping']> {
  if (!(await d.fs.exists(socketPath))) return { socketPath, ok: false, detail: `${socketPath} does not exist` };
  const p = await d.probe.pingSocket(socketPath, PING_TIMEOUT_MS);
  return { socketPath, ok: p.ok, detail: p.detail, ...(p.version ? { version: p.version } : {}), ...(p.apiVersion ? { apiVersion: p.apiVersion } : {}) };
}

async function readHeartbeat(fs: ReadFileSystem, file: string): Promise<StatusFacts['heartbeat']> {
  let text: string | undefined;
  try {
    text = await fs.readText(file, { maxBytes: READ_LIMITS.small });
  } catch (e) {
    return { problem: `the heartbeat file cannot be read: ${describeError(e)}` };
  }
  if (text === undefined) return undefined;
  const st = await fs.stat(file);
  try {
    const hb = (JSON.parse(text) as Array<{ heartbeat?: { status?: unknown; formattedMessage?: { message?: unknown } } }>)[0]?.heartbeat;
    if (typeof hb?.status !== 'string') throw new Error('no status');
    return { status: hb.status, message: typeof hb.formattedMessage?.message === 'string' ? hb.formattedMessage.message : '', mtimeMs: st?.mtimeMs ?? 0 };
  } catch {
    return { problem: `the heartbeat file ${file} is not the agent's format; the monitor rewrites it within a minute` };
  }
}

/** The server certificate's identity: subject, names, expiry, X.509 SHA-256 fingerprint. */
export async function readCert(fs: ReadFileSystem, file: string): Promise<CertFacts> {
  let bytes: Buffer | undefined;
  try {
    bytes = await fs.readBytes(file, { maxBytes: READ_LIMITS.certificate });
  } catch (e) {
    return { file, problem: `the server certificate ${file} cannot be read: ${describeError(e)}` };
  }
  if (bytes === undefined) return { file, problem: `the server certificate ${file} is missing; the next enable writes it again` };
  try {
    const c = new X509Certificate(bytes);
    return {
      file,
      subject: c.subject.split('\n').filter(Boolean).join(', '),
      subjectAltNames: c.subjectAltName ? c.subjectAltName.split(', ') : [],
      notAfter: Date.parse(c.validTo),
      fingerprint256: c.fingerprint256,
    };
  } catch {
    return { file, problem: `${file} does not hold a PEM certificate; the next enable writes it again` };
  }
}

function dockerdLogOf(target: MonitorTarget | undefined): string {
  const m = target?.manager;
  if (m?.kind === 'direct') return m.logFile;
  return `journalctl -u ${m?.kind === 'systemd' ? m.unit : 'docker'}`;
}
