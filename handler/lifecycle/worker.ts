import { scrubSecrets, type SubStatus } from '../agent/status.js';
import { summariseSettings } from '../agent/settings-summary.js';
import { describeError, HandlerError } from '../errors.js';
import type { RunContext } from './context.js';
import { noopToken } from './enable.js';
import { enableDecision, enableStillRequested, lockForEnable, markApplied, recordRun, SUPERSEDE_WAIT_MINUTES } from './enable-protocol.js';
import { describeOwner } from '../system/worker-lock.js';
import { requireSettings } from './load-settings.js';
import { ensureMonitor, ownMonitor, recordEnable } from './monitor-control.js';
import { reportEvent, reportHeartbeat, reportStatus } from './report.js';
import type { CommandResult } from './types.js';

const HEARTBEAT_EVERY_MS = 60_000;

/**
 * The detached half of enable: owns the machine for one sequence number, reports progress as
 * transitioning substatus, and ends with the terminal status. A newer enable stops it with
 * SIGTERM, which aborts at the applier's next safe point.
 */
export async function runWorker(ctx: RunContext, seq: number, signal: AbortSignal): Promise<CommandResult> {
  const lock = await lockForEnable(ctx, seq);
  if (lock.kind === 'newer-running' || lock.kind === 'same-running') {
    ctx.log.info({ event: 'worker backs off', reason: lock.kind, ownerPid: lock.owner.pid, ownerSeq: lock.owner.seq });
    return { exitCode: 0, stdout: '' };
  }
  if (lock.kind === 'timeout') {
    await reportStatus(ctx, seq, {
      operation: 'Enable',
      status: 'error',
      message:
        `Configuration ${seq} was not applied: ${describeOwner(lock.owner)} did not ${(lock.owner.kind ?? 'enable') === 'enable' ? 'stop' : 'finish'} within ` +
        `${SUPERSEDE_WAIT_MINUTES} minutes. Check the handler log in ${ctx.env.logFolder}${lock.owner.kind === 'monitor' ? ' and monitor.log there' : ''}, then re-apply the extension.`,
    });
    return { exitCode: 3, stdout: '' };
  }
  try {
    return await applyUnderLock(ctx, seq, signal);
  } finally {
    await lock.release();
    await removeRecreatedDataDir(ctx);
  }
}

/**
 * A worker that started after the uninstall had removed the data directory made it again for its
 * lock: once that lock is released and nothing else is in it, it goes again.
 */
async function removeRecreatedDataDir(ctx: RunContext): Promise<void> {
  if (await enableStillRequested(ctx)) return;
  if ((await ctx.agentFs.list(ctx.env.dataDir).catch(() => ['?'])).length === 0) await ctx.agentFs.remove(ctx.env.dataDir).catch(() => undefined);
}

async function applyUnderLock(ctx: RunContext, seq: number, signal: AbortSignal): Promise<CommandResult> {
  if (!(await enableStillRequested(ctx))) {
    ctx.log.info({ event: 'worker stops: the extension was uninstalled after this configuration was requested; nothing applied' });
    return { exitCode: 0, stdout: '' };
  }
  // While we waited, a newer configuration may have been applied, or this one by a twin.
  if ((await enableDecision(ctx, seq)).action === 'skip') return { exitCode: 0, stdout: '' };
  // Up before the long work: it keeps the heartbeat fresh while apt and dockerd take their time.
  const monitorProblem = await ensureMonitor(ctx);

  let secrets: string[] = [];
  // The first substatus proves the settings were decrypted and validated; kept on failure too.
  let settingsStep: SubStatus | undefined;
  const progress: SubStatus[] = [];
  let pending = Promise.resolve();
  const heartbeat = setInterval(() => void reportHeartbeat(ctx, 'Ready', `Applying configuration ${seq}.`), HEARTBEAT_EVERY_MS);
  heartbeat.unref();
  try {
    const loaded = await requireSettings(ctx.agentFs, ctx.env, seq);
    secrets = loaded.secrets;
    const oldForms = loaded.settings.warnings ?? [];
    settingsStep = {
      name: 'settings',
      status: 'success',
      message:
        `Settings decrypted and validated. Will configure: ${summariseSettings(loaded.settings)}` +
        (oldForms.length ? ` Old forms taken in their old meaning: ${oldForms.join('; ')}.` : ''),
    };
    const onProgress = (step: SubStatus) => {
      const i = progress.findIndex((p) => p.name === step.name);
      if (i >= 0) progress[i] = step;
      else progress.push(step);
      const snapshot = [settingsStep!, ...progress];
      // Serialised so an older snapshot never lands after a newer one.
      pending = pending.then(() =>
        reportStatus(ctx, seq, { operation: 'Enable', status: 'transitioning', message: `Applying configuration ${seq}: ${step.name}.`, substatus: snapshot }, secrets).catch(() => undefined),
      );
    };
    const outcome = await ctx.applier.apply(loaded.settings, { log: ctx.log, onProgress, signal });
    await pending;
    // The old extension's forms first: the admin's template is what to fix.
    const warnings = [...oldForms, ...outcome.warnings, ...(monitorProblem ? [monitorProblem] : [])];
    const warned = warnings.length > 0;
    await recordEnable(ctx, { seq, result: 'success', message: scrubSecrets(outcome.message, secrets) }, outcome.monitor);
    await markApplied(ctx, seq);
    await reportStatus(
      ctx,
      seq,
      {
        operation: 'Enable',
        // A final warning would block extensions that depend on ours; warnings go in the text.
        status: 'success',
        message: warned ? `${outcome.message} Warnings: ${warnings.join('; ')}.` : outcome.message,
        substatus: [settingsStep, ...outcome.steps],
      },
      secrets,
    );
    await recordRun(ctx, seq, 'success');
    const monitor = await ownMonitor(ctx);
    if (monitor) await noopToken(ctx, seq, monitor);
    await reportHeartbeat(ctx, 'Ready', outcome.message);
    await reportEvent(ctx, 'Enable', warned ? 'Warning' : 'Informational', `configuration ${seq}: ${outcome.message}`);
    ctx.log.info({ event: 'enable succeeded', warnings: warnings.length });
    return { exitCode: 0, stdout: '' };
  } catch (e) {
    // A progress write still in flight must not land after the terminal status.
    await pending;
    const superseded = signal.aborted;
    const message = superseded
      ? `Configuration ${seq} was superseded by a newer configuration before it finished; the newer one is being applied.`
      : `Configuration ${seq} failed: ${describeError(e)}`;
    ctx.log.error({ event: superseded ? 'enable superseded' : 'enable failed', code: e instanceof HandlerError ? e.code : undefined, err: describeError(e) });
    const failed: SubStatus[] = [
      ...(settingsStep ? [settingsStep] : []),
      ...progress.map((p): SubStatus => (p.status === 'transitioning' ? { ...p, status: 'error' } : p)),
    ];
    await reportStatus(ctx, seq, { operation: 'Enable', status: 'error', message, substatus: failed }, secrets);
    await recordRun(ctx, seq, 'error');
    // A superseded run is not a failure the monitor should report; the newer one records itself.
    if (!superseded) await recordEnable(ctx, { seq, result: 'error', message: scrubSecrets(message, secrets) }, 'keep');
    if (!superseded) {
      await reportHeartbeat(ctx, 'NotReady', message);
      await reportEvent(ctx, 'Enable', 'Error', message);
    }
    return { exitCode: 3, stdout: '' };
  } finally {
    clearInterval(heartbeat);
  }
}
