// What `enable --dry-run` shows about the engine, as a value: the detected distribution and
// engine, the whole daemon.json it would write with each key's old → new value, the drop-in, the
// files, the certificate, and what happens to dockerd and the containers. Built from the plan
// (pure, no effect); its zod schema is the JSON contract of `--dry-run --json` and the type.
//
// Nothing here is a secret: daemon.json and the drop-in hold paths and dockerd options (the
// public settings); certificates are shown by their X.509 SHA-256 fingerprint, the key by nothing
// but "secret".
import * as z from 'zod/mini';
import { FINGERPRINT_LABEL } from '../crypto/fingerprint.js';
import type { DistroInfo } from '../distro/detect.js';
import { changedKeys, renderDaemonJson } from './daemon-config.js';
import type { DesiredState, EngineLayout } from './desired.js';
import type { InstallPlan } from './install.js';
import type { JsonObject } from './options.js';
import type { ConfigPlan, Step } from './plan.js';

export const EngineDryRunSchema = z.object({
  distro: z.object({ id: z.string(), version: z.string(), name: z.string(), packageManager: z.string() }),
  serviceManager: z.string(),
  engine: z.object({
    /** install: the plan's first step; keep: an engine is there and stays. */
    action: z.enum(['install', 'keep']),
    packages: z.array(z.string()),
    reason: z.string(),
    commands: z.array(z.string()),
  }),
  daemonJson: z.object({
    path: z.string(),
    action: z.enum(['write', 'remove', 'unchanged', 'absent']),
    /** Each top-level key that changes; `from`/`to` are null when the key is absent on that side. */
    changes: z.array(z.object({ key: z.string(), change: z.enum(['added', 'changed', 'removed']), from: z.unknown(), to: z.unknown() })),
    /** The whole file as it will be (null: there will be none). */
    content: z.nullable(z.string()),
  }),
  dropIn: z.object({ path: z.string(), action: z.enum(['write', 'remove', 'unchanged', 'absent']), content: z.nullable(z.string()) }),
  files: z.array(
    z.object({
      path: z.string(),
      action: z.enum(['write', 'remove', 'chmod']),
      mode: z.nullable(z.string()),
      /** A certificate's X.509 SHA-256 fingerprint (as openssl prints it). */
      fingerprintSha256: z.nullable(z.string()),
      secret: z.boolean(),
      reason: z.string(),
    }),
  ),
  /** The server certificate dockerd would present: the one given, kept, or to be issued on this VM. */
  certificate: z.nullable(
    z.object({
      source: z.enum(['given', 'issued-on-vm']),
      description: z.string(),
      subject: z.nullable(z.string()),
      subjectAltNames: z.array(z.string()),
      notAfter: z.nullable(z.string()),
      fingerprintSha256: z.nullable(z.string()),
    }),
  ),
  dockerd: z.object({
    action: z.enum(['none', 'reload', 'restart', 'start']),
    reasons: z.array(z.string()),
    /** Whether running containers would stop; null when no dockerd runs (so no container either). */
    containersStop: z.nullable(z.boolean()),
    containers: z.string(),
    /** live-restore is taken away after the proof by SIGHUP (no container stops). */
    liveRestoreHandover: z.boolean(),
  }),
});
export type EngineDryRun = z.infer<typeof EngineDryRunSchema>;

export interface DryRunFacts {
  distro: DistroInfo;
  serviceManager: string;
  install: InstallPlan;
  layout: EngineLayout;
  /** daemon.json as found (parsed), and whether it exists. */
  current: JsonObject;
  currentExists: boolean;
  desired: DesiredState;
  config: ConfigPlan;
  /** The steps after the proof (the live-restore hand-over). */
  after: Step[];
  /** The running dockerd: undefined when none runs (a tree, a stopped engine). */
  running?: { liveRestore?: boolean };
  certificate: EngineDryRun['certificate'];
}

export function buildEngineDryRun(f: DryRunFacts): EngineDryRun {
  const { config, desired, layout } = f;
  const wrote = (p: string) => config.steps.some((s) => s.kind === 'write-file' && s.path === p);
  const removed = (p: string) => config.removals.includes(p);
  const changes = f.desired.configFileWanted ? changedKeys(f.current, desired.config) : changedKeys(f.current, {});
  const djAction = removed(layout.daemonJson) ? 'remove' : wrote(layout.daemonJson) ? 'write' : f.currentExists ? 'unchanged' : 'absent';
  const dropInPath = desired.dropIn?.path ?? layout.dropIn;
  const dropInAction = desired.dropIn ? (wrote(dropInPath) ? 'write' : 'unchanged') : removed(layout.dropIn) ? 'remove' : 'absent';
  return {
    distro: { id: f.distro.id, version: f.distro.versionId, name: f.distro.name, packageManager: f.distro.packageManager },
    serviceManager: f.serviceManager,
    engine: {
      action: f.install.action === 'install' ? 'install' : 'keep',
      packages: f.install.packages,
      reason: f.install.reason,
      commands: f.install.action === 'install' ? f.install.commands.map((c) => c.join(' ')) : [],
    },
    daemonJson: {
      path: layout.daemonJson,
      action: djAction,
      changes: changes.map((c) => ({ key: c.key, change: c.change, from: f.current[c.key] ?? null, to: c.change === 'removed' ? null : (desired.config[c.key] ?? null) })),
      content: desired.configFileWanted ? renderDaemonJson(desired.config) : null,
    },
    dropIn: { path: dropInPath, action: dropInAction, content: desired.dropIn?.content ?? null },
    files: config.steps.flatMap((s): EngineDryRun['files'] => {
      if ('path' in s && (s.path === layout.daemonJson || s.path === dropInPath)) return [];
      if (s.kind === 'write-file') return [{ path: s.path, action: 'write' as const, mode: s.mode.toString(8), fingerprintSha256: s.fingerprint256 ?? null, secret: s.sensitive, reason: s.reason }];
      if (s.kind === 'remove-file') return [{ path: s.path, action: 'remove' as const, mode: null, fingerprintSha256: null, secret: false, reason: s.reason }];
      if (s.kind === 'chmod') return [{ path: s.path, action: 'chmod' as const, mode: s.mode.toString(8), fingerprintSha256: null, secret: false, reason: s.reason }];
      return [];
    }),
    certificate: f.certificate,
    dockerd: { action: config.action, reasons: config.reasons, ...containers(config.action, f.running), liveRestoreHandover: f.after.some((s) => s.kind === 'live-restore-off') },
  };
}

/** What a restart does to the user's containers: the running dockerd's live-restore decides. */
function containers(action: ConfigPlan['action'], running: DryRunFacts['running']): { containersStop: boolean | null; containers: string } {
  if (!running) return { containersStop: null, containers: 'no dockerd runs, so no container runs' };
  if (action !== 'restart') return { containersStop: false, containers: action === 'reload' ? 'keep running (a reload restarts nothing)' : 'keep running (dockerd is not restarted)' };
  if (running.liveRestore === true) return { containersStop: false, containers: 'keep running through the restart (live-restore is on in the running dockerd)' };
  if (running.liveRestore === false) {
    return { containersStop: true, containers: 'WOULD STOP: the running dockerd has live-restore off, so its restart stops every container (those with a restart policy start again)' };
  }
  return { containersStop: null, containers: 'unknown: the running dockerd did not say whether live-restore is on' };
}

const show = (v: unknown) => (v === null || v === undefined ? '(not set)' : JSON.stringify(v));
const indent = (text: string, n = 6) => text.trimEnd().split('\n').map((l) => `${' '.repeat(n)}${l}`);

/** The engine part of the dry run for a person: a block per part, in the order it matters. */
export function renderEngineDryRun(e: EngineDryRun): string[] {
  const manager = e.serviceManager === 'systemd' ? 'systemd' : 'the extension itself (no systemd: direct manager)';
  const out = [`Machine: ${e.distro.name} (${e.distro.id} ${e.distro.version}, ${e.distro.packageManager}); dockerd run by ${manager}`];
  out.push(e.engine.action === 'install' ? `Engine: would install ${e.engine.packages.join(' ')}: ${e.engine.reason}` : `Engine: ${e.engine.reason}; kept`);
  for (const c of e.engine.commands) out.push(`    ${c}`);
  if (e.certificate) out.push(`Certificate (${e.certificate.source === 'given' ? 'from certs.cert' : 'certs.issuer'}): ${e.certificate.description}`);
  const dj = e.daemonJson;
  const djWhat = { write: 'would be written', remove: 'would be removed (the extension created it and nothing else is left in it)', unchanged: 'unchanged', absent: 'none, and none needed' }[dj.action];
  out.push(`${dj.path}: ${djWhat}`);
  if (dj.changes.length) out.push('    keys that change (old → new):', ...dj.changes.map((c) => `      ${c.key}: ${show(c.from)} → ${show(c.to)}`));
  if (dj.content !== null) out.push(dj.action === 'write' ? '    the whole file it would write:' : '    its settings (the file keeps its own formatting):', ...indent(dj.content));
  const di = e.dropIn;
  const diWhat = { write: 'would be written', remove: 'would be removed (the unit\'s own ExecStart serves again)', unchanged: 'unchanged', absent: 'none needed' }[di.action];
  out.push(`${di.path}: ${diWhat}`);
  if (di.content !== null && di.action === 'write') out.push(...indent(di.content));
  for (const f of e.files) {
    const what = f.secret ? 'secret, no hash shown' : f.fingerprintSha256 ? `${FINGERPRINT_LABEL} ${f.fingerprintSha256}` : '';
    out.push(`${f.path}: ${f.action === 'write' ? `would be written (mode ${f.mode}${what ? `, ${what}` : ''})` : f.action === 'chmod' ? `mode would become ${f.mode}` : 'would be removed'}: ${f.reason}`);
  }
  const d = e.dockerd;
  out.push(`dockerd: ${d.action === 'none' ? 'no restart, no reload' : `${d.action} (${d.reasons.join('; ')})`}${d.liveRestoreHandover ? '; then live-restore switched off by SIGHUP' : ''}`);
  out.push(`Containers: ${d.containers}`);
  return out;
}
