// The compose project the settings ask for, and the steps that get the machine there. Pure: the
// observation (record, file, compose found, containers) comes in, typed steps go out, run by the
// one applier after dockerd is proven serving (apply.ts).
import { createHash } from 'node:crypto';
import type { HandlerSettings } from '../agent/settings.js';
import type { PlannedStep } from '../docker/plan.js';
import { keyedFingerprint } from '../crypto/keyed-fingerprint.js';
import { toComposeSpec } from './convert.js';

/** Where DockerExtension 1.x wrote its compose file: the same path adopts its project. */
export const COMPOSE_FILE = '/etc/docker/compose/docker-compose.yml';
/** What DockerExtension 1.x set unless compose-environment overrode it (op-enable.go). */
export const DEFAULT_PROJECT = 'compose';
export const DEFAULT_HTTP_TIMEOUT = '600';
export const COMPOSE_RECORD_FILE = 'compose-state.json';

/** What the last apply ran: names and hashes only, never a value of the environment. */
export interface ComposeRecord {
  version: 1;
  project: string;
  file: string;
  documentSha256: string;
  envNames: string[];
  /** Random, the record's own: the key of envFingerprint. */
  salt: string;
  /** HMAC-SHA256 of the environment under the salt (crypto/keyed-fingerprint.ts): changes show, values do not. */
  envFingerprint: string;
  /** Saved before `up` ran (the project may exist half-made): the next enable runs `up` again. */
  pending?: boolean;
}

export interface ComposeDesired {
  project: string;
  file: string;
  content: string;
  services: string[];
  /** The services `up -d` starts (those without profiles): each needs a running container. */
  startedServices: string[];
  /** The compose process's environment: COMPOSE_*, public values, protected values. Never printed. */
  env: Record<string, string>;
  publicNames: string[];
  protectedNames: string[];
  notes: string[];
}

/** The services `up -d` starts: all but those behind a profile. */
export function startedServiceNames(services: Record<string, unknown>): string[] {
  return Object.entries(services)
    .filter(([, v]) => !(typeof v === 'object' && v !== null && 'profiles' in v))
    .map(([n]) => n);
}

export function desiredCompose(s: HandlerSettings): ComposeDesired | undefined {
  const doc = s.public.compose;
  if (!doc) return undefined;
  const { document, notes } = toComposeSpec(doc);
  const services = (document['services'] ?? {}) as Record<string, unknown>;
  const pub = s.public['compose-environment'] ?? {};
  const prot = s.protected.environment ?? {};
  const env: Record<string, string> = { COMPOSE_PROJECT_NAME: DEFAULT_PROJECT, COMPOSE_HTTP_TIMEOUT: DEFAULT_HTTP_TIMEOUT, ...pub, ...prot };
  return {
    project: env['COMPOSE_PROJECT_NAME']!,
    file: COMPOSE_FILE,
    // JSON is YAML: what compose reads is exactly the setting, with nothing a YAML writer could
    // reinterpret (the "no"/"on" booleans of YAML 1.1, octal-looking strings).
    content: `${JSON.stringify(document, null, 2)}\n`,
    services: Object.keys(services),
    startedServices: startedServiceNames(services),
    env,
    publicNames: Object.keys(pub).sort(),
    protectedNames: Object.keys(prot).sort(),
    notes,
  };
}

export function recordOf(d: ComposeDesired, salt: string): ComposeRecord {
  return {
    version: 1,
    project: d.project,
    file: d.file,
    documentSha256: createHash('sha256').update(d.content).digest('hex'),
    envNames: Object.keys(d.env).sort(),
    salt,
    envFingerprint: envFingerprint(d.env, salt),
  };
}

export function envFingerprint(env: Record<string, string>, salt: string): string {
  return keyedFingerprint(salt, Object.keys(env).sort().map((k) => [k, env[k]]));
}

/** A compose the machine has: the v2 plugin (`docker compose`) or a `docker-compose` binary. */
export interface ComposeTool {
  /** What runs: the plugin's binary, or docker-compose from PATH. */
  file: string;
  /** How the status names it: "docker compose" or "docker-compose". */
  label: string;
  version: string;
}

export interface ComposeObserved {
  record?: ComposeRecord;
  file?: { content: string; mode: number };
  tool?: ComposeTool;
  /** The package that provides compose here, when none is found. */
  install?: { manager: string; packages: string[]; reason: string };
  /** Per service of the desired project (on removal: of the recorded one): its containers, and how many run. */
  containers: Record<string, { total: number; running: number }>;
  /** On removal: whether the recorded project's file is still there. */
  recordFileExists?: boolean;
}

export interface ComposePlan {
  steps: PlannedStep[];
  /** Why `up -d` runs, or why it does not (for the status). */
  why: string;
}

export const COMPOSE_FILE_MODE = 0o600;

/** `newSalt`: the salt of a first record; a recorded project keeps its own, so an unchanged environment compares equal. */
export function planCompose(d: ComposeDesired | undefined, o: ComposeObserved, newSalt: string, recordPath: string): ComposePlan {
  const steps: PlannedStep[] = [];
  const rec = o.record;
  if (!d) {
    if (!rec) return { steps, why: 'no compose project' };
    // A run killed after its `down` and the file's removal leaves the record: that project is
    // down already, and compose cannot read a project whose file is gone (1.x fails on it).
    const downDone = o.recordFileExists === false && Object.values(o.containers).every((c) => c.total === 0);
    if (!downDone) steps.push({ step: { kind: 'compose-down', project: rec.project, file: rec.file, reason: '"compose" was removed from the settings (volumes are kept)' } });
    steps.push(
      { step: { kind: 'remove-file', path: rec.file, reason: 'the compose project is gone' } },
      { step: { kind: 'remove-empty-dir', path: rec.file.slice(0, rec.file.lastIndexOf('/')), reason: 'it held only the compose file' } },
      { step: { kind: 'forget-state', path: recordPath, reason: 'no compose project is left to remember' } },
    );
    return { steps, why: `project ${rec.project} taken down` };
  }
  if (!o.tool) {
    if (!o.install) throw new Error('no compose and no package that provides it');
    steps.push({ step: { kind: 'install-compose', manager: o.install.manager, packages: o.install.packages, reason: o.install.reason } });
  }
  if (rec && rec.project !== d.project) {
    steps.push({ step: { kind: 'compose-down', project: rec.project, file: rec.file, reason: `the project is now named ${d.project} (volumes are kept)` } });
  }
  const want = recordOf(d, rec?.salt ?? newSalt);
  const why = upReason(d, o, want);
  const fileDiffers = o.file?.content !== d.content;
  if (why && !(rec?.pending && rec.project === d.project)) {
    // Before the file and `up`: a run killed half-way leaves a record naming the project, so
    // that removing "compose" later still takes it down.
    steps.push({ step: { kind: 'save-compose-state', path: recordPath, reason: 'name the project before it starts' }, compose: { record: { ...want, pending: true } } });
  }
  if (fileDiffers) {
    steps.push({
      step: { kind: 'write-file', path: d.file, mode: COMPOSE_FILE_MODE, size: Buffer.byteLength(d.content), sha256: want.documentSha256.slice(0, 12), sensitive: false, reason: o.file ? 'the compose document changed' : 'the compose file is missing', preview: d.content },
      data: { content: d.content, mode: COMPOSE_FILE_MODE },
    });
  } else if (o.file && o.file.mode !== COMPOSE_FILE_MODE) {
    steps.push({ step: { kind: 'chmod', path: d.file, mode: COMPOSE_FILE_MODE, reason: `the compose file has mode ${o.file.mode.toString(8)}` } });
  }
  if (why) {
    steps.push({ step: { kind: 'compose-up', project: d.project, file: d.file, environment: describeEnv(d), reason: why }, compose: { env: d.env } });
  }
  if (why || !rec || JSON.stringify(rec) !== JSON.stringify(want)) {
    steps.push({ step: { kind: 'save-compose-state', path: recordPath, reason: 'record what was applied (names and fingerprints only)' }, compose: { record: want } });
  }
  return { steps, why: why ?? `project ${d.project} unchanged and running; nothing recreated` };
}

/** Why `up -d` must run, or undefined: a boot or an unchanged enable recreates nothing. */
function upReason(d: ComposeDesired, o: ComposeObserved, want: ComposeRecord): string | undefined {
  const rec = o.record;
  if (!rec) return o.file?.content === d.content ? 'no record of the project being applied by this extension' : 'the compose project is new';
  if (rec.pending) return 'the last `up` did not finish';
  if (rec.project !== d.project) return `the project name changed from ${rec.project}`;
  if (rec.documentSha256 !== want.documentSha256 || o.file?.content !== d.content) return 'the compose document changed';
  if (rec.envNames.join(',') !== want.envNames.join(',') || rec.envFingerprint !== want.envFingerprint) return 'the compose environment changed';
  const down = d.startedServices.filter((s) => (o.containers[s]?.running ?? 0) === 0 || o.containers[s]!.running < o.containers[s]!.total);
  if (down.length) return `not all of the project's containers run (${down.join(', ')})`;
  return undefined;
}

/** Public names are shown; protected ones only counted: a name may be a secret pasted in the wrong place. */
export function describeEnv(d: ComposeDesired): string {
  const pub = [...new Set(['COMPOSE_HTTP_TIMEOUT', 'COMPOSE_PROJECT_NAME', ...d.publicNames])].sort();
  return `${pub.join(', ')}${d.protectedNames.length ? ` and ${d.protectedNames.length} protected variable(s)` : ''}`;
}
