import { AgentContractError } from '../errors.js';
import { removeNoopToken, writeNoopToken } from '../agent/noop-token.js';
import { ensureMonitorCheap } from './monitor-control.js';
import { clearUpdateMarker, currentWorker, enableDecision, markEnableRequested } from './enable-protocol.js';
import type { RunContext } from './context.js';
import { reportHeartbeat, reportStatus } from './report.js';
import type { CommandResult } from './types.js';

export function requireSeq(ctx: RunContext): number {
  if (ctx.seq === undefined) {
    throw new AgentContractError(
      `No sequence number: ConfigSequenceNumber is not set and ${ctx.env.configFolder} holds no N.settings file; re-apply the extension.`,
      'ENOSEQ',
    );
  }
  return ctx.seq;
}

/** The cheap guard every goal state and boot goes through: most enables end here. */
export async function enablePreCheck(ctx: RunContext): Promise<CommandResult | undefined> {
  const seq = requireSeq(ctx);
  const decision = await enableDecision(ctx, seq);
  const { mrseq } = decision;
  if (decision.action === 'skip') {
    ctx.log.info({ event: 'seq skipped', reason: decision.reason, mrseq });
    // After a reboot, a kill or an agent restart the monitor may be gone: this is where it comes back.
    const { owner: monitor, problem } = await ensureMonitorCheap(ctx);
    // From now on the shim answers this same question without Node, until anything it rests on changes.
    if (decision.reason === 'already-applied' && monitor) await noopToken(ctx, seq, monitor);
    return {
      exitCode: 0,
      stdout:
        (decision.reason === 'stale'
          ? `enable: sequence number ${seq} is older than the applied ${mrseq}; nothing to do`
          : `enable: configuration ${seq} is already applied; nothing to do`) + (problem ? `; warning: ${problem}` : ''),
    };
  }
  const owner = await currentWorker(ctx);
  if (owner && owner.seq === seq && owner.version === ctx.version && (owner.kind ?? 'enable') === 'enable') {
    ctx.log.info({ event: 'worker already running', workerPid: owner.pid });
    await ensureMonitorCheap(ctx);
    return { exitCode: 0, stdout: `enable: configuration ${seq} is already being applied (pid ${owner.pid})` };
  }
  return undefined;
}

/**
 * Enable in the foreground: validate synchronously (bad input is reported before anything
 * changes), write transitioning, and hand the long work to a detached worker, because the agent
 * SIGKILLs enable's process group after 300 s and the engine install alone can take longer.
 */
export async function enable(ctx: RunContext): Promise<CommandResult> {
  const seq = requireSeq(ctx);
  // Sequential on purpose: jest's ESM loader races on concurrent dynamic imports of shared deps.
  const { requireSettings } = await import('./load-settings.js');
  const { summariseSettings } = await import('../agent/settings-summary.js');
  const { preflight } = await import('../docker/preflight.js');
  // Settings, dockerd options and certificates in one pass: every problem in this one status.
  const { settings, secrets } = await requireSettings(ctx.agentFs, ctx.env, seq, (pub, prot) => preflight(pub, prot, ctx.clock.now()));
  await removeNoopToken(ctx.agentFs, ctx.env.extensionDir);
  const summary = summariseSettings(settings);
  await reportStatus(
    ctx,
    seq,
    {
      operation: 'Enable',
      status: 'transitioning',
      message: `Applying configuration ${seq}.`,
      substatus: [{ name: 'settings', status: 'success', message: `Settings decrypted and validated. Will configure: ${summary}` }],
    },
    secrets,
  );
  await reportHeartbeat(ctx, 'Ready', `Applying configuration ${seq}.`);
  await clearUpdateMarker(ctx);
  await markEnableRequested(ctx, seq);
  const worker = await ctx.spawnWorker(seq);
  ctx.log.info({ event: 'worker started', worker });
  return { exitCode: 0, stdout: `enable: configuration ${seq} validated; applying in the background (${worker})` };
}

/** Best effort: without a token the shim only falls through to Node, which decides the same. */
export async function noopToken(ctx: RunContext, seq: number, monitor: { pid: number; procStart: string }): Promise<void> {
  try {
    await writeNoopToken(ctx.agentFs, ctx.env, seq, ctx.version, monitor);
  } catch (e) {
    ctx.log.debug({ event: 'no-op token not written', err: (e as Error).message });
  }
}
