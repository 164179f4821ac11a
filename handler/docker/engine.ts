// The engine part of enable/uninstall: install Docker, make daemon.json (plus at most one systemd
// drop-in) say what the settings ask, restart only when needed, prove it, roll back otherwise.
//
// observe (read ports) → computeDesired (pure) → diffConfig (pure) → the applier (apply.ts, effects).
// A missing engine is a step of the plan ("install docker.io with apt"); what only the installed
// engine can tell (its unit's ExecStart, its socket) comes from replanAfterInstall, which the
// applier runs right after that step. Uninstall is a plan too (removal.ts).
import { ConfigError, StepFailedError } from '../errors.js';
import { givenServerCerts, parseSettings, type HandlerSettings, type ServerCerts } from '../agent/settings.js';
import { registerSecrets } from '../agent/sanitise.js';
import { decide, issuerProblems, type IssuerFacts, describeNames, describeValidity, isoDate, policyOf, readHostFacts, wantedNames, type HostFacts } from './issuance.js';
import { detectDistro, type DistroInfo } from '../distro/detect.js';
import type { Logger } from '../log/logger.js';
import type { Clock, CommandRunner, FileSystem } from '../system/ports.js';
import { detectServiceManager, type DaemonLaunch, type ServiceManager } from '../system/service-manager.js';
import { applyConfig, applyInstall, applySteps, runPlannedSteps, touchedPaths, verifyServes, type ApplyContext } from './apply.js';
import { observeAccess, planAccess, type AccessLayout, type AccessPlan } from './access.js';
import { certificateProblems, type CertificateCheck } from './certs.js';
import { hostsServed, parseDaemonJson, renderDaemonJson, socketPathOf, type OwnedKeys } from './daemon-config.js';
import { computeDesired, DEFAULT_LAYOUT, liveRestoreOnCommandLine, type DesiredState, type EngineLayout, type EngineState } from './desired.js';
import { NodeDaemonProbe, type DaemonInfo, type DaemonProbe } from './health.js';
import { planInstall, queryArch, queryInstalled, releaseLeftoverStartHold, type InstallPlan } from './install.js';
import { translateDockerOptions, translateFlags } from './options.js';
import { describeSteps, diffConfig, stepName, type ConfigPlan, type ObservedConfig, type PlannedStep, type ServiceAction, type Step } from './plan.js';
import { readRollback, readState, statePath, type RollbackRecord } from './state.js';
import { readValidator, validationStep, type ConfigValidator } from './validate-config.js';
import { sha256Prefix } from '../digest.js';
import { FINGERPRINT_LABEL } from '../crypto/fingerprint.js';
import { buildEngineDryRun, type EngineDryRun } from './dry-run.js';
import { DEFAULT_DATA_ROOT, planRemoval, type DataRootFact } from './removal.js';
import { monitorTarget } from './monitor-target.js';
import type { MonitorTarget } from '../monitor/spec.js';
import { deepEqual, type JsonObject } from './options.js';
import { prepareCompose, type ComposePrepared } from '../compose/prepare.js';
import type { ComposeRuntime } from '../compose/run.js';
import { findCompose } from '../compose/observe.js';

export type { Step } from './plan.js';
export type { EngineLayout } from './desired.js';

export interface EnginePorts {
  fs: FileSystem;
  cmd: CommandRunner;
  clock: Clock;
  /** Default: systemd when /run/systemd/system exists, else the direct manager. */
  services?: ServiceManager;
  /** Default: node:http over the unix socket, node:tls for the TCP port. */
  probe?: DaemonProbe;
  /** Jitter source for lock-wait backoff. Default Math.random. */
  random?: () => number;
  /** The VM's host name, FQDN and addresses (certs.issuer). Default: the machine's own. */
  hostFacts?: () => Promise<HostFacts>;
}

export interface EngineStepReport {
  name: string;
  status: 'success' | 'warning' | 'error' | 'transitioning';
  message: string;
}

export interface EngineOutcome {
  changed: boolean;
  restarted: 'none' | 'reload' | 'restart' | 'start';
  steps: EngineStepReport[];
  warnings: string[];
  summary: string;
  /** After a proven apply: what the monitor holds dockerd to. */
  monitor?: MonitorTarget;
}

export interface EngineOptions {
  log: Logger;
  stateDir: string;
  onProgress?: (step: EngineStepReport) => void;
  signal?: AbortSignal;
  /** Paths and bounds; defaults are the VM's (/etc/docker, 0.0.0.0, 90 s readiness). */
  layout?: Partial<EngineLayout>;
}

export interface EnginePlan {
  /** Everything the dry run shows about the engine, as a value (dry-run.ts). */
  dryRun: EngineDryRun;
  /** Safe to print or serialise: no secret and no hash of one (certificates by fingerprint; daemon.json and the drop-in in full). */
  plan: Step[];
  /** One human line per step. */
  lines: string[];
  action: ServiceAction;
  reasons: string[];
  warnings: string[];
  summary: string;
  distro: DistroInfo;
  install: InstallPlan;
}

interface Prepared {
  distro: DistroInfo;
  services: ServiceManager;
  launch: DaemonLaunch;
  install: InstallPlan;
  certCheck?: CertificateCheck;
  desired: DesiredState;
  config: ConfigPlan;
  newState: EngineState;
  layout: EngineLayout;
  reports: EngineStepReport[];
  warnings: string[];
  /** The extension's record as found. */
  previousState: EngineState | undefined;
  /** With an install step: the record it saves before installing (the packages named as the extension's). */
  installState?: EngineState;
  /** Set when the running dockerd's live-restore is to go: switched off by SIGHUP after the proof. */
  liveRestoreHandover?: LiveRestoreHandover;
  /** The steps that follow the proof (the hand-over's). */
  after: PlannedStep[];
  /** "certs.issuer": the certificate kept, or the one that would be issued (the dry run prints it). */
  issuance?: string;
  /** daemon.json as found, for the dry run's old → new values. */
  current: JsonObject;
  currentExists: boolean;
  /** The running dockerd (undefined: none runs): whether a restart would stop containers. */
  running?: { liveRestore?: boolean };
  compose: ComposePrepared;
}

class Reporter {
  readonly reports: EngineStepReport[] = [];
  constructor(private readonly onProgress?: (s: EngineStepReport) => void) {}
  add(name: string, status: EngineStepReport['status'], message: string): void {
    const r = { name, status, message };
    const i = this.reports.findIndex((x) => x.name === name);
    if (i >= 0) this.reports[i] = r;
    else this.reports.push(r);
    this.onProgress?.(r);
  }
}

function layoutOf(opts: EngineOptions): EngineLayout {
  return { ...DEFAULT_LAYOUT, ...opts.layout };
}

function checkAbort(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new StepFailedError(`Cancelled before ${what}; nothing further was changed`, 'EABORTED');
}

/**
 * Observes the machine and plans: reads only. A missing engine becomes the plan's first step, and
 * the rest is planned against what its package will install (assumedLaunch) until
 * replanAfterInstall reads the real thing.
 */
/** `mode` 'plan' (the dry run) describes a certificate it would issue; 'apply' makes it (in memory: the plan writes it). */
async function prepare(settings: HandlerSettings, ports: EnginePorts, opts: EngineOptions, rep: Reporter, mode: 'plan' | 'apply'): Promise<Prepared> {
  const { fs, cmd, clock } = ports;
  const layout = layoutOf(opts);
  const warnings: string[] = [];

  const distro = await detectDistro(fs);
  rep.add('distro', 'success', distro.name);

  // Everything the settings alone can get wrong is reported before anything is installed, all of
  // it in one error (enable's preflight has said the same already; the clock may have moved since).
  const problems: string[] = [];
  const opt = translateDockerOptions(settings.public.docker.options);
  if (opt.problems.length > 0) {
    rep.add('options', 'error', `Invalid settings: ${opt.problems.join('; ')}.`);
    problems.push(...opt.problems);
  }
  let certCheck: CertificateCheck | undefined;
  let issued: ServerCerts | undefined;
  const given = givenServerCerts(settings.protected.certs);
  const issuer = settings.protected.certs?.issuer;
  const issuerCheck = issuer ? issuerProblems(issuer, clock.now()) : undefined;
  const serverCheck = !issuer && given ? certificateProblems(given, clock.now()) : undefined;
  const certProblems = issuerCheck?.problems ?? serverCheck?.problems ?? [];
  if (certProblems.length > 0) {
    rep.add('certificates', 'error', `Invalid certificates: ${certProblems.join('; ')}.`);
    problems.push(...certProblems);
  }
  if (problems.length > 0) throw new ConfigError(`Invalid settings: ${problems.join('; ')}. Nothing was changed.`, opt.problems.length > 0 ? 'EOPTIONS' : 'ECERTS');
  if (issuerCheck?.facts) {
    try {
      issued = await issueOrKeep(settings, issuerCheck.facts, ports, layout, mode, rep);
    } catch (e) {
      rep.add('certificates', 'error', (e as Error).message);
      throw e;
    }
  } else if (serverCheck?.facts) {
    certCheck = { facts: serverCheck.facts, warnings: serverCheck.warnings };
    warnings.push(...certCheck.warnings);
    const f = certCheck.facts;
    rep.add(
      'certificates',
      certCheck.warnings.length ? 'warning' : 'success',
      `server certificate ${f.subject}${f.subjectAltName ? ` (${f.subjectAltName})` : ''} valid until ${f.notAfter}, issued by the CA, key matches` +
        (certCheck.warnings.length ? `; ${certCheck.warnings.join('; ')}` : ''),
    );
  }

  const services = ports.services ?? (await detectServiceManager({ fs, cmd, clock }));
  let launch = await services.inspect();

  const installed = await queryInstalled(distro, cmd);
  const arch = await queryArch(distro, cmd);
  const install = planInstall(
    distro,
    {
      source: settings.public.docker.engine.source,
      ...(settings.public.docker.engine.version !== undefined ? { version: settings.public.docker.engine.version } : {}),
      azureEnvironment: settings.public['azure-environment'],
    },
    { installed, dockerdPresent: launch.dockerdPath !== undefined && launch.installed, arch },
  );
  warnings.push(...install.warnings);
  if (settings.public['azure-environment'] === 'AzureGermanCloud') {
    warnings.push('public setting "azure-environment": AzureGermanCloud (Microsoft Cloud Deutschland) was closed in 2021; the public repositories are used. Use "AzureCloud" for the Germany regions of the global cloud');
  }
  const state = await readState(fs, opts.stateDir);
  // The engine the extension installs is its own (removeOnUninstall removes it): recorded with the install step.
  const installedRecord = install.action === 'install' ? installRecord(install, clock) : state?.installed;
  if (install.action === 'install') {
    if (!launch.installed) launch = assumedLaunch(distro, services, install);
  } else {
    if (!launch.installed) throw new StepFailedError(`No Docker engine found (${services.description}): ${install.reason}`, 'ENOENGINE');
    rep.add('engine', install.warnings.length ? 'warning' : 'success', [install.reason, ...install.warnings].join('; '));
  }

  const text = await fs.readText(layout.daemonJson);
  const current = parseDaemonJson(text, layout.daemonJson);
  const status = await services.status();
  // Swarm refuses live-restore; only a running dockerd can tell (a new install is not a swarm node).
  const info = status.active ? await probeOf(ports).info(socketPathOf(hostsServed(current, launch, await fs.exists(layout.dropIn)), launch.socketPath), 5_000) : undefined;
  const desired = computeDesired({ settings, launch, current, currentExists: text !== undefined, state, layout, swarmActive: info?.swarmActive === true, ...(issued ? { issued } : {}) });
  warnings.push(...desired.warnings);
  // The compose project runs last, once dockerd is proven serving the configuration.
  const compose = await prepareCompose(settings, { fs, cmd, distro, stateDir: opts.stateDir, socketPath: desired.verify.socketPath, dockerdRunning: status.active });
  warnings.push(...compose.warnings);
  const liveRestoreHandover = await planLiveRestoreHandover(info, desired, launch, fs, layout);

  const observedFiles: ObservedConfig['files'] = {};
  for (const p of new Set([...desired.files.map((f) => f.path), ...desired.removeFiles, layout.dropIn])) {
    const content = await fs.readBytes(p);
    const st = content !== undefined ? await fs.stat(p) : undefined;
    observedFiles[p] = { ...(content !== undefined ? { content } : {}), ...(st ? { mode: st.mode } : {}) };
  }
  const djStat = text !== undefined ? await fs.stat(layout.daemonJson) : undefined;
  const newState: EngineState = {
    version: 1,
    daemonJson: { path: layout.daemonJson, owned: desired.owned, created: state?.daemonJson.created ?? text === undefined },
    files: desired.files.map((f) => f.path),
    ...(desired.dropIn ? { dropIn: desired.dropIn.path } : {}),
    ...(installedRecord ? { installed: installedRecord } : {}),
  };
  const previousState = state;
  const config = diffConfig(
    desired,
    {
      daemonJson: { parsed: current, ...(text !== undefined ? { content: Buffer.from(text) } : {}), ...(djStat ? { mode: djStat.mode } : {}) },
      files: observedFiles,
      running: status.active,
      enabled: status.enabled,
      interrupted: interruptedBeforeProof(await readRollback(fs, opts.stateDir)),
      stateChanged: !deepEqual(JSON.parse(JSON.stringify(previousState ?? null)), JSON.parse(JSON.stringify(newState))),
      statePath: statePath(opts.stateDir),
    },
    layout,
  );
  refuseHandStarted(launch, config.action);
  if (config.contents.has(layout.daemonJson)) {
    const validator: ConfigValidator = launch.installed ? await readValidator(cmd, launch.dockerdPath) : { kind: 'skip', why: 'the engine is not installed yet (planned again once it is)' };
    config.steps.unshift(validationStep(validator, layout.daemonJson));
  }
  if (install.action === 'install') {
    config.steps.unshift({ kind: 'install-engine', manager: install.manager, packages: install.packages, commands: install.commands, reason: install.reason, ...(install.repo ? { repository: install.repo.url } : {}) });
  }
  const after = liveRestoreHandover ? handoverSteps(liveRestoreHandover, desired.verify.socketPath, layout, newState, statePath(opts.stateDir)) : [];
  const prepared: Prepared = {
    distro, services, launch, install, desired, config, newState, layout, reports: rep.reports, warnings, previousState, after,
    current, currentExists: text !== undefined, compose,
    ...(status.active ? { running: info?.liveRestore !== undefined ? { liveRestore: info.liveRestore } : {} } : {}),
  };
  if (install.action === 'install') {
    const base: EngineState = previousState ?? { version: 1, daemonJson: { path: layout.daemonJson, owned: {}, created: text === undefined }, files: [] };
    prepared.installState = { ...base, installed: installedRecord! };
  }
  if (liveRestoreHandover) prepared.liveRestoreHandover = liveRestoreHandover;
  if (certCheck) prepared.certCheck = certCheck;
  if (issued) prepared.issuance = rep.reports.find((r) => r.name === 'certificates')?.message;
  return prepared;
}

/** What a dry run shows in place of a certificate and key it does not make. */
const NOT_YET_ISSUED = '(issued by enable; a dry run makes no certificate)\n';

/**
 * "certs.issuer": the certificate and key on disk while they still fit (same issuer, the VM's
 * names, outside the renewal window), so that a re-enable restarts nothing; otherwise a new key
 * and certificate made here. A dry run says what it would issue and makes nothing. `facts`: the
 * issuer, checked by prepare() with everything else.
 */
async function issueOrKeep(settings: HandlerSettings, facts: IssuerFacts, ports: EnginePorts, layout: EngineLayout, mode: 'plan' | 'apply', rep: Reporter): Promise<ServerCerts> {
  const c = settings.protected.certs!;
  const issuer = c.issuer!;
  const now = ports.clock.now();
  const policy = policyOf(settings.public.docker.tls);
  const host = await (ports.hostFacts ?? (() => readHostFacts(ports.cmd)))();
  const names = wantedNames(host, policy.extraNames);
  const [certPem, keyPem] = await Promise.all([ports.fs.readText(layout.certFile), ports.fs.readText(layout.keyFile)]);
  if (keyPem !== undefined) registerSecrets([keyPem]);
  const d = decide({ cert: certPem, key: keyPem }, issuer.cert, names, policy, now);
  const by = `issuer ${facts.subject} (${FINGERPRINT_LABEL} ${facts.fingerprint256})`;
  if (d.kind === 'keep') {
    rep.add('certificates', 'success', `server certificate issued on this VM by ${by} kept: valid until ${isoDate(d.notAfter)}, renewed by the monitor from ${isoDate(d.renewAt)}; names ${describeNames(names)}`);
    return { ca: c.ca, cert: certPem!, key: keyPem! };
  }
  const what = `for ${describeNames(names)}, valid ${describeValidity(policy.validityMs)}, signed by ${by}`;
  if (mode === 'plan') {
    rep.add('certificates', 'success', `would issue a new server certificate and key on this VM (${d.reason}) ${what}`);
    return { ca: c.ca, cert: NOT_YET_ISSUED, key: NOT_YET_ISSUED };
  }
  const { issueServerCertificate } = await import('../crypto/issue-certificate.js');
  const t0 = ports.clock.now();
  const cert = await issueServerCertificate(issuer, names, policy.validityMs, now);
  registerSecrets([cert.keyPem]);
  rep.add('certificates', 'success', `issued a new server certificate and key on this VM (${d.reason}) ${what}: valid until ${new Date(cert.notAfter).toISOString()}, ${FINGERPRINT_LABEL} ${cert.fingerprint256} (${ports.clock.now() - t0} ms)`);
  return { ca: c.ca, cert: cert.certPem, key: cert.keyPem };
}

/**
 * A dockerd started by hand with flags of its own (see DirectServiceManager.handStarted) is not
 * restarted with the extension's command line, which would silently drop them; nor reloaded,
 * since it may read another file. The admin decides. Checked before anything is written.
 */
function refuseHandStarted(launch: DaemonLaunch, action: ServiceAction | 'stop'): void {
  const hand = launch.handStarted;
  if (!hand || action === 'none' || action === 'start') return;
  const flags = hand.foreignArgs.join(' ');
  const shown = flags.length > 300 ? `${flags.slice(0, 300)}…` : flags;
  throw new ConfigError(
    `dockerd (pid ${hand.pid}) was started by hand with ${shown}, which the extension does not pass; to ${action} it with the extension's command line would drop ${hand.foreignArgs.length === 1 ? 'that flag' : 'those flags'}. ` +
      `Move them into "docker.options" (or daemon.json), stop that dockerd (kill ${hand.pid}), and run enable again: the extension then starts dockerd itself. Nothing was changed.`,
    'EHANDSTARTED',
  );
}

/** An apply left its record behind before it proved the configuration (see progress.ts). */
function interruptedBeforeProof(rec: RollbackRecord | undefined): boolean {
  return rec !== undefined && !(rec.done ?? []).includes('verify');
}

function installRecord(install: InstallPlan, clock: Clock): NonNullable<EngineState['installed']> {
  return { manager: install.manager, packages: install.packages, source: install.source, at: new Date(clock.now()).toISOString() };
}

/** What a not-yet-installed engine's unit will look like, until replanAfterInstall reads it. */
function assumedLaunch(distro: DistroInfo, services: ServiceManager, install: InstallPlan): DaemonLaunch {
  const debianDockerIo = distro.id === 'debian' && install.enginePackage === 'docker.io';
  if (services.kind === 'direct') {
    return { manager: 'direct', replaceableArgs: [], fixedArgs: [], socketActivated: false, socketPath: '/var/run/docker.sock', installed: false, notes: ['engine not installed yet: planned against its defaults'], dockerdPath: '/usr/bin/dockerd' };
  }
  return {
    manager: 'systemd',
    dockerdPath: debianDockerIo ? '/usr/sbin/dockerd' : '/usr/bin/dockerd',
    replaceableArgs: ['-H', 'fd://', '--containerd=/run/containerd/containerd.sock', ...(distro.family === 'azurelinux' ? ['--exec-opt', 'native.cgroupdriver=systemd'] : [])],
    replaceableSource: `the docker.service of ${install.enginePackage ?? 'the engine package'} (assumed: not installed yet)`,
    fixedArgs: [],
    socketActivated: true,
    socketPath: '/run/docker.sock',
    installed: false,
    notes: [],
  };
}

function accessLayoutOf(layout: EngineLayout, stateDir: string): AccessLayout {
  const parent = stateDir.replace(/\/+$/, '').replace(/\/[^/]*$/, '') || '/';
  return { ovfEnvFile: layout.ovfEnvFile ?? `${parent === '/' ? '' : parent}/ovf-env.xml`, rootDockerConfig: layout.rootDockerConfig };
}

/** The access steps (access.ts) from the machine as it is now; `settings` undefined: uninstall. */
async function accessPlan(settings: HandlerSettings | undefined, ports: EnginePorts, opts: { stateDir: string }, layout: EngineLayout, socketPath: string, engineToInstall = false): Promise<AccessPlan> {
  const al = accessLayoutOf(layout, opts.stateDir);
  const observed = await observeAccess(settings, ports.fs, ports.cmd, opts.stateDir, al);
  return planAccess({ settings, observed, stateDir: opts.stateDir, socketPath, layout: al, now: new Date(ports.clock.now()), engineToInstall });
}

/** What the compose steps run with: dockerd's proven local socket, the distro's package manager. */
function composeRuntime(
  ports: EnginePorts,
  opts: { log: Logger; stateDir: string },
  at: { distro: DistroInfo; socketPath: string; layout: EngineLayout; compose: ComposePrepared },
  rep: Reporter,
): ComposeRuntime {
  return {
    fs: ports.fs,
    cmd: ports.cmd,
    clock: ports.clock,
    log: opts.log,
    distro: at.distro,
    socketPath: at.socketPath,
    stateDir: opts.stateDir,
    dockerConfig: at.layout.rootDockerConfig,
    view: at.layout.daemonView,
    onProgress: (m) => rep.add('compose', 'transitioning', m),
  };
}

/** One line for the status: the project, its services, which compose, and what was done. */
async function composeOutcome(c: ComposePrepared, ports: EnginePorts): Promise<string | undefined> {
  const d = c.desired;
  if (!d) return c.plan.steps.length ? c.plan.why : undefined;
  const tool = c.tool ?? (await findCompose(ports.cmd, ports.fs).then((t) => (t ? `${t.label} ${t.version}` : undefined)));
  const up = c.plan.steps.some((s) => s.step.kind === 'compose-up');
  return `project ${d.project} (${d.services.join(', ') || 'no services'}) with ${tool ?? 'compose'}: ${up ? `up -d ran (${c.plan.why})` : c.plan.why}`;
}

/** --dry-run: the same pipeline up to the diff. Reads only; installs nothing. */
export async function planEngine(
  settings: HandlerSettings,
  ports: EnginePorts,
  opts: EngineOptions,
): Promise<EnginePlan> {
  const rep = new Reporter();
  const p = await prepare(settings, ports, opts, rep, 'plan');
  const access = await accessPlan(settings, ports, opts, p.layout, p.desired.verify.socketPath, p.install.action === 'install');
  return {
    dryRun: buildEngineDryRun({
      distro: p.distro,
      serviceManager: p.services.kind,
      install: p.install,
      layout: p.layout,
      current: p.current,
      currentExists: p.currentExists,
      desired: p.desired,
      config: p.config,
      after: afterProof(p, access).map((s) => s.step),
      ...(p.running ? { running: p.running } : {}),
      certificate: certificateView(p),
    }),
    plan: [...p.config.steps, ...afterProof(p, access).map((s) => s.step)],
    lines: planLines(p, access),
    action: p.config.action,
    reasons: p.config.reasons,
    warnings: [...p.warnings, ...access.warnings],
    summary: planSummary(p),
    distro: p.distro,
    install: p.install,
  };
}

/** The server certificate the plan leads to, for the dry run. */
function certificateView(p: Prepared): EngineDryRun['certificate'] {
  if (p.issuance) return { source: 'issued-on-vm', description: p.issuance, subject: null, subjectAltNames: [], notAfter: null, fingerprintSha256: null };
  const f = p.certCheck?.facts;
  if (!f) return null;
  return {
    source: 'given',
    description: `${f.subject}; names ${f.subjectAltName ?? 'none (no subjectAltName)'}; valid until ${f.notAfter}; issued by ${f.caSubjects.join(', ') || 'the CA'}; ${FINGERPRINT_LABEL} ${f.fingerprint256}`,
    subject: f.subject,
    subjectAltNames: f.subjectAltName ? f.subjectAltName.split(', ') : [],
    notAfter: f.notAfter,
    fingerprintSha256: f.fingerprint256,
  };
}

/** The plan's steps, and the live-restore handover that follows them (see planLiveRestoreHandover). */
/**
 * What runs once dockerd is proven serving, in this order: the live-restore hand-over, the access
 * steps (the docker group, the registry login), then compose, which may pull a private image.
 */
function afterProof(p: Prepared, access: AccessPlan): PlannedStep[] {
  return [...p.after, ...access.steps, ...p.compose.plan.steps];
}

function planLines(p: Prepared, access: AccessPlan): string[] {
  return [...(p.issuance ? [p.issuance] : []), ...describeSteps([...p.config.steps, ...afterProof(p, access).map((s) => s.step)])];
}

/** The substatus a failure of applyConfig belongs to: the service, or a step after the proof. */
function failedPart(e: unknown): string {
  switch ((e as { code?: string }).code) {
    case 'ELOGIN':
      return 'login';
    case 'EDOCKERGROUP':
      return 'docker group';
    case 'ECOMPOSE':
    case 'ENOCOMPOSE':
      return 'compose';
    default:
      return 'service';
  }
}

function planSummary(p: Prepared): string {
  const changes = p.config.steps.filter((s) => s.kind !== 'verify').length + p.compose.plan.steps.length;
  if (changes === 0 && !p.liveRestoreHandover) return `Nothing to change on ${p.distro.name}; dockerd would only be checked${p.compose.desired ? ` (compose: ${p.compose.plan.why})` : ''}.`;
  const handover = p.liveRestoreHandover ? '; then live-restore switched off by SIGHUP' : '';
  return `${changes} change${changes === 1 ? '' : 's'} on ${p.distro.name}; dockerd: ${p.config.action === 'none' ? 'no restart' : p.config.action}${p.config.reasons.length ? ` (${p.config.reasons.join('; ')})` : ''}${handover}.`;
}

export async function reconcileEngine(settings: HandlerSettings, ports: EnginePorts, opts: EngineOptions): Promise<EngineOutcome> {
  const rep = new Reporter(opts.onProgress);
  const started = ports.clock.now();
  // A start hold that a run killed during its install left behind (see install.ts) goes first.
  await releaseLeftoverStartHold(ports.fs);
  let p = await prepare(settings, ports, opts, rep, 'apply');
  const installedNow = p.install.action === 'install';

  if (p.install.action === 'install') {
    await applyInstallStep(p, ports, opts, rep);
    p = await replanAfterInstall(settings, ports, opts, rep, p.install);
  }
  const { config, desired } = p;
  checkAbort(opts.signal, 'changing the Docker configuration');
  // The access steps (docker group, registry login) read only files, so they are planned now, with
  // the engine installed; they run after the proof, before compose (a private image needs the login).
  const access = await accessPlan(settings, ports, opts, p.layout, desired.verify.socketPath);
  rep.add('configuration', 'transitioning', config.filesChanged ? `writing ${[...config.contents.keys(), ...config.removals].join(', ')}` : 'unchanged');
  const ctx: ApplyContext = {
    fs: ports.fs,
    clock: ports.clock,
    services: p.services,
    probe: probeOf(ports),
    log: opts.log,
    layout: p.layout,
    stateDir: opts.stateDir,
    launch: p.launch,
    onProgress: (m) => rep.add('service', 'transitioning', m),
    cmd: ports.cmd,
    compose: composeRuntime(ports, opts, { ...p, socketPath: p.desired.verify.socketPath }, rep),
  };
  let result;
  try {
    result = await applyConfig(config, p.newState, desired.verify, ctx, statePath(opts.stateDir), afterProof(p, access));
    if (p.liveRestoreHandover) {
      handedOver(p.liveRestoreHandover, desired);
      rep.add('service', 'success', 'live-restore switched off by SIGHUP; no container was stopped');
    }
  } catch (e) {
    rep.add(failedPart(e), 'error', (e as Error).message);
    throw e;
  }
  rep.add(
    'configuration',
    'success',
    config.filesChanged
      ? `daemon.json${config.configChanges.length ? ` (${config.configChanges.join(', ')})` : ''}${desired.dropIn && config.contents.has(desired.dropIn.path) ? ', systemd drop-in' : ''}${desired.files.some((f) => config.contents.has(f.path)) ? ', TLS certificate and key' : ''} written`
      : 'unchanged',
  );
  const restarted = result.action;
  rep.add('service', 'success', restarted === 'none' ? 'dockerd already runs this configuration; not restarted' : `${past(restarted)} dockerd (${config.reasons.join('; ') || 'it did not serve its configuration'})`);
  rep.add('verify', 'success', result.verify.checks.join('; '));
  for (const r of access.reports) rep.add(r.name, r.status, r.message);
  const composeLine = await composeOutcome(p.compose, ports);
  if (composeLine) rep.add('compose', 'success', composeLine);
  opts.log.info({ event: 'engine reconciled', restarted, changed: config.filesChanged, access: access.steps.map((s) => stepName(s.step)), ms: ports.clock.now() - started });

  const listener = desired.tcp ? (desired.tcp.tls ? `TLS on port ${desired.tcp.port}` : `plain TCP on port ${desired.tcp.port} (no TLS)`) : 'no TCP listener';
  const engine = result.verify.version ? `Docker Engine ${result.verify.version}` : 'Docker Engine';
  const filesChanged = config.filesChanged || p.liveRestoreHandover !== undefined;
  const what = restarted === 'none' ? (filesChanged ? 'configuration updated without a restart' : 'configuration unchanged, nothing restarted') : `${past(restarted)} (${config.reasons.join('; ') || 'unhealthy'})`;
  const issuance = settings.protected.certs?.issuer ? policyOf(settings.public.docker.tls) : undefined;
  const monitor = await monitorTarget({
    fs: ports.fs,
    layout: p.layout,
    desired,
    services: p.services,
    launch: p.launch,
    ...(result.verify.version ? { engineVersion: result.verify.version } : {}),
    ...(issuance ? { issuance } : {}),
  });
  return {
    changed: filesChanged || restarted !== 'none' || installedNow || access.steps.length > 0,
    restarted,
    steps: rep.reports,
    warnings: [...p.warnings, ...access.warnings],
    summary: `${engine} serves the local socket and ${listener}; ${what}.${composeLine ? ` Compose: ${composeLine}.` : ''}`,
    ...(monitor ? { monitor } : {}),
  };
}

/** The plan's install step, run by the applier (applyInstall); the record it saves was planned with it. */
async function applyInstallStep(p: Prepared, ports: EnginePorts, opts: EngineOptions, rep: Reporter): Promise<void> {
  const install = p.install;
  checkAbort(opts.signal, 'installing the engine');
  rep.add('engine', 'transitioning', `installing ${install.packages.join(' ')} (${install.reason})`);
  await applyInstall(
    install,
    {
      fs: ports.fs,
      cmd: ports.cmd,
      clock: ports.clock,
      log: opts.log,
      distro: p.distro,
      ...(ports.random ? { random: ports.random } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      onProgress: (m) => rep.add('engine', 'transitioning', m),
    },
    opts.stateDir,
    { before: p.previousState, during: p.installState! },
  );
}

/**
 * The plan made before the install assumed the package's unit (assumedLaunch); the installed
 * engine's own (its ExecStart, its socket, whether systemd knows it) is read now, and the rest of
 * the plan made again from the machine as it is. Run by the applier right after the install step.
 */
async function replanAfterInstall(settings: HandlerSettings, ports: EnginePorts, opts: EngineOptions, rep: Reporter, install: InstallPlan): Promise<Prepared> {
  const p = await prepare(settings, ports, opts, rep, 'apply');
  if (p.install.action === 'install' || !p.launch.installed) {
    throw new StepFailedError(`${install.packages.join(' ')} installed, but ${p.services.description} is not there`, 'ENOENGINE');
  }
  rep.add('engine', 'success', `installed ${install.packages.join(' ')} with ${install.manager}`);
  return p;
}

function past(a: ServiceAction): string {
  return a === 'start' ? 'started' : a === 'restart' ? 'restarted' : a === 'reload' ? 'reloaded (SIGHUP)' : 'unchanged';
}

/**
 * Uninstall: give back what the extension added (TCP listener, TLS files, drop-in, the
 * daemon.json keys it owns — restoring values it displaced), restart dockerd on the local socket
 * only. Engine, images and containers stay unless `removeEngine` and the extension installed them.
 */
export async function removeEngineConfig(ports: EnginePorts, opts: { log: Logger; stateDir: string; removeEngine: boolean; layout?: Partial<EngineLayout>; onProgress?: (step: EngineStepReport) => void }): Promise<EngineOutcome> {
  const { fs, cmd, clock } = ports;
  const rep = new Reporter(opts.onProgress);
  const layout = layoutOf(opts);

  // Observe.
  const state = await readState(fs, opts.stateDir);
  const services = ports.services ?? (await detectServiceManager({ fs, cmd, clock }));
  const launch = await services.inspect();
  const warnings: string[] = [];

  // First (they need neither dockerd nor the engine, and an engine removal cannot stop them): log
  // out what the extension logged in, take back the docker group membership it added. Each is
  // safe to run again.
  const access = await accessPlan(undefined, ports, opts, layout, launch.socketPath);
  const ctx: ApplyContext = {
    fs,
    clock,
    services,
    probe: probeOf(ports),
    log: opts.log,
    layout,
    stateDir: opts.stateDir,
    launch,
    cmd,
    onProgress: (m, kind) => rep.add(kind === 'purge-engine' ? 'engine' : 'service', 'transitioning', m),
  };
  await runPlannedSteps(access.steps, ctx);
  for (const r of access.reports) rep.add(r.name, r.status, r.message);

  if (!launch.installed && !state) {
    const taken = access.steps.length > 0 ? 'the registry login and docker group membership the extension made were taken back' : 'nothing to remove';
    return { changed: access.steps.length > 0, restarted: 'none', steps: rep.reports, warnings, summary: `No Docker engine and nothing configured by the extension; ${taken}.` };
  }
  const text = await fs.readText(layout.daemonJson);
  const current = parseDaemonJson(text, layout.daemonJson);
  const desired = computeDesired({ settings: parseSettings({}, {}), launch, current, currentExists: text !== undefined, state, layout, removal: true });
  warnings.push(...desired.warnings);
  const observedFiles: ObservedConfig['files'] = {};
  for (const p of new Set([...desired.removeFiles, layout.dropIn])) {
    const content = await fs.readBytes(p);
    observedFiles[p] = content !== undefined ? { content } : {};
  }
  const status = await services.status();
  const removeEngine = opts.removeEngine && state?.installed !== undefined;
  const record = await readRollback(fs, opts.stateDir);
  // An engine removal killed after its purge has forgotten the record of the install: not a warning.
  if (opts.removeEngine && !state?.installed && !record?.done?.includes('purge-engine')) warnings.push('"docker.engine.removeOnUninstall" is set, but the engine was not installed by the extension; it is kept');
  const info = status.active ? await probeOf(ports).info(desired.verify.socketPath, 5_000) : undefined;
  const handover = removeEngine ? undefined : await planLiveRestoreHandover(info, desired, launch, fs, layout);
  // Read before dockerd stops and daemon.json loses the keys the extension owned (a "--data-root"
  // from docker.options is one of them); a run killed after the stop left them in its record.
  const dataRoots: DataRootFact[] = [];
  if (removeEngine) {
    for (const path of [...new Set([...dataRootsOf(info, current, launch), ...(record?.dataRoots ?? [])])]) {
      const keep = await whyNotPurge(fs, path);
      // A recorded root the killed run already emptied and removed is done, not kept.
      if (keep === NOT_THERE && record?.dataRoots?.includes(path)) continue;
      dataRoots.push(keep !== undefined ? { path, keep } : { path });
    }
  }
  const distro = await detectDistro(fs);
  const compose = await prepareCompose(undefined, { fs, cmd, distro, stateDir: opts.stateDir, socketPath: desired.verify.socketPath, dockerdRunning: status.active });
  const composeDown = compose.plan.steps.map((s) => s.step).find((s): s is Extract<Step, { kind: 'compose-down' }> => s.kind === 'compose-down');
  if (composeDown && !status.active) {
    warnings.push(`dockerd is stopped, so the containers of compose project ${composeDown.project} were not removed (they do not run); remove them with "docker compose -p ${composeDown.project} down" once dockerd runs`);
  }
  const dropInDir = layout.dropIn.slice(0, layout.dropIn.lastIndexOf('/'));
  const dropInDirOthers = (await fs.exists(dropInDir)) ? (await fs.list(dropInDir)).filter((n) => `${dropInDir}/${n}` !== layout.dropIn) : undefined;

  // Plan (pure).
  const config = diffConfig(
    desired,
    {
      daemonJson: { parsed: current, ...(text !== undefined ? { content: Buffer.from(text) } : {}) },
      files: observedFiles,
      running: status.active || removeEngine,
      enabled: true,
      // An uninstall killed between its writes and its restart: dockerd still serves what the files no longer say.
      interrupted: interruptedBeforeProof(record),
      stateChanged: state !== undefined,
      statePath: statePath(opts.stateDir),
    },
    layout,
  );
  refuseHandStarted(launch, removeEngine ? 'stop' : config.action);
  const newState: EngineState = {
    version: 1,
    daemonJson: { path: layout.daemonJson, owned: desired.owned, created: state?.daemonJson.created ?? false },
    files: [],
    ...(state?.installed ? { installed: state.installed } : {}),
  };
  const plan = planRemoval({
    config,
    layout,
    statePath: statePath(opts.stateDir),
    previous: state,
    newState,
    nothingOwned: Object.keys(handover ? handover.ownedBefore : desired.owned).length === 0,
    running: status.active,
    ...(removeEngine ? { removeEngine: { manager: state!.installed!.manager, packages: state!.installed!.packages } } : {}),
    dataRoots,
    handover: handover ? handoverSteps(handover, desired.verify.socketPath, layout, newState, statePath(opts.stateDir)) : [],
    ...(dropInDirOthers ? { dropInDirOthers } : {}),
    compose: compose.plan.steps,
  });

  // Apply.
  ctx.compose = composeRuntime(ports, opts, { distro, socketPath: desired.verify.socketPath, layout, compose }, rep);
  const composeDone = () => {
    if (composeDown) rep.add('compose', 'success', status.active ? `project ${composeDown.project} taken down (volumes kept) and its file removed` : `file of project ${composeDown.project} removed`);
  };
  const paths = touchedPaths(config, layout, statePath(opts.stateDir));
  if (plan.mode === 'left-stopped') {
    // dockerd is stopped (by the admin): give the files back, but do not start it on uninstall.
    await applySteps(plan.steps, ctx, { paths });
    composeDone();
    rep.add('configuration', 'success', config.filesChanged ? `removed ${config.removals.join(', ') || 'extension keys from daemon.json'}` : 'nothing to remove');
    return { changed: config.filesChanged, restarted: 'none', steps: rep.reports, warnings, summary: 'Extension configuration removed; dockerd was not running and was left stopped. Engine, images and containers are kept.' };
  }

  if (plan.mode === 'engine') {
    await applySteps(plan.steps, ctx, { paths, dataRoots: dataRoots.map((r) => r.path) });
    composeDone();
    for (const r of plan.kept) if (r.path !== DEFAULT_DATA_ROOT) warnings.push(`dockerd's data root ${r.path} is kept: ${r.keep}; remove it yourself if its images, containers and volumes are no longer wanted`);
    const names = plan.packages;
    const purged = plan.emptied;
    rep.add('engine', 'success', `removed ${names.join(' ')}${purged.length ? ` and emptied ${purged.join(', ')}` : ''}`);
    const kept = plan.kept.map((r) => r.path).filter((r) => r !== DEFAULT_DATA_ROOT);
    const data = purged.length
      ? ` with its images, containers and volumes (${purged.join(' and ')} emptied)${kept.length ? `; ${kept.join(', ')} kept (see the warnings)` : ''}`
      : kept.length
        ? `; its images, containers and volumes in ${kept.join(', ')} are kept (see the warnings)`
        : '';
    return { changed: true, restarted: 'none', steps: rep.reports, warnings, summary: `Docker engine (${names.join(' ')}) removed${data}.` };
  }

  const result = await applyConfig(config, newState, desired.verify, ctx, statePath(opts.stateDir), plan.after);
  composeDone();
  if (handover) handedOver(handover, desired);
  rep.add('configuration', 'success', config.filesChanged ? `removed ${[...config.removals, ...(config.configChanges.length ? [`daemon.json keys ${config.configChanges.join(', ')}`] : [])].join(', ')}` : 'nothing to remove');
  rep.add('verify', 'success', result.verify.checks.join('; '));
  return {
    changed: config.filesChanged || result.action !== 'none',
    restarted: result.action,
    steps: rep.reports,
    warnings,
    summary: `Extension configuration removed; dockerd serves the local socket only${result.action !== 'none' ? ` (${past(result.action)})` : ''}. Engine, images and containers are kept.`,
  };
}

/**
 * Where dockerd keeps images, containers and volumes: what the running dockerd says (GET /info
 * DockerRootDir), else daemon.json's "data-root" (or the old "graph"), else a --data-root on its
 * command line; and the package default, which an earlier configuration may have filled.
 * removeOnUninstall purges them all: an admin who asks for the engine to go expects its storage
 * to go with it, wherever they moved it, and the summary says which directories were emptied.
 */
function dataRootsOf(info: DaemonInfo | undefined, current: JsonObject, launch: DaemonLaunch): string[] {
  const fromFile = typeof current['data-root'] === 'string' ? current['data-root'] : typeof current.graph === 'string' ? current.graph : undefined;
  const flag = translateFlags([...launch.replaceableArgs, ...launch.fixedArgs], { context: 'unit' }).config['data-root'];
  const roots = [info?.rootDir, fromFile, typeof flag === 'string' ? flag : undefined, DEFAULT_DATA_ROOT].filter((r): r is string => typeof r === 'string' && r !== '');
  return [...new Set(roots.map((r) => r.replace(/\/+$/, '') || '/'))];
}


const NOT_THERE = 'it does not exist';

/** A directory is emptied only when it is Docker's: never a system directory, and only with Docker's own layout in it. */
async function whyNotPurge(fs: FileSystem, dir: string): Promise<string | undefined> {
  if (!dir.startsWith('/') || dir.split('/').includes('..')) return 'it is not an absolute path';
  if (['/', '/var', '/var/lib', '/mnt', '/media', '/home', '/root', '/srv', '/opt', '/tmp', '/usr', '/etc', '/boot', '/data', '/datadrive'].includes(dir)) return 'it is a system or mount directory, not one Docker made';
  if (!(await fs.exists(dir))) return NOT_THERE;
  const names = await fs.list(dir);
  if (names.length > 0 && !names.some((n) => ['image', 'containers', 'volumes', 'overlay2', 'buildkit', 'network', 'engine-id'].includes(n))) return 'it does not hold Docker\'s layout (image, containers, volumes)';
  return undefined;
}

export { verifyServes };

function probeOf(ports: EnginePorts): DaemonProbe {
  return ports.probe ?? new NodeDaemonProbe();
}

interface LiveRestoreHandover {
  final: JsonObject;
  finalWanted: boolean;
  mode: number;
  /** The keys owned without the handover's live-restore (recorded as owned while it is in the file). */
  ownedBefore: OwnedKeys;
}

/**
 * A dockerd running with live-restore, and a configuration without it (uninstall, or an admin's
 * "docker.liveRestore": false): a dockerd started without it kills the containers the old one left
 * running, and does not start again those with `unless-stopped`. So the apply keeps the key (its
 * restart stops nothing), and switchOffLiveRestore then takes it away without a restart.
 */
async function planLiveRestoreHandover(running: DaemonInfo | undefined, desired: DesiredState, launch: DaemonLaunch, fs: FileSystem, layout: EngineLayout): Promise<LiveRestoreHandover | undefined> {
  // From a unit's --live-restore it stays on anyway (and daemon.json may not name it).
  if (running?.liveRestore !== true || desired.config['live-restore'] === true || liveRestoreOnCommandLine(launch)) return undefined;
  const handover = { final: desired.config, finalWanted: desired.configFileWanted, mode: (await fs.stat(layout.daemonJson))?.mode ?? 0o644, ownedBefore: desired.owned };
  desired.config = { ...desired.config, 'live-restore': true };
  desired.configFileWanted = true;
  // The key is the extension's while the handover has it in the file: a run killed before the
  // handover ends must find it owned, or the next run would keep it as the admin's for good.
  if (!('live-restore' in desired.owned)) {
    desired.owned = { ...desired.owned, 'live-restore': 'live-restore' in handover.final ? { hadPrior: true, prior: handover.final['live-restore']! } : { hadPrior: false } };
  }
  return handover;
}


/**
 * The hand-over as steps after the proof: `"live-restore": false` in daemon.json and a SIGHUP (a
 * reloadable key: no container is touched), then the final file and the record without the key.
 * Each is recorded in the progress record; a run killed among them is finished by the next one,
 * which finds dockerd's live-restore (on or off) and plans from there.
 */
function handoverSteps(h: LiveRestoreHandover, socketPath: string, layout: EngineLayout, state: EngineState, statePathValue: string): PlannedStep[] {
  const write = (config: JsonObject, reason: string): PlannedStep => {
    const content = renderDaemonJson(config);
    return { step: { kind: 'write-file', path: layout.daemonJson, mode: h.mode, size: Buffer.byteLength(content), sha256: sha256Prefix(content), sensitive: false, reason, preview: content }, data: { content, mode: h.mode } };
  };
  return [
    write({ ...h.final, 'live-restore': false }, 'live-restore off, for dockerd to read on SIGHUP'),
    { step: { kind: 'live-restore-off', socketPath, reason: 'the restart kept live-restore so that no container stopped' } },
    h.finalWanted ? write(h.final, 'daemon.json without live-restore') : { step: { kind: 'remove-file', path: layout.daemonJson, reason: 'the extension created daemon.json and nothing else is left in it' } },
    { step: { kind: 'save-state', path: statePathValue, reason: 'live-restore is no longer the extension\'s' }, state: { ...state, daemonJson: { ...state.daemonJson, owned: h.ownedBefore } } },
  ];
}

/** After the hand-over: the desired configuration and ownership are the final ones again (for the monitor and the record). */
function handedOver(h: LiveRestoreHandover, desired: DesiredState): void {
  desired.config = h.final;
  desired.owned = h.ownedBefore;
}
