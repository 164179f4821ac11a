import { afterEach, describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { cleanLogLine, MAX_LOG_FIELD_CHARS } from '../../../handler/log/log-file.js';
import { LineLog } from '../../../handler/log/line-log.js';
import { createLogger } from '../../../handler/log/logger.js';

// handler.log and monitor.log as root opens them: never through a planted link or FIFO, 0600
// (a line may quote an admin's setting), each line bounded and without raw control characters.

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'logfile-'));
  dirs.push(d);
  return d;
}
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

const openers: Array<[string, (file: string) => { info(o: object, m?: string): void }]> = [
  ['handler.log (pino)', (file) => createLogger({ file })],
  ['monitor.log (LineLog)', (file) => new LineLog(file, { maxBytes: 1024 * 1024 })],
];

describe.each(openers)('%s', (_name, open) => {
  test('a log file that is a symbolic link is refused; its target untouched', async () => {
    const dir = await tempDir();
    const victim = path.join(await tempDir(), 'shadow');
    await writeFile(victim, 'root:x:0:0\n');
    const file = path.join(dir, 'x.log');
    await symlink(victim, file);
    expect(() => open(file)).toThrow(`${file} is a symbolic link`);
    expect(await readFile(victim, 'utf8')).toBe('root:x:0:0\n');
  });

  test('a log folder that is a symbolic link is refused', async () => {
    const base = await tempDir();
    const target = await tempDir();
    await symlink(target, path.join(base, 'logs'));
    expect(() => open(path.join(base, 'logs', 'x.log'))).toThrow(`${path.join(base, 'logs')} is a symbolic link`);
  });

  test('a FIFO in place of the log is refused without blocking', async () => {
    const file = path.join(await tempDir(), 'x.log');
    execFileSync('mkfifo', [file]);
    expect(() => open(file)).toThrow(`${file} is a FIFO, not a regular file`);
  });

  test('a new log is 0600; one left 0644 by an older version is narrowed and kept', async () => {
    const dir = await tempDir();
    const fresh = path.join(dir, 'fresh.log');
    open(fresh).info({ event: 'x' });
    expect((await stat(fresh)).mode & 0o777).toBe(0o600);
    const old = path.join(dir, 'old.log');
    await writeFile(old, '{"old":1}\n', { mode: 0o644 });
    await chmod(old, 0o644);
    open(old).info({ event: 'y' });
    expect((await stat(old)).mode & 0o777).toBe(0o600);
    expect(await readFile(old, 'utf8')).toMatch(/^\{"old":1\}\n\{.*"event":"y"/);
  });

  test('a long field is capped and control characters are escaped', async () => {
    const file = path.join(await tempDir(), 'x.log');
    const nasty = 'a\u001b[31mred\u007fdel\u0085nel\u2028ls';
    open(file).info({ event: 'long', big: 'x'.repeat(100_000), nasty });
    const raw = await readFile(file, 'utf8');
    expect(raw.length).toBeLessThan(MAX_LOG_FIELD_CHARS + 1024);
    expect(raw).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/);
    const rec = JSON.parse(raw);
    expect(rec.nasty).toBe(nasty);
    expect(rec.big).toMatch(/^x{16384}…\[83616 more characters cut\]$/);
  });
});

test('rotation keeps one 0600 generation', async () => {
  const dir = await tempDir();
  const file = path.join(dir, 'm.log');
  await writeFile(file, 'x'.repeat(2048), { mode: 0o644 });
  await chmod(file, 0o644);
  new LineLog(file, { maxBytes: 1024 }).info({ event: 'after' });
  expect((await stat(`${file}.1`)).mode & 0o777).toBe(0o600);
  expect((await stat(file)).mode & 0o777).toBe(0o600);
  expect(await readFile(file, 'utf8')).toContain('"event":"after"');
});

test('cleanLogLine leaves short ordinary lines alone', () => {
  const line = '{"level":30,"msg":"ok é"}\n';
  expect(cleanLogLine(line)).toBe(line);
});
