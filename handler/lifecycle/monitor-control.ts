// What the agent commands do to the monitor: enable makes sure it runs (the no-op re-enable with
// two file reads), the worker records what the monitor holds dockerd to, disable marks the
// record, uninstall stops the monitor and removes it. None of this ever fails a command: a
// monitor that cannot start is a warning, not a reason to report Docker's configuration failed.
import { describeError } from '../errors.js';
import { liveMonitor, type MonitorOwner } from '../monitor/lock.js';
import type { LastEnable, MonitorSpec, MonitorTarget } from '../monitor/spec.js';
import type { RunContext } from './context.js';

/**
 * The cheap path every goal state and boot takes: nothing is spawned when the monitor runs.
 * Returns the running monitor, or the problem to report when it could not be started.
 */
export async function ensureMonitorCheap(ctx: RunContext): Promise<{ owner?: MonitorOwner; problem?: string }> {
  const owner = await ownMonitor(ctx);
  if (owner) return { owner };
  const problem = await ensureMonitor(ctx);
  if (problem) return { problem };
  const started = await liveMonitor(ctx.env.dataDir);
  return started ? { owner: started } : {};
}

/** The running monitor, when it is this extension directory's (not the version before an update). */
export async function ownMonitor(ctx: RunContext): Promise<MonitorOwner | undefined> {
  const owner = await liveMonitor(ctx.env.dataDir);
  return owner?.extensionDir === ctx.env.extensionDir ? owner : undefined;
}

/** Starts (or takes over) the monitor; returns a problem to report as a warning, if any. */
export async function ensureMonitor(ctx: RunContext): Promise<string | undefined> {
  try {
    const r = await (await ctx.monitor()).ensureRunning();
    if (r.started) ctx.log.info({ event: 'monitor started', detail: r.detail });
    return undefined;
  } catch (e) {
    const why = describeError(e).replace(/^internal error: /, '');
    ctx.log.warn({ event: 'monitor not started', err: why });
    return `the monitor that keeps the heartbeat current could not be started (${why}); the agent will show the extension as unresponsive`;
  }
}

export async function recordEnable(ctx: RunContext, last: Omit<LastEnable, 'at' | 'version'>, target: MonitorTarget | undefined | 'keep'): Promise<void> {
  await updateRecord(ctx, (s) => ({
    ...s,
    disabled: false,
    lastEnable: { ...last, at: new Date(ctx.clock.now()).toISOString(), version: ctx.version },
    ...(target === 'keep' ? {} : target ? { target } : { target: undefined }),
  }));
}

export async function recordDisabled(ctx: RunContext): Promise<void> {
  await updateRecord(ctx, (s) => ({ ...s, disabled: true }));
}

async function updateRecord(ctx: RunContext, change: (s: MonitorSpec) => MonitorSpec): Promise<void> {
  const { updateMonitorSpec } = await import('../monitor/spec.js');
  try {
    await updateMonitorSpec(ctx.agentFs, ctx.env.dataDir, change);
  } catch (e) {
    ctx.log.warn({ event: 'monitor record not written', err: describeError(e) });
  }
}

export async function removeMonitor(ctx: RunContext): Promise<void> {
  const { monitorSpecPath } = await import('../monitor/spec.js');
  try {
    await (await ctx.monitor()).remove();
  } catch (e) {
    ctx.log.warn({ event: 'monitor not removed', err: describeError(e) });
  }
  await ctx.agentFs.remove(monitorSpecPath(ctx.env.dataDir));
}
