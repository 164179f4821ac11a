import * as path from 'node:path';
import { decideSeq, readLastRun, readMrseq, writeLastRun, writeMrseq, type SeqDecision } from '../agent/seqnum.js';
import { readStatusSummary } from '../agent/status.js';
import { READ_LIMITS } from '../system/ports.js';
import { acquireWorkerLock, describeOwner, liveOwner, workerLockFile, type AcquireResult, type LockOwner } from '../system/worker-lock.js';
import type { RunContext } from './context.js';

// The enable protocol's state, in one module: what has been applied (mrseq and
// last-enable.json in the extension directory, beside the status the agent reads), who is
// applying now (the worker lock in the non-versioned data directory), and whether the agent is
// in the middle of an update sequence (the update marker). Every command that reads or writes
// any of it goes through here, so the rules that tie them together live in one place.

/** A worker for an older configuration waits this long for its predecessor to stop. */
const SUPERSEDE_WAIT_MS = 15 * 60_000;
/** Uninstall waits longer than any enable worker needs to reach a safe point, apt lock waits included. */
const UNINSTALL_LOCK_WAIT_MS = 15 * 60_000;

const UPDATE_MARKER = 'update-in-progress.json';
/**
 * Written by enable before it starts its worker, removed by uninstall under the worker lock. A
 * worker that starts late (after the uninstall that followed its enable had finished) or that
 * waited for that uninstall finds it gone and applies nothing: otherwise it would configure
 * dockerd and start a monitor for an extension that is no longer there.
 */
const ENABLE_REQUEST = 'enable-request.json';
/** Longer than the whole update sequence under the agent's timeouts (900+900+300+900+300 s). */
const UPDATE_MARKER_TTL_MS = 60 * 60_000;

export const workerLockPath = (ctx: RunContext) => workerLockFile(ctx.env.dataDir);

/** Whether `seq` still has to be applied by this version: decided from mrseq, the last run and the status file. */
export async function enableDecision(ctx: RunContext, seq: number): Promise<SeqDecision & { mrseq: number | undefined }> {
  const [mrseq, lastRun, current] = await Promise.all([
    readMrseq(ctx.agentFs, ctx.env.extensionDir),
    readLastRun(ctx.agentFs, ctx.env.extensionDir),
    readStatusSummary(ctx.agentFs, ctx.env.statusFolder, seq),
  ]);
  return { ...decideSeq(seq, mrseq, lastRun, current, ctx.version), mrseq };
}

/** The sequence number whose settings were applied last (uninstall reads its settings). */
export function appliedSeq(ctx: RunContext): Promise<number | undefined> {
  return readMrseq(ctx.agentFs, ctx.env.extensionDir);
}

/** `seq` is now the applied configuration; written before its success status. */
export function markApplied(ctx: RunContext, seq: number): Promise<void> {
  return writeMrseq(ctx.agentFs, ctx.env.extensionDir, seq);
}

/** How this version's run of `seq` ended; written after its terminal status (the no-op check reads both). */
export function recordRun(ctx: RunContext, seq: number, result: 'success' | 'error'): Promise<void> {
  return writeLastRun(ctx.agentFs, ctx.env.extensionDir, { seq, version: ctx.version, result });
}

/** The worker that holds the lock now, if it is alive. */
export function currentWorker(ctx: RunContext): Promise<LockOwner | undefined> {
  return liveOwner(workerLockPath(ctx));
}

/** The handler log says whom a worker waits for: a wait of minutes is otherwise unexplained. */
const logWait = (ctx: RunContext) => (owner: LockOwner) =>
  ctx.log.info({ event: 'waiting for the worker lock', holder: describeOwner(owner), holderKind: owner.kind ?? 'enable', holderPid: owner.pid, since: owner.startedAt });

/** The lock an enable worker applies under: a newer configuration supersedes an older one. */
export function lockForEnable(ctx: RunContext, seq: number): Promise<AcquireResult> {
  return acquireWorkerLock(workerLockPath(ctx), { seq, version: ctx.version }, { clock: ctx.clock, waitMs: SUPERSEDE_WAIT_MS, onWait: logWait(ctx) });
}

/** The lock uninstall works under: a running enable worker is stopped at its next safe point. */
export function lockForUninstall(ctx: RunContext): Promise<AcquireResult> {
  return acquireWorkerLock(workerLockPath(ctx), { seq: ctx.seq ?? 0, version: ctx.version, kind: 'uninstall' }, { clock: ctx.clock, waitMs: UNINSTALL_LOCK_WAIT_MS, onWait: logWait(ctx) });
}

export const SUPERSEDE_WAIT_MINUTES = SUPERSEDE_WAIT_MS / 60_000;

export async function markEnableRequested(ctx: RunContext, seq: number): Promise<void> {
  await ctx.agentFs.mkdirp(ctx.env.dataDir, 0o700);
  await ctx.agentFs.writeAtomic(path.join(ctx.env.dataDir, ENABLE_REQUEST), JSON.stringify({ seq, at: new Date(ctx.clock.now()).toISOString() }), 0o600);
}

/** False once an uninstall has run since the last enable asked for a worker. */
export function enableStillRequested(ctx: RunContext): Promise<boolean> {
  return ctx.agentFs.exists(path.join(ctx.env.dataDir, ENABLE_REQUEST));
}

/** Uninstall, holding the worker lock: no worker of an earlier enable applies anything after it. */
export function withdrawEnableRequest(ctx: RunContext): Promise<void> {
  return ctx.agentFs.remove(path.join(ctx.env.dataDir, ENABLE_REQUEST));
}

/** The new version's update command: the old version's uninstall, which runs next, must keep everything. */
export async function markUpdate(ctx: RunContext, from: string): Promise<void> {
  await ctx.agentFs.mkdirp(ctx.env.dataDir, 0o700);
  await ctx.agentFs.writeAtomic(
    path.join(ctx.env.dataDir, UPDATE_MARKER),
    JSON.stringify({ from, to: ctx.version, at: new Date(ctx.clock.now()).toISOString() }),
    0o600,
  );
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
  const marker = await ctx.agentFs.readText(path.join(ctx.env.dataDir, UPDATE_MARKER), { maxBytes: READ_LIMITS.small });
  if (!marker) return false;
  try {
    const m = JSON.parse(marker) as { to?: string; at?: string };
    return m.to !== ctx.version && ctx.clock.now() - Date.parse(m.at ?? '') < UPDATE_MARKER_TTL_MS;
  } catch {
    return false;
  }
}

/** The update sequence is over once the new version enables. */
export async function clearUpdateMarker(ctx: RunContext): Promise<void> {
  await ctx.agentFs.remove(path.join(ctx.env.dataDir, UPDATE_MARKER));
}
