import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { handlerEnvCandidates, loadHandlerEnvironment, type HandlerEnvironment } from './agent/handler-env.js';
import { listSettingsFiles, requestedSeq } from './agent/seqnum.js';
import { EXIT } from './agent/exit-codes.js';
import { parseArgs, UNINSTALL_WORKER_VERB, USAGE, WORKER_VERB, type ParsedArgs } from './cli/args.js';
import { describeError, HandlerError } from './errors.js';
import { jsonWhere } from './agent/json-where.js';
// Only what every command needs is imported eagerly: the no-op re-enable, which every goal
// state and boot runs, must not pay for zod's settings schemas, node-forge or the engine.
import { COMMANDS, WORKER_COMMANDS } from './lifecycle/commands.js';
import type { Applier, RunContext } from './lifecycle/context.js';
import { UNINSTALL_WAIT_MS } from './lifecycle/other-commands.js';
import { runLifecycle } from './lifecycle/run-lifecycle.js';
import type { ApplierOptions } from './lifecycle/make-applier.js';
import { createLogger, type Logger } from './log/logger.js';
import type { MonitorSupervisor, SupervisorOptions } from './monitor/supervisor.js';
import { realClock } from './system/clock.js';
import { lazyCommandRunner } from './system/lazy-runner.js';
import { passableEnv } from './system/passable-env.js';
import { handlerVersion as versionOf } from './version.js';
import { decodeUtf8, readBounded, RootedFileSystem, UnsafePathError } from './system/fs.js';
import { READ_LIMITS, type Clock } from './system/ports.js';
import type { DryRunReport } from './lifecycle/dry-run-report.js';

/** Where the engine's ownership record lives on a VM; a dry run outside the agent reads it there. */
const DEFAULT_DATA_DIR = '/var/lib/waagent/Microsoft.Azure.Extensions.DockerExtension';

export interface AppResult {
  exitCode: number;
  stdout?: string;
  stderr?: string;
  /** Printed for an admin at a shell (help, version, dry run), not for the agent to publish: not capped. */
  interactive?: boolean;
}

export interface AppDeps {
  env: NodeJS.ProcessEnv;
  /** Directory of the running code (dist/ in the package): HandlerEnvironment.json is next to or above it. */
  codeDir: string;
  /** The script to re-run as the detached worker. */
  entryScript: string;
  makeApplier: (o: ApplierOptions) => Applier;
  clock?: Clock;
  /** The runtime detached processes run with (default: this one). */
  nodePath?: string;
  // Seams for in-process tests; by default each is a detached process.
  spawnWorker?: (ctx: { seq: number; extensionDir: string }) => Promise<string>;
  runUninstallWorker?: () => Promise<{ finished: boolean; exitCode?: number | null; label: string }>;
  monitorSupervisor?: (o: SupervisorOptions) => MonitorSupervisor;
  signal?: AbortSignal;
  /** Whether this process runs as root (default: its uid is 0); `status` needs it. */
  isRoot?: boolean;
}

/** Everything main.ts does, as a value: parse, compose, run. Never exits the process. */
export async function runApp(argv: readonly string[], deps: AppDeps): Promise<AppResult> {
  const args = parseArgs(argv);
  switch (args.kind) {
    case 'usage-error':
      return { exitCode: EXIT.usage, stderr: `error: ${args.message}\n${USAGE}`, interactive: true };
    case 'help':
      return { exitCode: 0, stdout: USAGE, interactive: true };
    case 'version':
      return { exitCode: 0, stdout: handlerVersion(deps), interactive: true };
    case 'status':
      return { ...(await status(args.json, deps)), interactive: true };
    case 'command':
      if (args.dryRun) return { ...(await dryRun(args, deps)), interactive: true };
      return agentCommand(args, deps);
    case 'worker':
    case 'uninstall-worker':
      return agentCommand(args, deps);
  }
}

async function agentCommand(args: Extract<ParsedArgs, { kind: 'command' | 'worker' | 'uninstall-worker' }>, deps: AppDeps): Promise<AppResult> {
  const agentFs = new RootedFileSystem('/');
  const clock = deps.clock ?? realClock;
  let env: HandlerEnvironment;
  try {
    env = await loadHandlerEnvironment(agentFs, handlerEnvCandidates(deps.env.AZURE_GUEST_AGENT_EXTENSION_PATH, deps.codeDir));
  } catch (e) {
    // Without HandlerEnvironment.json there is no status folder to write to: stderr is all the
    // agent will show.
    return { exitCode: args.kind === 'command' ? COMMANDS[args.command].failExitCode : EXIT.failure, stderr: describeError(e) };
  }
  const version = handlerVersion(deps);
  const opName = args.kind === 'worker' ? 'enable-worker' : args.kind === 'uninstall-worker' ? 'uninstall-worker' : args.command;
  let seq: number | undefined;
  let seqError: unknown;
  try {
    seq = args.kind === 'worker' ? args.seq : requestedSeq(deps.env.ConfigSequenceNumber, await listSettingsFiles(agentFs, env.configFolder));
  } catch (e) {
    seqError = e;
  }
  let log: Logger;
  try {
    log = createLogger({ file: path.join(env.logFolder, 'handler.log'), bindings: { op: opName, seq, version } });
  } catch (e) {
    // An unsafe log folder or log file (a planted link, a FIFO): the command fails with a status
    // that says which and what to fix; its own log lines go to stderr meanwhile.
    if (args.kind !== 'command') return { exitCode: EXIT.failure, stderr: describeError(e) };
    seqError ??= e;
    log = createLogger({ level: 'warn', bindings: { op: opName, seq, version } });
  }
  const nodePath = deps.nodePath ?? process.execPath;
  const commands = lazyCommandRunner(log);
  const detachedEnv = { ...passableEnv(deps.env), AZURE_GUEST_AGENT_EXTENSION_PATH: env.extensionDir, AZURE_GUEST_AGENT_EXTENSION_VERSION: version };
  const onFallback = (why: string) => log.warn({ event: 'no transient unit; detached with setsid instead', why });
  const ctx: RunContext = {
    env,
    seq,
    version,
    agentFs,
    clock,
    log,
    applier: deps.makeApplier({ root: '/', log, dryRun: false, stateDir: env.dataDir }),
    operationId: randomUUID(),
    spawnWorker: async (s) => {
      if (deps.spawnWorker) return deps.spawnWorker({ seq: s, extensionDir: env.extensionDir });
      const { launchDetached } = await import('./system/detached.js');
      const job = { name: `azure-docker-extension-enable-${s}-${randomUUID().slice(0, 8)}`, argv: [nodePath, deps.entryScript, WORKER_VERB, String(s)], cwd: env.extensionDir, env: detachedEnv };
      return (await launchDetached(job, { cmd: commands, onFallback })).label;
    },
    runUninstallWorker: async () => {
      if (deps.runUninstallWorker) return deps.runUninstallWorker();
      const { runDetachedAndWait } = await import('./system/detached.js');
      const job = { name: `azure-docker-extension-uninstall-${randomUUID().slice(0, 8)}`, argv: [nodePath, deps.entryScript, UNINSTALL_WORKER_VERB], cwd: env.extensionDir, env: detachedEnv };
      const r = await runDetachedAndWait(job, UNINSTALL_WAIT_MS, { cmd: commands, onFallback });
      return { finished: r.exitCode !== undefined, ...(r.exitCode !== undefined ? { exitCode: r.exitCode } : {}), label: r.launched.label };
    },
    monitor: async () => {
      const { makeMonitorSupervisor } = await import('./monitor/supervisor.js');
      const { systemdAvailable } = await import('./system/detached.js');
      const o: SupervisorOptions = {
        dataDir: env.dataDir,
        extensionDir: env.extensionDir,
        version,
        nodePath,
        monitorScript: path.join(path.dirname(deps.entryScript), 'monitor.cjs'),
        env: Object.fromEntries(Object.entries(passableEnv(deps.env)).filter(([k]) => k.startsWith('DOCKER_EXTENSION_'))),
        fs: agentFs,
        cmd: commands,
        clock,
      };
      return deps.monitorSupervisor ? deps.monitorSupervisor(o) : makeMonitorSupervisor({ ...o, systemd: systemdAvailable() });
    },
  };
  if (args.kind === 'worker') ctx.signal = deps.signal ?? abortOnSigterm(log);
  const cmd = args.kind === 'command' ? COMMANDS[args.command] : WORKER_COMMANDS[args.kind];
  if (seqError) {
    return runLifecycle({ ...cmd, preCheck: undefined, run: () => Promise.reject(seqError) }, ctx).then(toApp);
  }
  return toApp(await runLifecycle(cmd, ctx));
}

function toApp(r: { exitCode: number; stdout: string }): AppResult {
  return { exitCode: r.exitCode, stdout: r.stdout };
}

/**
 * The same validation and plan as enable, printed. Settings come from the files given, from
 * this VM's applied configuration when the extension is installed, or from the embedded
 * example. Writes no status, mrseq, heartbeat or log file.
 */
async function dryRun(args: Extract<ParsedArgs, { kind: 'command' }>, deps: AppDeps): Promise<AppResult> {
  const log = createLogger({ level: deps.env.DOCKER_EXTENSION_LOG_LEVEL ?? 'warn' });
  const { preflight } = await import('./docker/preflight.js');
  const { summariseSettings } = await import('./agent/settings-summary.js');
  const { exampleSettings } = await import('./demo/example-settings.js');
  const { DryRunReportSchema, renderDryRun } = await import('./lifecycle/dry-run-report.js');
  const report: DryRunReport = { schema: 1, changesNothing: true, ok: false, root: args.root ?? '/', settings: { source: 'the settings', summary: null, warnings: [] }, engine: null, steps: [], error: null };
  try {
    let pub: unknown;
    let prot: unknown;
    let stateDir = DEFAULT_DATA_DIR;
    if (args.publicFile || args.protectedFile) {
      pub = args.publicFile ? await readJsonFile(args.publicFile, '--public') : null;
      prot = args.protectedFile ? await readJsonFile(args.protectedFile, '--protected') : null;
      const { protectedSecrets, registerSecrets } = await import('./agent/sanitise.js');
      registerSecrets(protectedSecrets(prot));
      report.settings.source = 'the files given';
    } else {
      const applied = await appliedSettings(deps);
      if (applied) {
        ({ pub, prot, stateDir } = applied);
        report.settings.source = applied.source;
      } else {
        const ex = exampleSettings();
        pub = ex.publicSettings;
        prot = ex.protectedSettings;
        report.settings.source = 'the embedded example (TLS on 2376 with a throwaway CA made in memory)';
      }
    }
    // Settings, dockerd options and certificates in one pass, as enable checks them.
    const settings = preflight(pub, prot, (deps.clock ?? realClock).now());
    report.settings = { ...report.settings, summary: summariseSettings(settings), warnings: [...(settings.warnings ?? [])] };
    const applier = deps.makeApplier({ root: args.root ?? '/', log, dryRun: true, stateDir });
    const view = await applier.plan(settings, log);
    report.steps = view.lines;
    report.engine = view.engine ?? null;
    report.ok = true;
  } catch (e) {
    report.error = describeError(e);
  }
  // Parsed by its own schema: the JSON is exactly the documented contract, keys in its order.
  const checked = DryRunReportSchema.parse(report);
  const exitCode = checked.ok ? 0 : EXIT.failure;
  if (args.json) return { exitCode, stdout: JSON.stringify(checked, null, 2) };
  return { exitCode, stdout: renderDryRun(checked), ...(checked.error !== null ? { stderr: `Dry run failed: ${checked.error}` } : {}) };
}

async function appliedSettings(deps: AppDeps): Promise<{ pub: unknown; prot: unknown; source: string; stateDir: string } | undefined> {
  const fs = new RootedFileSystem('/');
  let env: HandlerEnvironment;
  try {
    env = await loadHandlerEnvironment(fs, handlerEnvCandidates(deps.env.AZURE_GUEST_AGENT_EXTENSION_PATH, deps.codeDir));
  } catch {
    return undefined;
  }
  const seq = requestedSeq(deps.env.ConfigSequenceNumber, await listSettingsFiles(fs, env.configFolder));
  if (seq === undefined) return undefined;
  const { loadSettings } = await import('./lifecycle/load-settings.js');
  const loaded = await loadSettings(fs, env, seq);
  if (!loaded) return undefined;
  // Already validated; re-parsed by the caller from the typed values.
  return { pub: loaded.settings.public, prot: loaded.settings.protected, source: `this VM's configuration ${seq}`, stateDir: env.dataDir };
}

/** `status`: read-only, no agent needed; see handler/status/. */
async function status(json: boolean, deps: AppDeps): Promise<AppResult> {
  const [{ readStatusFacts }, { buildStatusReport, StatusReportSchema }, { renderStatus }, { NodeDaemonProbe }, { isListening }] = await Promise.all([
    import('./status/read-facts.js'),
    import('./status/report.js'),
    import('./status/render.js'),
    import('./docker/health.js'),
    import('./system/listening.js'),
  ]);
  const facts = await readStatusFacts({
    fs: new RootedFileSystem('/'),
    probe: new NodeDaemonProbe(),
    isListening: (port) => isListening(port),
    extensionPathEnv: deps.env.AZURE_GUEST_AGENT_EXTENSION_PATH,
    codeDir: deps.codeDir,
    version: handlerVersion(deps),
    isRoot: deps.isRoot ?? process.getuid?.() === 0,
    now: () => (deps.clock ?? realClock).now(),
  });
  // Parsed by its own schema: the JSON for scripts is exactly the documented contract, keys in its order.
  const report = StatusReportSchema.parse(buildStatusReport(facts));
  const text = json ? JSON.stringify(report, null, 2) : renderStatus(report);
  return report.state === 'unreadable' && !json ? { exitCode: report.exitCode, stderr: text } : { exitCode: report.exitCode, stdout: text };
}

async function readJsonFile(file: string, flag: string): Promise<unknown> {
  let text: string;
  try {
    // The admin named this file, so a link is followed; but it must be a regular file of settings
    // size (not /dev/zero, not a pipe) and UTF-8, as the agent's settings file must.
    const bytes = await readBounded(file, { followLinks: true, maxBytes: READ_LIMITS.settings });
    if (bytes === undefined) throw Object.assign(new Error('absent'), { code: 'ENOENT' });
    text = decodeUtf8(bytes, file);
  } catch (e) {
    if (e instanceof UnsafePathError) throw new HandlerError(`${flag} ${e.problem}; give a regular JSON file of at most 4 MiB`, { code: 'EUSAGE', category: 'user' });
    throw new HandlerError(`${flag} ${file}: cannot read the file (${(e as NodeJS.ErrnoException).code ?? 'error'})`, { code: 'EUSAGE', category: 'user' });
  }
  const body = text.replace(/^\uFEFF/, '');
  try {
    return JSON.parse(body);
  } catch {
    // Where, never what: the file may be the protected settings.
    throw new HandlerError(`${flag} ${file}: not valid JSON${jsonWhere(body)}; fix the file and run again`, { code: 'EUSAGE', category: 'user' });
  }
}

export function handlerVersion(deps: Pick<AppDeps, 'env' | 'codeDir'>): string {
  return versionOf(deps.env, deps.codeDir);
}

function abortOnSigterm(log: Logger): AbortSignal {
  const ac = new AbortController();
  // Every SIGTERM asks for a stop at the next safe point. Two newer workers may each send one: a
  // second must not kill the worker mid-apply (Node's default action once a `once` listener is
  // spent), which leaves its lock record for several waiting workers to remove at the same time.
  process.on('SIGTERM', () => {
    if (ac.signal.aborted) return;
    log.info({ event: 'worker asked to stop' });
    ac.abort();
  });
  return ac.signal;
}
