import { closeSync, fstatSync, writeSync } from 'node:fs';
import { sanitiseJsonLine } from '../agent/sanitise.js';
import { cleanLogLine, openLogFile } from './log-file.js';

// The monitor's log: the same JSON lines as pino writes for the commands (numeric level, ISO time,
// pid, bindings, then the record), so one jq recipe reads both files. Not pino itself: the monitor
// lives for weeks under a memory budget, and pino loads its worker-thread transport machinery
// (thread-stream, worker_threads) whether or not it is used, about 5 MiB of a 60 MiB budget. The
// monitor never handles settings; its lines still go through the one sanitiser, like every output.

export interface LogSink {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const LEVELS = { debug: 20, info: 30, warn: 40, error: 50 } as const;
type LevelName = keyof typeof LEVELS;

export class LineLog implements LogSink {
  private fd: number | undefined;
  private readonly min: number;
  private readonly prefix: string;
  private readonly maxBytes: number;

  constructor(
    private readonly file: string,
    opts: { level?: string; bindings?: Record<string, unknown>; maxBytes: number },
  ) {
    this.min = LEVELS[(opts.level ?? 'info') as LevelName] ?? LEVELS.info;
    // pino's order: level, time, pid, bindings, record.
    const bindings = JSON.stringify({ pid: process.pid, ...opts.bindings });
    this.prefix = bindings === '{}' ? '' : bindings.slice(1, -1);
    this.maxBytes = opts.maxBytes;
    this.rotate();
  }

  /** One `.1` generation when the file passed maxBytes; called at start and from the monitor's timer. */
  rotate(): void {
    if (this.fd !== undefined) {
      try {
        if (fstatSync(this.fd).size <= this.maxBytes) return;
      } catch {
        // reopen below
      }
      this.close();
    }
    // Refuses a linked or foreign-writable log folder and a link at the file itself (see log-file.ts).
    this.fd = openLogFile(this.file, this.maxBytes);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  debug(obj: object, msg?: string): void {
    this.write('debug', obj, msg);
  }
  info(obj: object, msg?: string): void {
    this.write('info', obj, msg);
  }
  warn(obj: object, msg?: string): void {
    this.write('warn', obj, msg);
  }
  error(obj: object, msg?: string): void {
    this.write('error', obj, msg);
  }

  private write(level: LevelName, obj: object, msg?: string): void {
    const n = LEVELS[level];
    if (n < this.min || this.fd === undefined) return;
    let body: string;
    try {
      body = JSON.stringify(msg === undefined ? obj : { ...obj, msg });
    } catch {
      body = JSON.stringify({ event: 'unserialisable log record' });
    }
    const rest = body === '{}' ? '' : `,${body.slice(1, -1)}`;
    const line = `{"level":${n},"time":"${new Date().toISOString()}"${this.prefix ? `,${this.prefix}` : ''}${rest}}\n`;
    try {
      // Scrubbed of secrets while it is still whole JSON, then capped and escaped.
      writeSync(this.fd, cleanLogLine(sanitiseJsonLine(line)));
    } catch {
      // a full disk must not take the monitor down
    }
  }
}
