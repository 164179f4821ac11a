import { READ_LIMITS } from '../system/ports.js';
import * as path from 'node:path';
import { EXIT } from '../agent/exit-codes.js';
import { describeError } from '../errors.js';
import type { RunContext } from './context.js';
import { appliedSeq, isUpdating, lockForUninstall, markUpdate, withdrawEnableRequest } from './enable-protocol.js';
import { recordDisabled, removeMonitor } from './monitor-control.js';
import { reportEvent, reportHeartbeat, reportStatus } from './report.js';
import type { CommandResult } from './types.js';

// Install, disable, update and uninstall. None of them stops dockerd or touches its
// configuration except a real uninstall: the agent's update sequence (old disable, new update,
// old uninstall, new install, new enable) must leave the user's Docker serving throughout.

export async function install(ctx: RunContext): Promise<CommandResult> {
  await ctx.agentFs.mkdirp(ctx.env.dataDir, 0o700);
  await reportHeartbeat(ctx, 'Ready', 'Docker extension installed; waiting for enable.');
  await reportEvent(ctx, 'Install', 'Informational', `installed version ${ctx.version}`);
  return { exitCode: 0, stdout: 'install: done; the engine is installed and configured by enable' };
}

export async function update(ctx: RunContext): Promise<CommandResult> {
  const from = process.env.AZURE_GUEST_AGENT_UPDATING_FROM_VERSION ?? 'unknown';
  await markUpdate(ctx, from);
  await reportHeartbeat(ctx, 'Ready', `Updating from ${from} to ${ctx.version}; Docker keeps running.`);
  await reportEvent(ctx, 'Update', 'Informational', `update from ${from} to ${ctx.version}`);
  return { exitCode: 0, stdout: `update: from ${from} to ${ctx.version}; dockerd untouched` };
}

/**
 * Disable keeps dockerd running (stopping it would take the user's containers down on every
 * update). Its status is written only for a sequence number whose settings this version has:
 * during an update the old version runs with the new number, and whatever it wrote would be
 * copied to the new version and reported as the new configuration's result.
 *
 * The monitor keeps running, told that the extension is disabled: it goes on reporting (a
 * heartbeat left to go stale would turn into "Unresponsive", which a disabled extension is not)
 * but restarts nothing. The agent runs disable before every update and uninstall, so stopping
 * the monitor here would only open a gap in the heartbeat each time.
 */
export async function disable(ctx: RunContext): Promise<CommandResult> {
  const message = 'Docker extension disabled. dockerd keeps running with its configuration; uninstall the extension to remove the TCP listener.';
  const updating = await isUpdating(ctx);
  // The agent marks a disabled handler NotReady; a Ready heartbeat would contradict it.
  await reportHeartbeat(ctx, 'NotReady', message);
  if (!updating) await recordDisabled(ctx);
  if (ctx.seq !== undefined && (await ctx.agentFs.exists(path.join(ctx.env.configFolder, `${ctx.seq}.settings`))) && !updating) {
    await reportStatus(ctx, ctx.seq, { operation: 'Disable', status: 'success', message });
  }
  await reportEvent(ctx, 'Disable', 'Informational', 'disabled; dockerd untouched');
  return { exitCode: 0, stdout: 'disable: done; dockerd keeps running' };
}

/**
 * Uninstall runs its work as a detached job (a transient unit under systemd) and waits for it:
 * the agent SIGKILLs uninstall at 300 s and deletes the extension directory whatever happened,
 * and the work (waiting for a running enable, a dockerd restart, an apt purge behind a package
 * lock) can take longer. What is not finished within 200 s goes on and reports in the log.
 */
export async function uninstall(ctx: RunContext): Promise<CommandResult> {
  if (await isUpdating(ctx)) {
    // The monitor stays: the new version's enable takes it over.
    ctx.log.info({ event: 'uninstall is part of an update: configuration kept' });
    return { exitCode: 0, stdout: 'uninstall: part of an update; configuration kept' };
  }
  const r = await ctx.runUninstallWorker();
  if (!r.finished) {
    ctx.log.warn({ event: 'uninstall continues in the background', job: r.label });
    return { exitCode: 0, stdout: `uninstall: still working after ${UNINSTALL_REPORT_AFTER_S} s; it goes on in the background (${r.label}); see ${ctx.env.logFolder}/handler.log` };
  }
  const message = (await readUninstallResult(ctx)) ?? 'done';
  if (r.exitCode !== 0) return { exitCode: EXIT.failure, stdout: `uninstall failed: ${message} (details: ${ctx.env.logFolder}/handler.log)` };
  return { exitCode: 0, stdout: `uninstall: ${message}` };
}

/** The agent SIGKILLs uninstall at 300 s: what is not done by then goes on in the background. */
export const UNINSTALL_WAIT_MS = 200_000;
const UNINSTALL_REPORT_AFTER_S = UNINSTALL_WAIT_MS / 1000;

async function readUninstallResult(ctx: RunContext): Promise<string | undefined> {
  try {
    return (JSON.parse((await ctx.agentFs.readText(uninstallResultPath(ctx), { maxBytes: READ_LIMITS.small })) ?? '{}') as { message?: string }).message;
  } catch {
    return undefined;
  }
}

const uninstallResultPath = (ctx: RunContext) => path.join(ctx.env.logFolder, 'uninstall-result.json');

/**
 * The detached part of uninstall: takes the worker lock (a running enable worker is stopped at
 * its next safe point; an enable that arrives meanwhile waits), stops and removes the monitor,
 * gives back what the extension added, removes the data directory.
 */
export async function runUninstallWork(ctx: RunContext): Promise<CommandResult> {
  const started = ctx.clock.now();
  let message: string;
  let exitCode = 0;
  // Read first: the agent may delete the extension directory (and the settings) while we work.
  const removeEngine = await removeEngineRequested(ctx);
  const lock = await lockForUninstall(ctx);
  try {
    if (lock.kind !== 'acquired') ctx.log.warn({ event: 'the enable worker did not stop; uninstalling anyway', ownerPid: lock.owner.pid });
    await withdrawEnableRequest(ctx);
    await removeMonitor(ctx);
    const outcome = await ctx.applier.remove({ log: ctx.log, removeEngine });
    message = outcome.message;
    await reportEvent(ctx, 'Uninstall', 'Informational', outcome.message);
  } catch (e) {
    exitCode = 1;
    message = describeError(e);
    ctx.log.error({ event: 'uninstall failed', err: message });
    await reportEvent(ctx, 'Uninstall', 'Error', message);
  } finally {
    if (lock.kind === 'acquired') await lock.release();
  }
  if (exitCode === 0) await ctx.agentFs.remove(ctx.env.dataDir);
  await ctx.agentFs.mkdirp(ctx.env.logFolder, 0o755);
  await ctx.agentFs.writeAtomic(uninstallResultPath(ctx), JSON.stringify({ message, exitCode, at: new Date(ctx.clock.now()).toISOString() }), 0o644);
  ctx.log.info({ event: 'uninstall finished', exitCode, ms: ctx.clock.now() - started });
  return { exitCode, stdout: '' };
}

/** The last applied settings decide whether uninstall also removes the engine (opt-in). */
async function removeEngineRequested(ctx: RunContext): Promise<boolean> {
  const seq = (await appliedSeq(ctx)) ?? ctx.seq;
  if (seq === undefined) return false;
  try {
    const { loadSettings } = await import('./load-settings.js');
    return (await loadSettings(ctx.agentFs, ctx.env, seq))?.settings.public.docker.engine.removeOnUninstall ?? false;
  } catch (e) {
    ctx.log.warn({ event: 'settings unreadable at uninstall; engine kept', err: describeError(e) });
    return false;
  }
}

