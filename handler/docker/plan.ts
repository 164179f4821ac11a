// desired × observed → ordered steps and the restart decision. Pure. Steps are safe to print or
// serialise: file contents travel separately (`contents`); only what holds no secret is shown.
import { certificateFingerprint, FINGERPRINT_LABEL } from '../crypto/fingerprint.js';
import { sha256Prefix } from '../digest.js';
import { changedKeys, renderDaemonJson } from './daemon-config.js';
import type { DesiredFile, DesiredState, EngineLayout, EngineState } from './desired.js';
import { RELOADABLE_KEYS, type JsonObject } from './options.js';
import type { LoginAccount } from './registry-login.js';
import type { ComposeRecord } from '../compose/desired.js';

export type ServiceAction = 'none' | 'reload' | 'restart' | 'start';

export type Step =
  | { kind: 'install-engine'; manager: string; packages: string[]; commands: string[][]; reason: string; repository?: string }
  /**
   * `sha256`: a prefix of the content's hash, for files that hold no secret; `fingerprint256`: a
   * certificate's X.509 SHA-256 fingerprint; a secret (the key) gets neither.
   */
  | { kind: 'write-file'; path: string; mode: number; size: number; sha256?: string; fingerprint256?: string; sensitive: boolean; reason: string; preview?: string }
  | { kind: 'remove-file'; path: string; reason: string }
  | { kind: 'chmod'; path: string; mode: number; reason: string }
  | { kind: 'save-state'; path: string; reason: string }
  | { kind: 'daemon-reload'; reason: string }
  | { kind: 'enable-service'; reason: string }
  | { kind: 'start-service' | 'restart-service' | 'reload-service'; reason: string }
  | { kind: 'verify'; checks: string[]; reason: string }
  /** `dockerd --validate` on a copy of the new daemon.json, before anything is written (validate-config.ts). */
  | { kind: 'validate-config'; path: string; dockerd?: string; version?: string; skipped?: string; reason: string }
  // Removal (uninstall) and the live-restore hand-over:
  | { kind: 'stop-service'; reason: string }
  /** SIGHUP with "live-restore": false in daemon.json, then wait for dockerd to report it off. */
  | { kind: 'live-restore-off'; socketPath: string; reason: string }
  | { kind: 'purge-engine'; manager: string; packages: string[]; argv: string[]; reason: string }
  | { kind: 'empty-data-root'; path: string; reason: string }
  | { kind: 'remove-empty-dir'; path: string; reason: string }
  | { kind: 'forget-state'; path: string; reason: string }
  // Access, after dockerd serves (access.ts): the admin user's group, then the registry login.
  // Compose steps come after these: a private image needs the login.
  | { kind: 'add-to-docker-group' | 'remove-from-docker-group'; user: string; reason: string }
  /** `host` absent: Docker Hub; `server` is how it is shown. */
  | { kind: 'registry-login' | 'registry-logout'; server: string; host?: string; account: LoginAccount; socketPath: string; reason: string }
  // The compose project (handler/compose/), after dockerd is proven serving:
  | { kind: 'install-compose'; manager: string; packages: string[]; reason: string }
  /** `environment`: the public variables' names and the number of protected ones (their names may be secrets too). */
  | { kind: 'compose-up'; project: string; file: string; environment: string; reason: string }
  | { kind: 'compose-down'; project: string; file: string; reason: string }
  | { kind: 'save-compose-state'; path: string; reason: string };

/**
 * A step with what it needs beyond what is safe to print: the content of a file it writes, the
 * ownership record it saves. Used where one path is written twice in a plan (the live-restore
 * hand-over writes daemon.json with the key off, then without it), which ConfigPlan.contents,
 * keyed by path, cannot hold.
 */
export interface PlannedStep {
  step: Step;
  data?: { content: string; mode: number };
  state?: EngineState;
  /** A registry-login's credentials: sent to dockerd's /auth and stored in config.json, never printed. */
  credentials?: { username: string; password: string };
  /** compose-up: the compose process's environment; save-compose-state: the record. Never printed. */
  compose?: { env?: Record<string, string>; record?: ComposeRecord };
}

/** The name a finished step gets in the progress record (see progress.ts). */
export function stepName(s: Step): string {
  switch (s.kind) {
    case 'write-file':
    case 'remove-file':
    case 'chmod':
    case 'empty-data-root':
    case 'remove-empty-dir':
      return `${s.kind} ${s.path}`;
    case 'add-to-docker-group':
    case 'remove-from-docker-group':
      return `${s.kind} ${s.user}`;
    case 'registry-login':
    case 'registry-logout':
      return `${s.kind} ${s.account.name}`;
    case 'compose-up':
    case 'compose-down':
      return `${s.kind} ${s.project}`;
    default:
      return s.kind;
  }
}

export interface ObservedFile {
  content?: Buffer;
  mode?: number;
}

export interface ObservedConfig {
  daemonJson: ObservedFile & { parsed: JsonObject };
  files: Record<string, ObservedFile>;
  running: boolean;
  enabled: boolean;
  /** A previous apply stopped between writing files and restarting (rollback record left behind). */
  interrupted: boolean;
  stateChanged: boolean;
  statePath: string;
}

export interface ConfigPlan {
  steps: Step[];
  contents: Map<string, { data: string; mode: number }>;
  removals: string[];
  chmods: { path: string; mode: number }[];
  action: ServiceAction;
  reasons: string[];
  daemonReload: boolean;
  enable: boolean;
  /** Any file on disk changes. */
  filesChanged: boolean;
  configChanges: string[];
}


export function diffConfig(desired: DesiredState, observed: ObservedConfig, layout: EngineLayout): ConfigPlan {
  const steps: Step[] = [];
  const contents = new Map<string, { data: string; mode: number }>();
  const removals: string[] = [];
  const chmods: { path: string; mode: number }[] = [];
  const restartWhy: string[] = [];
  const reloadWhy: string[] = [];
  let daemonReload = false;

  const writeFile = (f: DesiredFile, reason: string) => {
    contents.set(f.path, { data: f.content, mode: f.mode });
    const isCert = f.path === layout.caFile || f.path === layout.certFile || f.path === layout.issuerCertFile;
    const fp = isCert ? certificateFingerprint(f.content) : undefined;
    steps.push({
      kind: 'write-file',
      path: f.path,
      mode: f.mode,
      size: Buffer.byteLength(f.content),
      ...(f.sensitive ? {} : fp ? { fingerprint256: fp } : { sha256: sha256Prefix(f.content) }),
      sensitive: f.sensitive,
      reason,
      ...(f.sensitive || isCert ? {} : { preview: f.content }),
    });
  };

  // Certificates and key first: daemon.json must never point at files that are not there yet.
  let certsChanged = false;
  for (const f of desired.files) {
    const cur = observed.files[f.path];
    if (cur?.content === undefined || !cur.content.equals(Buffer.from(f.content))) {
      writeFile(f, cur?.content === undefined ? `${f.what} is missing` : `${f.what} differs`);
      if (!f.notForDockerd) certsChanged = true;
    } else if (cur.mode !== undefined && cur.mode !== f.mode) {
      chmods.push({ path: f.path, mode: f.mode });
      steps.push({ kind: 'chmod', path: f.path, mode: f.mode, reason: `${f.what} has mode ${cur.mode.toString(8)}, expected ${f.mode.toString(8)}` });
    }
  }
  if (certsChanged && desired.verify.tcp?.tls) restartWhy.push('the TLS certificate files changed (SIGHUP does not reload them)');

  // daemon.json: compared as JSON, so an admin's formatting is left alone when nothing changes.
  const before = observed.daemonJson.content !== undefined ? observed.daemonJson.parsed : {};
  const changes = changedKeys(before, desired.config);
  const configChanges = changes.map((c) => `${c.key} ${c.change}`);
  const dj = observed.daemonJson;
  if (!desired.configFileWanted) {
    if (dj.content !== undefined) {
      removals.push(layout.daemonJson);
      steps.push({ kind: 'remove-file', path: layout.daemonJson, reason: 'the extension created daemon.json and nothing else is left in it' });
    }
  } else if (changes.length > 0 || dj.content === undefined) {
    const mode = dj.mode ?? 0o644;
    writeFile({ path: layout.daemonJson, content: renderDaemonJson(desired.config), mode, sensitive: false, what: 'daemon.json' }, changes.length ? `keys ${configChanges.join(', ')}` : 'daemon.json is missing');
  }
  for (const c of changes) {
    // dockerd's reload only applies keys present in the new file; a removed key needs a restart.
    if (c.change !== 'removed' && RELOADABLE_KEYS.has(c.key)) reloadWhy.push(`${c.key} ${c.change}`);
    else restartWhy.push(`${c.key} ${c.change}`);
  }

  // The drop-in.
  if (desired.dropIn) {
    const cur = observed.files[desired.dropIn.path];
    if (cur?.content === undefined || !cur.content.equals(Buffer.from(desired.dropIn.content))) {
      writeFile(desired.dropIn, cur?.content === undefined ? `dockerd must run without the unit's flags (${desired.moved.join(' ')})` : 'the drop-in differs');
      daemonReload = true;
      restartWhy.push('the systemd drop-in changed');
    }
  } else if (desired.removeDropIn && observed.files[layout.dropIn]?.content !== undefined) {
    removals.push(layout.dropIn);
    steps.push({ kind: 'remove-file', path: layout.dropIn, reason: 'the unit\'s own ExecStart serves again' });
    daemonReload = true;
    restartWhy.push('the systemd drop-in was removed');
  }

  for (const p of desired.removeFiles) {
    if (observed.files[p]?.content !== undefined) {
      removals.push(p);
      steps.push({ kind: 'remove-file', path: p, reason: 'no longer configured (written by the extension earlier)' });
    }
  }

  const filesChanged = contents.size > 0 || removals.length > 0;
  // First, before any file: a run killed after writing daemon.json must find the keys it wrote
  // recorded as its own, or the next run would take them for the admin's and never give them back.
  if (filesChanged || observed.stateChanged) steps.unshift({ kind: 'save-state', path: observed.statePath, reason: 'record which daemon.json keys and files the extension owns' });
  if (daemonReload) steps.push({ kind: 'daemon-reload', reason: 'unit files changed' });
  const enable = !observed.enabled;
  if (enable) steps.push({ kind: 'enable-service', reason: 'dockerd is not enabled at boot' });

  let action: ServiceAction;
  let reasons: string[];
  if (!observed.running) {
    action = 'start';
    reasons = ['dockerd is not running'];
  } else if (restartWhy.length > 0) {
    action = 'restart';
    reasons = restartWhy;
  } else if (observed.interrupted) {
    action = 'restart';
    reasons = ['an earlier configuration change was interrupted before dockerd restarted'];
  } else if (reloadWhy.length > 0) {
    action = 'reload';
    reasons = reloadWhy;
  } else {
    action = 'none';
    reasons = [];
  }
  if (action !== 'none') steps.push({ kind: `${action}-service`, reason: reasons.join('; ') });
  const checks = [`GET /_ping on ${desired.verify.socketPath}`];
  if (desired.verify.tcp?.listenOnly) checks.push(`that ${desired.verify.tcp.host}:${desired.verify.tcp.port} accepts connections (${desired.verify.tcp.listenOnly}; not a condition of success)`);
  else if (desired.verify.tcp?.tls) checks.push(`TLS on ${desired.verify.tcp.host}:${desired.verify.tcp.port}: server certificate verified against certs.ca, client certificate required`);
  else if (desired.verify.tcp) checks.push(`plain HTTP on ${desired.verify.tcp.host}:${desired.verify.tcp.port}`);
  steps.push({ kind: 'verify', checks, reason: action === 'none' ? 'confirm dockerd serves the configuration' : 'prove the new configuration serves; roll back otherwise' });

  return { steps, contents, removals, chmods, action, reasons, daemonReload, enable, filesChanged, configChanges };
}

/** How a written file is identified in a plan line: never by a hash of a secret. */
function contentId(s: Extract<Step, { kind: 'write-file' }>): string {
  if (s.sensitive) return 'secret: no hash shown';
  if (s.fingerprint256) return `certificate, ${FINGERPRINT_LABEL} ${s.fingerprint256}`;
  return `sha256 ${s.sha256 ?? '-'}`;
}

/** One line per step for --dry-run and the log; no secret, and no hash of one. */
export function describeSteps(steps: readonly Step[]): string[] {
  return steps.map((s) => {
    switch (s.kind) {
      case 'install-engine':
        return `install ${s.packages.join(' ')} with ${s.manager}${s.repository ? ` from ${s.repository}` : ''}: ${s.reason} (the steps that follow are planned again against the installed engine)`;
      case 'write-file':
        return `write ${s.path} (mode ${s.mode.toString(8)}, ${s.size} bytes, ${contentId(s)}): ${s.reason}`;
      case 'remove-file':
        return `remove ${s.path}: ${s.reason}`;
      case 'chmod':
        return `chmod ${s.mode.toString(8)} ${s.path}: ${s.reason}`;
      case 'save-state':
        return `save ${s.path}: ${s.reason}`;
      case 'verify':
        return `verify ${s.checks.join('; ')}`;
      case 'validate-config':
        return s.skipped !== undefined
          ? `check the new ${s.path} with dockerd --validate: skipped, ${s.skipped}; ${s.reason}`
          : `check the new ${s.path} with dockerd ${s.version} --validate: ${s.reason}`;
      case 'live-restore-off':
        return `switch live-restore off by SIGHUP (no container stops): ${s.reason}`;
      case 'purge-engine':
        return `remove ${s.packages.join(' ')} with ${s.manager} (${s.argv.join(' ')}): ${s.reason}`;
      case 'empty-data-root':
        return `empty ${s.path}: ${s.reason}`;
      case 'remove-empty-dir':
        return `remove the directory ${s.path} if it is empty: ${s.reason}`;
      case 'forget-state':
        return `remove ${s.path}: ${s.reason}`;
      case 'add-to-docker-group':
        return `add ${s.user} to the docker group (usermod -aG docker ${s.user}): ${s.reason}`;
      case 'remove-from-docker-group':
        return `remove ${s.user} from the docker group (gpasswd -d ${s.user} docker): ${s.reason}`;
      case 'registry-login':
        return `log in to ${s.server} for ${s.account.name} (credentials checked by dockerd, stored in ${s.account.configDir}/config.json): ${s.reason}`;
      case 'registry-logout':
        return `log out of ${s.server} for ${s.account.name} (its entry removed from ${s.account.configDir}/config.json): ${s.reason}`;
      case 'install-compose':
        return `install ${s.packages.join(' ')} with ${s.manager}: ${s.reason}`;
      case 'compose-up':
        return `compose up -d project ${s.project} from ${s.file} (environment: ${s.environment}): ${s.reason}`;
      case 'compose-down':
        return `compose down project ${s.project} (its volumes kept): ${s.reason}`;
      case 'save-compose-state':
        return `save ${s.path}: ${s.reason}`;
      default:
        return `${s.kind.replace('-service', '')} dockerd: ${s.reason}`;
    }
  });
}
