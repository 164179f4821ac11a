import { afterEach, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { realClock } from '../../../handler/system/clock.js';
import { DirectServiceManager } from '../../../handler/system/direct-manager.js';

// dockerd's own log, which the direct manager appends to as root and reads back when dockerd
// fails: never through a planted link or a FIFO, and read back from its tail only (it grows for
// as long as dockerd runs). No dockerd is started: every case fails, or reads, before a spawn.

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function manager(prepare: (logFile: string) => Promise<void>) {
  const dir = await mkdtemp(path.join(tmpdir(), 'dockerd-log-'));
  dirs.push(dir);
  const logFile = path.join(dir, 'dockerd.log');
  await prepare(logFile);
  // /bin/false stands in for dockerd: the log is opened before anything is spawned.
  const m = new DirectServiceManager({ clock: realClock, dockerdPath: '/bin/false', pidFile: path.join(dir, 'docker.pid'), logFile, configFile: path.join(dir, 'daemon.json') });
  return { m, dir, logFile };
}

test('a dockerd log that is a symbolic link: start refuses it and writes nothing at the target', async () => {
  let victim = '';
  const { m, logFile } = await manager(async (f) => {
    victim = `${f}.victim`;
    await writeFile(victim, 'precious\n');
    await symlink(victim, f);
  });
  await expect(m.start()).rejects.toMatchObject({ code: 'EDOCKERDLOG', message: expect.stringContaining(`${logFile} is a symbolic link`) });
  expect(await readFile(victim, 'utf8')).toBe('precious\n');
});

test('a FIFO in place of the log: start refuses at once instead of blocking', async () => {
  const { m, logFile } = await manager(async (f) => {
    execFileSync('mkfifo', [f]);
  });
  await expect(m.start()).rejects.toMatchObject({ code: 'EDOCKERDLOG', message: expect.stringContaining(`${logFile} is a FIFO`) });
}, 5_000);

test('recentLog reads the tail of a large log, not the whole file', async () => {
  const { m } = await manager(async (f) => {
    const lines = Array.from({ length: 40_000 }, (_, i) => `line ${i} ${'x'.repeat(40)}`);
    await writeFile(f, lines.join('\n') + '\n');
  });
  const tail = (await m.recentLog(3)).split('\n');
  expect(tail).toEqual([`line 39997 ${'x'.repeat(40)}`, `line 39998 ${'x'.repeat(40)}`, `line 39999 ${'x'.repeat(40)}`]);
});
