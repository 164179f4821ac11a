import * as path from 'node:path';
import { readMrseq } from '../agent/seqnum.js';
import { describeError } from '../errors.js';
import { liveOwner } from '../system/worker-lock.js';
import type { RunContext } from './context.js';
import { workerLockPath } from './enable.js';
import { reportEvent, reportHeartbeat, reportStatus } from './report.js';
import type { CommandResult } from './types.js';

// Install, disable, update and uninstall. None of them stops dockerd or touches its
// configuration except a real uninstall: the agent's update sequence (old disable, new update,
// old uninstall, new install, new enable) must leave the user's Docker serving throughout.

const UPDATE_MARKER = 'update-in-progress.json';
/** Longer than the whole update sequence under the agent's timeouts (900+900+300+900+300 s). */
const UPDATE_MARKER_TTL_MS = 60 * 60_000;

export async function install(ctx: RunContext): Promise<CommandResult> {
  await ctx.agentFs.mkdirp(ctx.env.dataDir, 0o700);
  await reportHeartbeat(ctx, 'Ready', 'Docker extension installed; waiting for enable.');
  await reportEvent(ctx, 'Install', 'Informational', `installed version ${ctx.version}`);
  return { exitCode: 0, stdout: 'install: done; the engine is installed and configured by enable' };
}

export async function update(ctx: RunContext): Promise<CommandResult> {
  const from = process.env.AZURE_GUEST_AGENT_UPDATING_FROM_VERSION ?? 'unknown';
  await ctx.agentFs.mkdirp(ctx.env.dataDir, 0o700);
  await ctx.agentFs.writeAtomic(
    path.join(ctx.env.dataDir, UPDATE_MARKER),
    JSON.stringify({ from, to: ctx.version, at: new Date(ctx.clock.now()).toISOString() }),
    0o600,
  );
  await reportHeartbeat(ctx, 'Ready', `Updating from ${from} to ${ctx.version}; Docker keeps running.`);
  await reportEvent(ctx, 'Update', 'Informational', `update from ${from} to ${ctx.version}`);
  return { exitCode: 0, stdout: `update: from ${from} to ${ctx.version}; dockerd untouched` };
}

/**
 * Disable keeps dockerd running (stopping it would take the user's containers down on every
 * update). Its status is written only for a sequence number whose settings this version has:
 * during an update the old version runs with the new number, and whatever it wrote would be
 * copied to the new version and reported as the new configuration's result.
 */
export async function disable(ctx: RunContext): Promise<CommandResult> {
  const message = 'Docker extension disabled. dockerd keeps running with its configuration; uninstall the extension to remove the TCP listener.';
  // The agent marks a disabled handler NotReady; a Ready heartbeat would contradict it.
  await reportHeartbeat(ctx, 'NotReady', message);
  if (ctx.seq !== undefined && (await ctx.agentFs.exists(path.join(ctx.env.configFolder, `${ctx.seq}.settings`))) && !(await isUpdating(ctx))) {
    await reportStatus(ctx, ctx.seq, { operation: 'Disable', status: 'success', message });
  }
  await reportEvent(ctx, 'Disable', 'Informational', 'disabled; dockerd untouched');
  return { exitCode: 0, stdout: 'disable: done; dockerd keeps running' };
}

export async function uninstall(ctx: RunContext): Promise<CommandResult> {
  if (await isUpdating(ctx)) {
    ctx.log.info({ event: 'uninstall is part of an update: configuration kept' });
    return { exitCode: 0, stdout: 'uninstall: part of an update; configuration kept' };
  }
  await stopWorker(ctx);
  const removeEngine = await removeEngineRequested(ctx);
  const outcome = await ctx.applier.remove({ log: ctx.log, removeEngine });
  await ctx.agentFs.remove(ctx.env.dataDir);
  await reportEvent(ctx, 'Uninstall', 'Informational', outcome.message);
  return { exitCode: 0, stdout: `uninstall: ${outcome.message}` };
}

/**
 * True while the agent runs an update: another version of this handler is unpacked beside us
 * (the agent only ever keeps one version otherwise), or the new version's update command left
 * its marker recently and named a version other than ours.
 */
export async function isUpdating(ctx: RunContext): Promise<boolean> {
  const siblings = (await ctx.agentFs.list(ctx.env.libDir)).filter(
    (d) => d.startsWith(`${ctx.env.name}-`) && path.join(ctx.env.libDir, d) !== path.resolve(ctx.env.extensionDir),
  );
  for (const d of siblings) {
    if (await ctx.agentFs.exists(path.join(ctx.env.libDir, d, 'HandlerManifest.json'))) return true;
  }
  const marker = await ctx.agentFs.readText(path.join(ctx.env.dataDir, UPDATE_MARKER));
  if (!marker) return false;
  try {
    const m = JSON.parse(marker) as { to?: string; at?: string };
    return m.to !== ctx.version && ctx.clock.now() - Date.parse(m.at ?? '') < UPDATE_MARKER_TTL_MS;
  } catch {
    return false;
  }
}

export async function clearUpdateMarker(ctx: RunContext): Promise<void> {
  await ctx.agentFs.remove(path.join(ctx.env.dataDir, UPDATE_MARKER));
}

async function stopWorker(ctx: RunContext): Promise<void> {
  const owner = await liveOwner(workerLockPath(ctx));
  if (!owner) return;
  ctx.log.info({ event: 'stopping enable worker for uninstall', workerPid: owner.pid });
  try {
    process.kill(owner.pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = ctx.clock.now() + 60_000;
  while (ctx.clock.now() < deadline && (await liveOwner(workerLockPath(ctx)))) await ctx.clock.sleep(200);
}

/** The last applied settings decide whether uninstall also removes the engine (opt-in). */
async function removeEngineRequested(ctx: RunContext): Promise<boolean> {
  const seq = (await readMrseq(ctx.agentFs, ctx.env.extensionDir)) ?? ctx.seq;
  if (seq === undefined) return false;
  try {
    const { loadSettings } = await import('./load-settings.js');
    return (await loadSettings(ctx.agentFs, ctx.env, seq))?.settings.public.docker.engine.removeOnUninstall ?? false;
  } catch (e) {
    ctx.log.warn({ event: 'settings unreadable at uninstall; engine kept', err: describeError(e) });
    return false;
  }
}

