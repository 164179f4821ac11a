import { writeHeartbeat, type HeartbeatStatus } from '../agent/heartbeat.js';
import { emitEvent, type EventLevel } from '../agent/events.js';
import { writeStatus, type StatusReport } from '../agent/status.js';
import type { RunContext } from './context.js';

// Everything the agent reads from us goes through here, so each writer is called the same way
// and a failure to report never masks the real outcome.

export async function reportStatus(ctx: RunContext, seq: number, report: StatusReport, secrets: readonly string[] = []): Promise<void> {
  await writeStatus(ctx.agentFs, ctx.env.statusFolder, seq, report, { name: ctx.env.name, now: new Date(ctx.clock.now()), secrets });
}

export async function reportHeartbeat(ctx: RunContext, status: HeartbeatStatus, message: string): Promise<void> {
  try {
    await writeHeartbeat(ctx.agentFs, ctx.env.heartbeatFile, status, message);
  } catch (e) {
    ctx.log.warn({ event: 'heartbeat write failed', err: (e as Error).message });
  }
}

export async function reportEvent(ctx: RunContext, taskName: string, level: EventLevel, message: string): Promise<void> {
  try {
    await emitEvent(ctx.agentFs, ctx.env, { taskName, level, message }, { version: ctx.version, operationId: ctx.operationId, now: new Date(ctx.clock.now()) });
  } catch (e) {
    ctx.log.warn({ event: 'event write failed', err: (e as Error).message });
  }
}
