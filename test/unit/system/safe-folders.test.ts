import { afterEach, describe, expect, test } from '@jest/globals';
import { chmod, chown, lstat, mkdir, mkdtemp, readdir, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { emitEvent } from '../../../handler/agent/events.js';
import { writeHeartbeat } from '../../../handler/agent/heartbeat.js';
import { writeStatus } from '../../../handler/agent/status.js';
import { acquireMonitorLock } from '../../../handler/monitor/lock.js';
import { realClock } from '../../../handler/system/clock.js';
import { RootedFileSystem } from '../../../handler/system/fs.js';
import { acquireWorkerLock, workerLockFile } from '../../../handler/system/worker-lock.js';

// Root writes status, heartbeat, events and locks into folders it did not always create. A folder
// replaced by a link (or one anyone can write, where a link can be planted) would carry those
// writes anywhere on the machine: each is refused, naming the folder and the fix, and nothing
// lands at the link's target.

const fs = new RootedFileSystem('/');
const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'folders-'));
  dirs.push(d);
  return d;
}
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

/** `<base>/<name>` as a link to an empty directory elsewhere; returns [link, target]. */
async function linkedFolder(name: string): Promise<[string, string]> {
  const base = await tempDir();
  const target = await tempDir();
  await symlink(target, path.join(base, name));
  return [path.join(base, name), target];
}

const report = { operation: 'Enable' as const, status: 'success' as const, message: 'ok' };

describe('writes never go through a planted link', () => {
  test('a status folder that is a link: refused, nothing written at its target', async () => {
    const [status, target] = await linkedFolder('status');
    const err = await writeStatus(fs, status, 1, report, { name: 'X' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'EUNSAFEFOLDER' });
    expect((err as Error).message).toContain(`${status} is a symbolic link`);
    expect((err as Error).message).toContain(`rm ${status}`);
    expect(await readdir(target)).toEqual([]);
  });

  test('a heartbeat whose folder is a link: refused', async () => {
    const [ext, target] = await linkedFolder('ext');
    await expect(writeHeartbeat(fs, path.join(ext, 'heartbeat.log'), 'Ready', 'ok')).rejects.toMatchObject({ code: 'EUNSAFEFOLDER' });
    expect(await readdir(target)).toEqual([]);
  });

  test('an events folder that is a link: refused', async () => {
    const logFolder = await tempDir();
    const [events, target] = await linkedFolder('events');
    await expect(
      emitEvent(fs, { logFolder, eventsFolder: events }, { taskName: 'Enable', level: 'Informational', message: 'm' }, { version: '1', operationId: 'o' }),
    ).rejects.toMatchObject({ code: 'EUNSAFEFOLDER' });
    expect(await readdir(target)).toEqual([]);
  });

  test('the worker lock in a data folder that is a link: refused, no lock at the target', async () => {
    const [data, target] = await linkedFolder('Microsoft.Azure.Extensions.DockerExtension');
    const err = await acquireWorkerLock(workerLockFile(data), { seq: 1, version: '1' }, { clock: realClock, waitMs: 100 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'EUNSAFEFOLDER' });
    expect(await readdir(target)).toEqual([]);
  });

  test('the monitor lock in a data folder that is a link: refused', async () => {
    const [data, target] = await linkedFolder('data');
    await expect(acquireMonitorLock(data, { version: '1', extensionDir: '/x' }, { clock: realClock })).rejects.toMatchObject({ code: 'EUNSAFEFOLDER' });
    expect(await readdir(target)).toEqual([]);
  });

  test('a dangling link as the data folder: refused, not created through', async () => {
    const base = await tempDir();
    const target = path.join(await tempDir(), 'not-yet');
    await symlink(target, path.join(base, 'data'));
    await expect(fs.mkdirp(path.join(base, 'data'), 0o700)).rejects.toMatchObject({ code: 'EUNSAFEFOLDER' });
    await expect(stat(target)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('folders others could write are refused', () => {
  test('a world-writable status folder', async () => {
    const status = path.join(await tempDir(), 'status');
    await mkdir(status);
    await chmod(status, 0o777);
    const err = await writeStatus(fs, status, 1, report, { name: 'X' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'EUNSAFEFOLDER' });
    expect((err as Error).message).toContain(`${status} is writable by group or others (mode 0777)`);
    expect((err as Error).message).toContain(`chmod go-w ${status}`);
  });

  test('a folder owned by another user', async () => {
    const data = path.join(await tempDir(), 'data');
    await mkdir(data, { mode: 0o700 });
    await chown(data, 4242, 4242);
    const err = await fs.writeAtomic(path.join(data, 'engine-state.json'), '{}', 0o600).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'EUNSAFEFOLDER' });
    expect((err as Error).message).toContain('owned by uid 4242, not by root');
  });

  test('folders the handler creates are real directories with the mode asked for', async () => {
    const base = await tempDir();
    const data = path.join(base, 'lib/data');
    await fs.mkdirp(data, 0o700);
    const s = await lstat(data);
    expect(s.isDirectory()).toBe(true);
    expect(s.mode & 0o777).toBe(0o700);
    const lock = await acquireWorkerLock(workerLockFile(path.join(base, 'fresh')), { seq: 1, version: '1' }, { clock: realClock, waitMs: 100 });
    expect(lock.kind).toBe('acquired');
    expect((await lstat(path.join(base, 'fresh'))).mode & 0o777).toBe(0o700);
    if (lock.kind === 'acquired') await lock.release();
  });

  test('the atomic writer replaces a link at the target itself, never writes through it', async () => {
    const dir = await tempDir();
    const elsewhere = await tempDir();
    await symlink(path.join(elsewhere, 'victim'), path.join(dir, '1.status'));
    await writeStatus(fs, dir, 1, report, { name: 'X' });
    expect((await lstat(path.join(dir, '1.status'))).isFile()).toBe(true);
    expect(await readdir(elsewhere)).toEqual([]);
  });
});
