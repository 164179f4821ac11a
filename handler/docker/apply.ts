// The applier. Executes a ConfigPlan: snapshot, write, (re)start, prove, and roll back when dockerd
// does not serve the new configuration; then the steps that follow the proof (the live-restore
// hand-over, an uninstall's clean-up). applySteps runs the plans without a proof (an uninstall
// with dockerd stopped, or with the engine removed). Every step is recorded in the progress
// record as it finishes (progress.ts).
import { READ_LIMITS } from '../system/ports.js';
import { ConfigError, StepFailedError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { Clock, CommandRunner, FileSystem } from '../system/ports.js';
import { dockerdFailureReason, reloadFailureReason, type DaemonLaunch, type ServiceManager } from '../system/service-manager.js';
import { hostsServed, socketPathOf, tcpTarget, type VerifySpec } from './daemon-config.js';
import { certificateFingerprint, FINGERPRINT_LABEL } from '../crypto/fingerprint.js';
import type { EngineLayout, EngineState } from './desired.js';
import type { DaemonProbe } from './health.js';
import { deepEqual, isObject } from './options.js';
import { executeInstall, type InstallContext, type InstallPlan } from './install.js';
import { stepName, type ConfigPlan, type PlannedStep, type ServiceAction, type Step } from './plan.js';
import { recordStep, stepFinished } from './progress.js';
import { runAccessStep } from './access-steps.js';
import { candidateFiles, validationFailure } from './validate-config.js';
import { runComposeStep, type ComposeRuntime } from '../compose/run.js';
import { inFlightState, readRollback, readState, restoreSnapshot, rollbackPath, snapshot, statePath, writeRollback, writeState, type SnapshotEntry } from './state.js';

export interface ApplyContext {
  fs: FileSystem;
  clock: Clock;
  services: ServiceManager;
  probe: DaemonProbe;
  log: Logger;
  layout: EngineLayout;
  stateDir: string;
  launch: DaemonLaunch;
  /** `kind`: the plan step the message is about, when it comes from one. */
  onProgress?: (message: string, kind?: Step['kind']) => void;
  /** Package commands (the engine's purge on uninstall). */
  cmd?: CommandRunner;
  /** What the compose steps run with (handler/compose/run.ts). */
  compose?: ComposeRuntime;
}

export interface VerifyResult {
  ok: boolean;
  checks: string[];
  failure?: string;
  version?: string;
}

export interface ApplyResult {
  action: ServiceAction;
  verify: VerifyResult;
  pidBefore?: number;
  pidAfter?: number;
}

/** Paths an apply may touch, snapshotted before the first write. */
export function touchedPaths(plan: ConfigPlan, layout: EngineLayout, statePathValue: string): string[] {
  return [...plan.contents.keys(), ...plan.removals, ...plan.chmods.map((c) => c.path), layout.daemonJson, layout.dropIn, statePathValue];
}

/**
 * `after`: steps that need the proved configuration (the live-restore hand-over, an uninstall's
 * clean-up); recorded like the others, and the progress record is cleared only once they are done.
 * A run killed among them leaves a record whose proof finished: the next run clears it and plans
 * what is left from the machine as it finds it.
 */
export async function applyConfig(plan: ConfigPlan, newState: EngineState, verifySpec: VerifySpec, ctx: ApplyContext, statePathValue: string, after: readonly PlannedStep[] = []): Promise<ApplyResult> {
  const { fs, services, log } = ctx;
  // Before the snapshot and any write: a daemon.json dockerd refuses changes nothing at all.
  for (const s of plan.steps) if (s.kind === 'validate-config' && s.skipped === undefined) await validateCandidate(s, plan, ctx);
  const before = await services.status();
  const changing = plan.filesChanged || plan.steps.some((s) => s.kind === 'save-state');

  // A record left by an interrupted run holds the last configuration that served: keep it.
  let rollback = await readRollback(fs, ctx.stateDir);
  if (rollback?.done?.includes('verify')) {
    // Killed after its proof, before it cleared the record: that apply is complete.
    await fs.remove(rollbackPath(ctx.stateDir));
    rollback = undefined;
  }
  const step = (name: string) => recordStep(fs, ctx.stateDir, rollback, name);
  if (changing && !rollback) {
    rollback = { createdAt: new Date(ctx.clock.now()).toISOString(), entries: await snapshot(fs, touchedPaths(plan, ctx.layout, statePathValue)), wasRunning: before.active };
    await writeRollback(fs, ctx.stateDir, rollback);
    await step('snapshot');
  }

  // The plan's steps in order, each one recorded when it finished. Every file is written whole
  // (a temporary file renamed over it), so at any kill a file holds its old or its new content.
  if (changing) {
    const previous = await readState(fs, ctx.stateDir);
    try {
      for (const s of plan.steps) {
        if (s.kind === 'save-state') {
          await writeState(fs, ctx.stateDir, inFlightState(previous, newState));
        } else if (s.kind === 'write-file') {
          const { data, mode } = plan.contents.get(s.path)!;
          await runStep({ step: s, data: { content: data, mode } }, ctx);
        } else if (s.kind === 'remove-file' || s.kind === 'chmod') {
          await runStep({ step: s }, ctx);
        } else continue;
        await step(stepName(s));
      }
      if (!deepEqual(JSON.parse(JSON.stringify(inFlightState(previous, newState))), JSON.parse(JSON.stringify(newState)))) {
        await writeState(fs, ctx.stateDir, newState);
        await step('save-state final');
      }
    } catch (e) {
      // dockerd has not been touched yet: it keeps serving what it read at its last start.
      let restored = 'The previous files were restored';
      try {
        if (rollback) await restoreSnapshot(fs, rollback.entries);
        await fs.remove(rollbackPath(ctx.stateDir));
      } catch (re) {
        // The record stays: the next enable goes back to it before anything else.
        restored = `Restoring the previous files failed as well (${(re as Error).message}); the next enable restores them`;
      }
      throw new StepFailedError(
        `Could not write the Docker configuration: ${(e as Error).message}. ${restored}; dockerd was not restarted and keeps serving its previous configuration.`,
        'EWRITE',
        e,
      );
    }
  } else {
    for (const c of plan.chmods) {
      await fs.chmod(c.path, c.mode);
      await step(`chmod ${c.path}`);
    }
  }

  const result: ApplyResult = { action: plan.action, verify: { ok: false, checks: [] } };
  if (before.pid !== undefined) result.pidBefore = before.pid;
  let failure: string | undefined;
  let reloadRejected: string | undefined;
  try {
    if (plan.daemonReload) {
      await services.daemonReload();
      await step('daemon-reload');
    }
    if (plan.enable) {
      await services.enable();
      await step('enable-service');
    }
    if (plan.action !== 'none') ctx.onProgress?.(`${verb(plan.action)} dockerd: ${plan.reasons.join('; ')}`);
    if (plan.action === 'start') await services.start();
    else if (plan.action === 'restart') await services.restart();
    else if (plan.action === 'reload') {
      const r = await provenReload(verifySpec.socketPath, ctx);
      if (r.restarted) result.action = 'restart';
      if (r.rejected !== undefined) reloadRejected = r.rejected;
    }
    if (plan.action !== 'none') await step(`${result.action}-service`);
  } catch (e) {
    failure = (e as Error).message;
  }
  if (reloadRejected !== undefined) failure = `dockerd refused to reload the new configuration: ${reloadRejected}`;
  if (failure === undefined) {
    result.verify = await verifyServes(verifySpec, ctx, result.action !== 'none' && result.action !== 'reload');
    if (!result.verify.ok) failure = result.verify.failure;
  }

  const runAfter = async () => {
    try {
      for (const s of after) {
        await runStep(s, ctx);
        await step(stepName(s.step));
      }
    } finally {
      // Proved: a failure after this point is not one the snapshot could undo.
      await fs.remove(rollbackPath(ctx.stateDir));
    }
  };

  if (failure === undefined) {
    await step('verify');
    const now = await services.status();
    if (now.pid !== undefined) result.pidAfter = now.pid;
    await runAfter();
    return result;
  }

  if (!changing && plan.action === 'none') {
    // Same configuration, but dockerd does not serve it (a hand-made change, a half-dead
    // daemon): one restart is what an admin would try first.
    log.warn({ event: 'dockerd unhealthy with unchanged configuration', failure });
    ctx.onProgress?.(`dockerd does not serve its configuration (${failure}); restarting it`);
    let healed: ApplyResult | undefined;
    try {
      await services.resetFailed();
      await services.restart();
      const again = await verifyServes(verifySpec, ctx, true);
      if (again.ok) {
        const now = await services.status();
        healed = { ...result, action: 'restart', verify: again, ...(now.pid !== undefined ? { pidAfter: now.pid } : {}) };
      } else failure = again.failure;
    } catch (e) {
      failure = (e as Error).message;
    }
    if (healed) {
      await runAfter();
      return healed;
    }
  }

  if (reloadRejected !== undefined && rollback) {
    // dockerd kept the configuration it ran before the SIGHUP: the files go back to it, and
    // nothing is restarted (a restart would start it with what it just refused).
    ctx.onProgress?.(`dockerd refused the new configuration on reload (${reloadRejected}); restoring the previous files`);
    await restoreSnapshot(fs, rollback.entries);
    await fs.remove(rollbackPath(ctx.stateDir));
    const v = await verifyServes(await verifySpecFromSnapshot(rollback.entries, ctx), ctx, false);
    const tail = v.ok
      ? `The previous files were restored; dockerd did not apply the change and serves its previous configuration (verified: ${v.checks.join('; ')}).`
      : `The previous files were restored, but dockerd does not serve: ${v.failure}.`;
    throw new StepFailedError(`${failure}. ${tail}`, 'EDOCKERDRELOAD');
  }

  const daemonLog = await services.recentLog(50).catch(() => '');
  const reason = dockerdFailureReason(daemonLog) ?? failure;
  log.error({ event: 'dockerd failed with the new configuration', action: plan.action, failure, dockerdLog: daemonLog.slice(-4000) });

  if (!rollback) {
    // Nothing was changed on disk and no interrupted run left a snapshot: nothing to go back to.
    throw new StepFailedError(`dockerd does not serve its configuration: ${reason}`, 'EDOCKERD');
  }
  // A snapshot left by an interrupted run (killed between writing and restarting: an agent
  // restart, a reboot) is the last configuration that served, even when this run changed nothing.

  ctx.onProgress?.(`dockerd did not come up with the new configuration (${reason}); restoring the previous one`);
  const back = await rollBack(rollback.entries, rollback.wasRunning, ctx);
  await fs.remove(rollbackPath(ctx.stateDir));
  const tail = back.ok
    ? `The previous configuration was restored and dockerd serves it again (verified: ${back.checks.join('; ')}).`
    : `The previous configuration was restored, but dockerd does not serve it either: ${back.failure}.`;
  throw new StepFailedError(`dockerd did not come up with the new configuration: ${reason}. ${tail}`, 'EDOCKERD');
}

/**
 * The plan's install step. The extension's record names the packages before they are installed, so
 * that a run killed during the install (inside dpkg, say) leaves them recorded as the extension's:
 * the next enable installs what is missing, and uninstall with removeOnUninstall removes them. A
 * failed install puts the record back as it was. What follows the install is planned again by the
 * caller (replanAfterInstall in engine.ts): only the installed engine tells its unit's ExecStart.
 */
export async function applyInstall(install: InstallPlan, ictx: InstallContext, stateDir: string, record: { before: EngineState | undefined; during: EngineState }): Promise<void> {
  await writeState(ictx.fs, stateDir, record.during);
  try {
    await executeInstall(install, ictx);
  } catch (e) {
    if (record.before) await writeState(ictx.fs, stateDir, record.before);
    else await ictx.fs.remove(statePath(stateDir));
    throw e;
  }
  await recordStep(ictx.fs, stateDir, undefined, 'install-engine');
}

/**
 * Runs a plan that has no proof (an uninstall with dockerd stopped, or with the engine removed):
 * each step in order, recorded in the progress record as it finishes; the record is cleared at the
 * end. A run killed half-way leaves the record (and in it the data roots the plan empties, which a
 * stopped dockerd can no longer tell), and the next run plans what is left. A failed step leaves it
 * too: the next uninstall goes on from there.
 */
export async function applySteps(steps: readonly PlannedStep[], ctx: ApplyContext, record: { paths: readonly string[]; dataRoots?: string[] }): Promise<void> {
  const { fs } = ctx;
  if (steps.length === 0) {
    // Nothing left to do: a record that a killed run left behind has served its purpose.
    await fs.remove(rollbackPath(ctx.stateDir));
    return;
  }
  let rollback = await readRollback(fs, ctx.stateDir);
  // A record whose proof finished belongs to a complete apply (see applyConfig).
  if (rollback?.done?.includes('verify')) rollback = undefined;
  const fresh = !rollback;
  if (!rollback) {
    const before = await ctx.services.status();
    rollback = { createdAt: new Date(ctx.clock.now()).toISOString(), entries: await snapshot(fs, record.paths), wasRunning: before.active };
  }
  if (record.dataRoots?.length) rollback.dataRoots = [...new Set([...(rollback.dataRoots ?? []), ...record.dataRoots])];
  await writeRollback(fs, ctx.stateDir, rollback);
  if (fresh) await recordStep(fs, ctx.stateDir, rollback, 'snapshot');
  for (const s of steps) {
    await runStep(s, ctx);
    await recordStep(fs, ctx.stateDir, rollback, stepName(s.step));
  }
  await fs.remove(rollbackPath(ctx.stateDir));
}

/**
 * Steps that need no snapshot or progress record, each safe to run again (uninstall's access steps:
 * the logout, the group membership given back): run in order, the first failure stops them. Each is
 * still a kill point of the test hook (progress.ts), so that a test can interrupt between them.
 */
export async function runPlannedSteps(steps: readonly PlannedStep[], ctx: ApplyContext): Promise<void> {
  for (const s of steps) {
    await runStep(s, ctx);
    stepFinished();
  }
}

/** One step's effect. Service start/restart/reload and the proof stay in applyConfig, which owns the rollback. */
async function runStep(p: PlannedStep, ctx: ApplyContext): Promise<void> {
  const { fs, services, log } = ctx;
  const s: Step = p.step;
  switch (s.kind) {
    case 'write-file': {
      if (!p.data) throw new Error(`no content planned for ${s.path}`);
      await fs.mkdirp(s.path.slice(0, s.path.lastIndexOf('/')) || '/', 0o755);
      await fs.writeAtomic(s.path, p.data.content, p.data.mode);
      return;
    }
    case 'remove-file':
    case 'forget-state':
      await fs.remove(s.path);
      return;
    case 'chmod':
      await fs.chmod(s.path, s.mode);
      return;
    case 'save-state':
      if (!p.state) throw new Error('no ownership record planned');
      await writeState(fs, ctx.stateDir, p.state);
      return;
    case 'daemon-reload':
      await services.daemonReload();
      return;
    case 'stop-service':
      ctx.onProgress?.('stopping dockerd', s.kind);
      await services.stop();
      return;
    case 'live-restore-off': {
      await services.reload();
      const deadline = ctx.clock.now() + 15_000;
      let off = false;
      while (!off && ctx.clock.now() < deadline) {
        off = (await ctx.probe.info(s.socketPath, 5_000))?.liveRestore === false;
        if (!off) await ctx.clock.sleep(200);
      }
      if (!off) log.warn({ event: 'dockerd did not confirm live-restore off after SIGHUP; it goes at its next restart' });
      return;
    }
    case 'purge-engine': {
      if (!ctx.cmd) throw new Error('no command runner for the package manager');
      ctx.onProgress?.(`removing ${s.packages.join(' ')}`, s.kind);
      const purge = () => ctx.cmd!.run(s.argv[0]!, s.argv.slice(1), { env: { DEBIAN_FRONTEND: 'noninteractive' }, timeoutMs: 30 * 60_000 });
      let r = await purge();
      log.debug({ event: 'package command', argv: s.argv, exitCode: r.exitCode, stdout: r.stdout.slice(-4000), stderr: r.stderr.slice(-4000) });
      if (r.exitCode !== 0 && s.manager === 'apt' && /dpkg was interrupted|dpkg --configure -a/i.test(`${r.stderr}\n${r.stdout}`)) {
        // An uninstall killed inside dpkg: dpkg finishes its own work first, then the purge again.
        ctx.onProgress?.('dpkg was interrupted earlier; running dpkg --configure -a', s.kind);
        const c = await ctx.cmd.run('dpkg', ['--configure', '-a'], { env: { DEBIAN_FRONTEND: 'noninteractive' }, timeoutMs: 30 * 60_000 });
        log.debug({ event: 'package command', argv: ['dpkg', '--configure', '-a'], exitCode: c.exitCode, stdout: c.stdout.slice(-4000), stderr: c.stderr.slice(-4000) });
        r = await purge();
      }
      if (r.exitCode !== 0) throw new StepFailedError(`${s.argv[0]} could not remove ${s.packages.join(' ')} (exit ${r.exitCode}): ${(r.stderr || r.stdout).trim().split('\n').slice(-2).join(' | ')}`, 'EPKG');
      return;
    }
    case 'empty-data-root':
      await emptyDataRoot(fs, s.path);
      return;
    case 'remove-empty-dir':
      if ((await fs.exists(s.path)) && (await fs.list(s.path)).length === 0) await fs.remove(s.path);
      return;
    case 'add-to-docker-group':
    case 'remove-from-docker-group':
    case 'registry-login':
    case 'registry-logout':
      if (!ctx.cmd) throw new Error(`no command runner for ${s.kind}`);
      await runAccessStep(p, { fs, cmd: ctx.cmd, log });
      return;
    case 'install-compose':
    case 'compose-up':
    case 'compose-down':
    case 'save-compose-state':
      if (!ctx.compose) throw new Error(`no compose runtime for ${s.kind}`);
      return runComposeStep(p, ctx.compose);
    default:
      throw new Error(`the applier runs ${s.kind} only within applyConfig`);
  }
}

/**
 * `dockerd --validate` on copies of the new daemon.json and the new files it names, in a folder of
 * the extension's own state directory (root's, 0700; removed afterwards): the working files stay as
 * they are until dockerd has accepted the new ones.
 */
async function validateCandidate(s: Extract<Step, { kind: 'validate-config' }>, plan: ConfigPlan, ctx: ApplyContext): Promise<void> {
  const { fs, log } = ctx;
  if (s.dockerd === undefined) throw new Error('no dockerd to validate with');
  if (!ctx.cmd) throw new Error('no command runner for dockerd --validate');
  const dir = `${ctx.stateDir}/candidate`;
  const candidate = candidateFiles(dir, s.path, plan.contents, ctx.layout.daemonView);
  ctx.onProgress?.(`checking the new ${s.path} with dockerd ${s.version} --validate`, s.kind);
  let r;
  try {
    await fs.remove(dir); // a run killed here before leaves its copies
    await fs.mkdirp(dir, 0o700);
    for (const f of candidate.files) await fs.writeAtomic(f.path, f.content, 0o600);
    r = await ctx.cmd.run(s.dockerd, ['--validate', '--config-file', ctx.layout.daemonView(candidate.configPath)], { timeoutMs: 60_000 });
  } finally {
    await fs.remove(dir);
  }
  log.debug({ event: 'dockerd --validate', exitCode: r.exitCode, stdout: r.stdout.slice(-2000), stderr: r.stderr.slice(-2000) });
  if (r.exitCode === 0) return;
  const why = validationFailure(`${r.stdout}\n${r.stderr}`, candidate.renames);
  const changes = plan.configChanges.length ? ` (${plan.configChanges.join(', ')})` : '';
  throw new ConfigError(
    `dockerd ${s.version} refused the new ${s.path}${changes}: ${why}. Correct the setting that gives this value ("docker.options" for dockerd's own flags) and run enable again. ` +
      `Nothing was written: ${s.path} is unchanged and dockerd keeps serving its current configuration.`,
    'EDOCKERDCONFIG',
  );
}

/**
 * The data root is often a data disk mounted at /var/lib/docker: rmdir of a mount point fails
 * with EBUSY, so empty it and keep the directory where it cannot go.
 */
async function emptyDataRoot(fs: FileSystem, dir: string): Promise<void> {
  if (!(await fs.exists(dir))) return;
  for (const name of await fs.list(dir)) await fs.remove(`${dir.replace(/\/+$/, '')}/${name}`);
  try {
    await fs.remove(dir);
  } catch (e) {
    if ((e as { code?: string }).code !== 'EBUSY') throw e;
  }
}

/**
 * SIGHUP, proved by dockerd's own "reload" event (see ReloadWatch). `rejected` carries dockerd's
 * reason when it refused; when its events cannot be watched the reload cannot be proved, so
 * dockerd is restarted instead (the one way to know it runs the file as written).
 */
async function provenReload(socketPath: string, ctx: ApplyContext): Promise<{ restarted: boolean; rejected?: string }> {
  const { services, probe, log } = ctx;
  const watch = await probe.watchReload(socketPath, 5_000);
  if (!watch) {
    log.warn({ event: 'dockerd reload cannot be proved (no event stream); restarting instead' });
    ctx.onProgress?.('cannot watch dockerd confirm a reload; restarting it instead');
    await services.restart();
    return { restarted: true };
  }
  try {
    await services.reload();
    if (await watch.reloaded(15_000)) return { restarted: false };
  } finally {
    watch.close();
  }
  const daemonLog = await services.recentLog(50).catch(() => '');
  return { restarted: false, rejected: reloadFailureReason(daemonLog) ?? 'it did not report a reload within 15 s and logged no reason' };
}

async function rollBack(entries: readonly SnapshotEntry[], wasRunning: boolean, ctx: ApplyContext): Promise<VerifyResult> {
  const { fs, services, layout } = ctx;
  await restoreSnapshot(fs, entries);
  try {
    if (entries.some((e) => e.path === layout.dropIn)) await services.daemonReload();
    await services.resetFailed();
    if (!wasRunning && !(await services.status()).active) await services.start();
    else await services.restart();
  } catch (e) {
    return { ok: false, checks: [], failure: dockerdFailureReason(await services.recentLog(50).catch(() => '')) ?? (e as Error).message };
  }
  const spec = await verifySpecFromSnapshot(entries, ctx);
  const v = await verifyServes(spec, ctx, true);
  if (!v.ok) v.failure = dockerdFailureReason(await services.recentLog(50).catch(() => '')) ?? v.failure;
  return v;
}

/** What the restored configuration promises, read from the snapshot (not from the settings). */
async function verifySpecFromSnapshot(entries: readonly SnapshotEntry[], ctx: ApplyContext): Promise<VerifySpec> {
  const { layout, launch } = ctx;
  const file = (p: string) => {
    const e = entries.find((x) => x.path === p);
    return e?.existed ? Buffer.from(e.base64 ?? '', 'base64').toString('utf8') : undefined;
  };
  let config: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(file(layout.daemonJson) ?? '{}') as unknown;
    if (isObject(parsed)) config = parsed;
  } catch {
    // an unparsable old file: verify the socket only
  }
  const hosts = hostsServed(config, launch, file(layout.dropIn) !== undefined);
  const spec: VerifySpec = { socketPath: socketPathOf(hosts, launch.socketPath) };
  const tcpHost = hosts.find((h) => h.startsWith('tcp://'));
  const target = tcpHost ? tcpTarget(tcpHost) : undefined;
  if (target) {
    spec.tcp = { ...target };
    if (config.tlsverify === true && typeof config.tlscacert === 'string') {
      // Our files as they were (snapshot if the apply touched them, else still on disk); a foreign
      // path is read as dockerd sees it.
      const read = async (daemonPath: unknown): Promise<string | undefined> => {
        if (typeof daemonPath !== 'string') return undefined;
        for (const f of [layout.caFile, layout.certFile, layout.keyFile]) {
          if (daemonPath === layout.daemonView(f)) return entries.some((e) => e.path === f) ? file(f) : await ctx.fs.readText(f, { maxBytes: READ_LIMITS.certificate });
        }
        // The admin's own CA, wherever dockerd reads it (/etc/ssl/certs holds links).
        return ctx.fs.readText(daemonPath, { followLinks: true, maxBytes: READ_LIMITS.certificate });
      };
      const ca = await read(config.tlscacert).catch(() => undefined);
      const cert = await read(config.tlscert).catch(() => undefined);
      if (ca === undefined) spec.tcp.listenOnly = `the TLS listener of the restored configuration, whose CA ${String(config.tlscacert)} could not be read`;
      if (ca !== undefined) {
        spec.tcp.tls = { caPem: ca };
        const fp = cert !== undefined ? certificateFingerprint(cert) : undefined;
        if (fp !== undefined) spec.tcp.tls.certFingerprint256 = fp;
      }
    }
  }
  return spec;
}

/**
 * Polls with the Clock until the socket answers and the TCP listener behaves, or the deadline
 * passes. A dockerd that exits (bad flag, port taken) fails at once instead of at the deadline.
 */
export async function verifyServes(spec: VerifySpec, ctx: ApplyContext, justStarted: boolean): Promise<VerifyResult> {
  const { clock, probe, services, layout } = ctx;
  const deadline = clock.now() + (justStarted ? layout.readyTimeoutMs : Math.min(layout.readyTimeoutMs, 10_000));
  const pollMs = services.kind === 'direct' ? 20 : 250;
  const checks: string[] = [];
  const out: VerifyResult = { ok: false, checks };

  let lastSocket = '';
  for (;;) {
    const ping = await probe.pingSocket(spec.socketPath, 2_000);
    if (ping.ok) {
      checks.push(`local socket ${spec.socketPath} answers${ping.version ? ` (Docker ${ping.version}${ping.apiVersion ? `, API ${ping.apiVersion}` : ''})` : ''}`);
      if (ping.version) out.version = ping.version;
      break;
    }
    lastSocket = ping.detail;
    if (!(await services.status()).active) {
      return { ...out, failure: `dockerd exited (${lastSocket || 'no answer on its socket'})` };
    }
    if (clock.now() >= deadline) return { ...out, failure: `dockerd did not answer on ${spec.socketPath} within ${Math.round(layout.readyTimeoutMs / 1000)} s (${lastSocket})` };
    await clock.sleep(pollMs);
  }

  if (spec.tcp?.listenOnly !== undefined) {
    const { host, port, listenOnly } = spec.tcp;
    const c = await probe.probeTcp(host, port, 5_000);
    checks.push(c.ok ? `${host}:${port} accepts connections (${listenOnly})` : `${host}:${port} does not accept connections (${c.detail}); ${listenOnly}, so the enable does not depend on it`);
  } else if (spec.tcp) {
    const { host, port } = spec.tcp;
    for (;;) {
      if (spec.tcp.tls) {
        const t = await probe.probeTls(host, port, spec.tcp.tls.caPem, 5_000);
        if (t.reachable) {
          if (!t.serverVerified) return { ...out, failure: `TLS on ${host}:${port}: ${t.detail}` };
          const want = spec.tcp.tls.certFingerprint256;
          if (want && t.fingerprint256 && t.fingerprint256 !== want) {
            return { ...out, failure: `TLS on ${host}:${port} serves a different certificate (${FINGERPRINT_LABEL} ${t.fingerprint256}) than the configured one (${FINGERPRINT_LABEL} ${want})` };
          }
          if (!t.clientCertRequired) return { ...out, failure: `TLS on ${host}:${port} does not require a client certificate: ${t.detail}` };
          checks.push(
            `TLS on ${host}:${port}: server certificate verified against the CA${want && t.fingerprint256 ? ` and is the configured one (${FINGERPRINT_LABEL} ${want})` : ''}; a client without a certificate is refused`,
          );
          break;
        }
        if (clock.now() >= deadline) return { ...out, failure: `nothing accepts TLS connections on ${host}:${port} (${t.detail})` };
      } else {
        const p = await probe.probePlain(host, port, 5_000);
        if (p.ok) {
          checks.push(`plain TCP on ${host}:${port} answers (no TLS)`);
          break;
        }
        if (clock.now() >= deadline) return { ...out, failure: `nothing answers on ${host}:${port} (${p.detail})` };
      }
      if (!(await services.status()).active) return { ...out, failure: 'dockerd exited' };
      await clock.sleep(pollMs);
    }
  }
  out.ok = true;
  return out;
}

function verb(a: ServiceAction): string {
  return a === 'start' ? 'Starting' : a === 'restart' ? 'Restarting' : a === 'reload' ? 'Reloading' : 'Checking';
}
