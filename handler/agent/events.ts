import * as path from 'node:path';
import type { FileSystem } from '../system/ports.js';
import { sanitise } from './sanitise.js';
import { capUtf8, cleanText } from './text.js';

// Extension telemetry events (the agent's _ProcessExtensionEvents): files named ^\d+\.json$,
// all eight keys as strings, Message non-empty and at most 3072 chars, the whole event under
// about 6144 chars. The agent deletes every file in the folder, temp files included, so the
// file is written beside the log and renamed in.
export type EventLevel = 'Critical' | 'Error' | 'Warning' | 'Verbose' | 'Informational';

export interface ExtensionEvent {
  taskName: string;
  level: EventLevel;
  message: string;
}

/** The agent keeps 3072 characters; cut in UTF-8 bytes so no cut ever splits a character. */
const MAX_EVENT_MESSAGE_BYTES = 3072;
let counter = 0;

export function buildEvent(e: ExtensionEvent, ctx: { version: string; operationId: string; now: Date; pid: number }): string {
  const cleaned = cleanText(sanitise(e.message)).trim();
  const message = cleaned === '' ? '(no message)' : cleaned;
  return JSON.stringify({
    Version: ctx.version,
    Timestamp: ctx.now.toISOString(),
    TaskName: capUtf8(cleanText(e.taskName), 64, ''),
    EventLevel: e.level,
    Message: capUtf8(message, MAX_EVENT_MESSAGE_BYTES, '...'),
    EventPid: String(ctx.pid),
    EventTid: '1',
    OperationId: capUtf8(cleanText(ctx.operationId), 128, ''),
  });
}

/** Unique, lexically increasing names: microseconds since the epoch plus a per-process counter. */
export function eventFileName(nowMs: number): string {
  counter = (counter + 1) % 1000;
  return `${nowMs * 1000 + counter}.json`;
}

export async function emitEvent(
  fs: FileSystem,
  folders: { eventsFolder?: string; logFolder: string },
  e: ExtensionEvent,
  ctx: { version: string; operationId: string; now?: Date; pid?: number },
): Promise<void> {
  if (!folders.eventsFolder) return;
  const now = ctx.now ?? new Date();
  const body = buildEvent(e, { version: ctx.version, operationId: ctx.operationId, now, pid: ctx.pid ?? process.pid });
  const name = eventFileName(now.getTime());
  await fs.mkdirp(folders.logFolder, 0o755);
  const staging = path.join(folders.logFolder, `.event-${name}`);
  await fs.writeAtomic(staging, body, 0o600);
  await fs.mkdirp(folders.eventsFolder, 0o700);
  await fs.rename(staging, path.join(folders.eventsFolder, name));
}
