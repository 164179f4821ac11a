import pino from 'pino';
import type { Logger } from 'pino';
import { logFileStream, openLogFile } from './log-file.js';
import { sanitiseJsonLine } from '../agent/sanitise.js';

export type { Logger };

// Every path under which a secret may travel. The agent publishes stdout/stderr and status, and
// the log folder is readable by admins who should not see registry passwords or keys.
export const REDACT_PATHS = [
  'password',
  '*.password',
  'login.password',
  'protected',
  'protectedSettings',
  'plaintext',
  'certs',
  '*.certs',
  'key',
  '*.key',
  'environment',
  '*.environment',
  'input',
];

const MAX_LOG_BYTES = 8 * 1024 * 1024;

export interface LoggerOptions {
  /** `<logFolder>/handler.log`; undefined logs nowhere (tests, dry run prints the plan itself). */
  file?: string;
  level?: string;
  bindings?: Record<string, unknown>;
}

/**
 * JSON lines to a file in the agent's log folder, rotated to one `.1` generation at startup when
 * it passes 8 MiB: bounded without a background rotator (each command is a short process, the
 * worker a few minutes). Lines are written synchronously, which also survives the single-file
 * bundle (pino's worker-thread transports do not).
 */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? process.env.DOCKER_EXTENSION_LOG_LEVEL ?? 'info';
  const base = { pid: process.pid, ...opts.bindings };
  const redact = { paths: REDACT_PATHS, censor: '[redacted]' };
  // Beyond the paths above, every finished line is scrubbed of the secrets this process has
  // seen (handler/agent/sanitise.ts): a message or an error that quotes a value is caught too.
  const hooks = { streamWrite: sanitiseJsonLine };
  if (!opts.file) return pino({ level, base, redact, hooks, enabled: level !== 'silent' }, pino.destination({ dest: 2, sync: true }));
  // Opened by us, not by pino: no link followed, mode 0600, rotated, each line capped and escaped.
  const dest = logFileStream(openLogFile(opts.file, MAX_LOG_BYTES));
  return pino({ level, base, redact, hooks, timestamp: pino.stdTimeFunctions.isoTime }, dest);
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
