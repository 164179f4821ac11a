import { chmodSync, closeSync, constants as fsc, fchmodSync, fstatSync, lstatSync, openSync, renameSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import { ensureSafeDirSync, UnsafePathError, writeError } from '../system/fs.js';

// The log files root appends to (handler.log, monitor.log): opened so that a link or FIFO planted
// in the log folder cannot redirect or block the write, readable by root only (a log line may
// quote an admin's setting), and each line bounded and free of raw control characters.

const LOG_MODE = 0o600;

/**
 * Opens `file` for appending, rotating it to one `.1` generation when it passed `maxBytes`. The
 * folder must be a real root-owned directory; the file is never followed through a link
 * (O_NOFOLLOW), a FIFO cannot block the open (O_NONBLOCK), and anything but a regular file is
 * refused. A log left 0644 by an older version is narrowed to 0600.
 */
export function openLogFile(file: string, maxBytes: number): number {
  ensureSafeDirSync(path.dirname(file), 0o755);
  const fd = openOnce(file);
  if (fstatSync(fd).size <= maxBytes) return fd;
  closeSync(fd);
  renameSync(file, `${file}.1`);
  return openOnce(file);
}

function openOnce(file: string): number {
  let fd: number;
  try {
    fd = openSync(file, fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT | fsc.O_NOFOLLOW | fsc.O_NONBLOCK, LOG_MODE);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ELOOP') {
      throw new UnsafePathError(`${file} is a symbolic link; the handler appends to its log as root and never through a link. Remove the link (rm ${file}) and retry.`, 'EUNSAFEFILE', { cause: e });
    }
    if (code === 'ENXIO') throw notRegular(file, 'a FIFO');
    throw writeError(e, 'open the log', file);
  }
  const st = fstatSync(fd);
  if (!st.isFile()) {
    closeSync(fd);
    throw notRegular(file, st.isFIFO() ? 'a FIFO' : st.isDirectory() ? 'a directory' : 'not a regular file');
  }
  if ((st.mode & 0o777) !== LOG_MODE) fchmodSync(fd, LOG_MODE);
  narrowRotated(`${file}.1`);
  return fd;
}

function notRegular(file: string, kind: string): UnsafePathError {
  return new UnsafePathError(`${file} is ${kind}, not a regular file; move it away and retry (the handler creates the log file).`, 'EUNSAFEFILE');
}

/** The previous generation, written 0644 by an older version, is narrowed too (only if a real file). */
function narrowRotated(file: string): void {
  try {
    const s = lstatSync(file);
    if (s.isFile() && (s.mode & 0o777) !== LOG_MODE) chmodSync(file, LOG_MODE);
  } catch {
    // none yet
  }
}

/** Longest string field kept in a log record; the rest is cut with a marker saying how much. */
export const MAX_LOG_FIELD_CHARS = 16 * 1024;

// JSON.stringify already escapes C0 controls; DEL, C1 and the Unicode line separators are valid
// raw in JSON but drive terminals and line-oriented tools, so they are escaped as well.
const RAW_CONTROLS = /[\u007f-\u009f\u2028\u2029]/g;

/**
 * One serialised JSON log line made safe to store: raw control characters escaped and every
 * string field capped. Lines short enough not to hold a long field are only escaped.
 */
export function cleanLogLine(line: string): string {
  let out = line;
  if (out.length > MAX_LOG_FIELD_CHARS) {
    try {
      const nl = out.endsWith('\n');
      out = JSON.stringify(capStrings(JSON.parse(out), 0)) + (nl ? '\n' : '');
    } catch {
      out = `${JSON.stringify({ level: 40, event: 'log line dropped: too long and not JSON' })}\n`;
    }
  }
  return out.replace(RAW_CONTROLS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function capStrings(v: unknown, depth: number): unknown {
  if (typeof v === 'string') {
    return v.length > MAX_LOG_FIELD_CHARS ? `${v.slice(0, MAX_LOG_FIELD_CHARS)}…[${v.length - MAX_LOG_FIELD_CHARS} more characters cut]` : v;
  }
  if (v === null || typeof v !== 'object') return v;
  if (depth > 20) return '[too deeply nested]';
  if (Array.isArray(v)) return v.map((x) => capStrings(x, depth + 1));
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, capStrings(x, depth + 1)]));
}

/** A pino destination on an opened log file: every line cleaned, written synchronously. */
export function logFileStream(fd: number): { write(line: string): boolean; flushSync(): void } {
  return {
    write(line: string): boolean {
      try {
        writeSync(fd, cleanLogLine(line));
      } catch {
        // a full disk must not fail the command whose outcome the status reports
      }
      return true;
    },
    flushSync(): void {
      // writeSync leaves nothing buffered
    },
  };
}
