import { READ_LIMITS } from '../system/ports.js';
import * as path from 'node:path';
import type { FileSystem, ReadFileSystem } from '../system/ports.js';
import { sanitise } from './sanitise.js';
import { capCodePoints, cleanText } from './text.js';

// The exact schema parse_ext_status accepts: lowercase status values (anything else is mapped
// to error), formattedMessage always with both lang and message, every substatus with a valid
// status. The file is published as is, and its first 2000 bytes when malformed.
export const STATUS_VALUES = ['transitioning', 'warning', 'error', 'success'] as const;
export type StatusValue = (typeof STATUS_VALUES)[number];

export type Operation = 'Install' | 'Enable' | 'Disable' | 'Uninstall' | 'Update';

export interface SubStatus {
  name: string;
  status: StatusValue;
  message: string;
  code?: number;
}

export interface StatusReport {
  operation: Operation;
  status: StatusValue;
  message: string;
  code?: number;
  substatus?: readonly SubStatus[];
}

/** The portal shows about 1 KiB; the agent truncates above 128 KiB total. */
export const MAX_MESSAGE_CHARS = 1024;
export const MAX_SUBSTATUS = 20;

export function capMessage(text: string, max = MAX_MESSAGE_CHARS): string {
  return capCodePoints(cleanText(text), max, ' …[truncated, see the handler log]');
}

/**
 * Replaces every occurrence of a secret (in any form: its lines, base64, JSON-escaped) and of
 * every secret registered in this process with a marker: a last line of defence should an error
 * message quote a value.
 */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  return sanitise(text, secrets);
}

export function buildStatus(report: StatusReport, opts: { name: string; now: Date; secrets?: readonly string[] }): string {
  const secrets = opts.secrets ?? [];
  const msg = (m: string) => ({ lang: 'en-US', message: capMessage(scrubSecrets(m, secrets)) });
  const doc = [
    {
      version: 1.0,
      timestampUTC: opts.now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      status: {
        name: opts.name,
        operation: report.operation,
        status: report.status,
        code: report.code ?? (report.status === 'error' ? 1 : 0),
        ...(report.status === 'success' ? { configurationAppliedTime: opts.now.toISOString().replace(/\.\d{3}Z$/, 'Z') } : {}),
        formattedMessage: msg(report.message),
        substatus: (report.substatus ?? []).slice(0, MAX_SUBSTATUS).map((s) => ({
          name: capMessage(sanitise(s.name), 128),
          status: s.status,
          code: s.code ?? (s.status === 'error' ? 1 : 0),
          formattedMessage: msg(s.message),
        })),
      },
    },
  ];
  return JSON.stringify(doc);
}

export function statusFilePath(statusFolder: string, seq: number): string {
  return path.join(statusFolder, `${seq}.status`);
}

export async function writeStatus(
  fs: FileSystem,
  statusFolder: string,
  seq: number,
  report: StatusReport,
  opts: { name: string; now?: Date; secrets?: readonly string[] },
): Promise<void> {
  await fs.mkdirp(statusFolder, 0o700);
  const body = buildStatus(report, { name: opts.name, now: opts.now ?? new Date(), ...(opts.secrets ? { secrets: opts.secrets } : {}) });
  await fs.writeAtomic(statusFilePath(statusFolder, seq), body, 0o644);
}

/** The status and operation a status file currently holds; undefined when absent or unreadable. */
export async function readStatusSummary(
  fs: ReadFileSystem,
  statusFolder: string,
  seq: number,
): Promise<{ status?: string; operation?: string; message?: string } | undefined> {
  const text = await fs.readText(statusFilePath(statusFolder, seq), { maxBytes: READ_LIMITS.small });
  if (text === undefined) return undefined;
  try {
    const doc = JSON.parse(text) as Array<{ status?: { status?: unknown; operation?: unknown; formattedMessage?: { message?: unknown } } }>;
    const st = doc[0]?.status;
    const message = st?.formattedMessage?.message;
    return {
      ...(typeof st?.status === 'string' ? { status: st.status } : {}),
      ...(typeof st?.operation === 'string' ? { operation: st.operation } : {}),
      ...(typeof message === 'string' ? { message } : {}),
    };
  } catch {
    return undefined;
  }
}
