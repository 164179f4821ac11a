import { afterEach, describe, expect, test } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { acquireWorkerLock, liveOwner, procStartTime, readLockOwner, tryWorkerLock, type LockOwner } from '../../handler/system/worker-lock.js';
import { realClock } from '../../handler/system/clock.js';

// Real processes stand in for workers: the lock's liveness check reads /proc, and superseding
// sends a real SIGTERM.

const children: ChildProcess[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

function fakeWorker(): Promise<ChildProcess> {
  const c = spawn('sleep', ['60'], { stdio: 'ignore' });
  children.push(c);
  return new Promise((r) => c.once('spawn', () => r(c)));
}

async function ownedBy(file: string, c: ChildProcess, seq: number, version = '1.0.0', extra: Partial<LockOwner> = {}): Promise<LockOwner> {
  const owner: LockOwner = { pid: c.pid!, seq, version, procStart: procStartTime(c.pid!)!, startedAt: new Date().toISOString(), ...extra };
  await writeFile(file, JSON.stringify(owner));
  return owner;
}

function exitOf(c: ChildProcess): Promise<unknown> {
  return new Promise((r) => c.once('exit', r));
}

async function lockFile(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'lock-'));
  dirs.push(dir);
  return path.join(dir, 'enable-worker.lock');
}

describe('one enable worker at a time', () => {
  test('a free lock is acquired and released', async () => {
    const f = await lockFile();
    const r = await acquireWorkerLock(f, { seq: 1, version: '1' }, { clock: realClock, waitMs: 1000 });
    expect(r.kind).toBe('acquired');
    expect((await liveOwner(f))?.pid).toBe(process.pid);
    if (r.kind === 'acquired') await r.release();
    expect(await liveOwner(f)).toBeUndefined();
  });

  test('the same (seq, version) already running: back off without touching it', async () => {
    const f = await lockFile();
    const w = await fakeWorker();
    await ownedBy(f, w, 4);
    const r = await acquireWorkerLock(f, { seq: 4, version: '1.0.0' }, { clock: realClock, waitMs: 1000 });
    expect(r.kind).toBe('same-running');
    expect(w.exitCode).toBeNull();
    expect(w.signalCode).toBeNull();
  });

  test('a newer number running: the older backs off', async () => {
    const f = await lockFile();
    const w = await fakeWorker();
    await ownedBy(f, w, 9);
    expect((await acquireWorkerLock(f, { seq: 4, version: '1.0.0' }, { clock: realClock, waitMs: 1000 })).kind).toBe('newer-running');
  });

  test('an older number is stopped with SIGTERM and the newer takes over', async () => {
    const f = await lockFile();
    const w = await fakeWorker();
    await ownedBy(f, w, 2);
    const exited = new Promise((r) => w.once('exit', (_c, sig) => r(sig)));
    const r = await acquireWorkerLock(f, { seq: 3, version: '1.0.0' }, { clock: realClock, waitMs: 10_000, pollMs: 20 });
    expect(await exited).toBe('SIGTERM');
    expect(r.kind).toBe('acquired');
    expect(JSON.parse(await readFile(f, 'utf8')).seq).toBe(3);
  });

  test('the same number from another handler version (an update) is superseded too', async () => {
    const f = await lockFile();
    const w = await fakeWorker();
    await ownedBy(f, w, 3, '0.9.0');
    expect((await acquireWorkerLock(f, { seq: 3, version: '1.0.0' }, { clock: realClock, waitMs: 10_000, pollMs: 20 })).kind).toBe('acquired');
  });

  test('a stale lock (dead pid, or pid reused by another process) is taken over', async () => {
    const f = await lockFile();
    await writeFile(f, JSON.stringify({ pid: 2 ** 22 - 1, seq: 9, version: '1', procStart: '1', startedAt: '' }));
    expect((await acquireWorkerLock(f, { seq: 1, version: '1' }, { clock: realClock, waitMs: 1000 })).kind).toBe('acquired');
    const f2 = await lockFile();
    await writeFile(f2, JSON.stringify({ pid: process.pid, seq: 9, version: '1', procStart: 'not-this-process', startedAt: '' }));
    expect((await acquireWorkerLock(f2, { seq: 1, version: '1' }, { clock: realClock, waitMs: 1000 })).kind).toBe('acquired');
  });

  test('many concurrent contenders for the same number: exactly one wins', async () => {
    const f = await lockFile();
    // Distinct live pids, one per contender, so each looks like its own worker process.
    const ws = await Promise.all([1, 2, 3, 4, 5, 6].map(() => fakeWorker()));
    const results = await Promise.all(ws.map((w) => acquireWorkerLock(f, { seq: 7, version: 'v', pid: w.pid! }, { clock: realClock, waitMs: 1000, pollMs: 5 })));
    expect(results.filter((r) => r.kind === 'acquired')).toHaveLength(1);
    expect(results.filter((r) => r.kind === 'same-running')).toHaveLength(5);
  });

  test('many contenders over the record of a killed holder: exactly one wins, every time', async () => {
    // Each removes the dead record and creates its own; a removal that read the dead record before
    // another contender replaced it must not delete the replacement (two holders).
    const ws = await Promise.all([1, 2, 3, 4, 5, 6].map(() => fakeWorker()));
    for (let round = 0; round < 40; round++) {
      const f = await lockFile();
      await writeFile(f, JSON.stringify({ pid: 2 ** 22 - 1, seq: 1, version: 'v', procStart: '1', startedAt: '' }));
      const results = await Promise.all(ws.map((w) => acquireWorkerLock(f, { seq: 7, version: 'v', pid: w.pid! }, { clock: realClock, waitMs: 2000, pollMs: 1 })));
      expect({ round, acquired: results.filter((r) => r.kind === 'acquired').length }).toEqual({ round, acquired: 1 });
    }
  });
});

describe('the monitor takes the same lock for its own work on dockerd, without ever waiting', () => {
  test('an enable waits for a monitor task (never signals it: that would stop the monitor) and takes the lock once it is released', async () => {
    const f = await lockFile();
    const m = await fakeWorker();
    await ownedBy(f, m, 0, '1.0.0', { kind: 'monitor', task: 'renew-certificate' });
    const waitedFor: LockOwner[] = [];
    let settled = false;
    const enable = acquireWorkerLock(f, { seq: 5, version: '1.0.0' }, { clock: realClock, waitMs: 60_000, pollMs: 20, onWait: (o) => waitedFor.push(o) }).finally(() => (settled = true));
    // Told whom it waits for: from then on it only polls.
    while (waitedFor.length === 0) await new Promise((r) => setTimeout(r, 10));
    expect(waitedFor).toMatchObject([{ pid: m.pid, kind: 'monitor', task: 'renew-certificate' }]);
    expect(settled).toBe(false);
    expect(m.exitCode).toBeNull();
    expect(m.signalCode).toBeNull();
    // The monitor releases the way releaseIfMine does: its record removed.
    await rm(f);
    const r = await enable;
    expect(r.kind).toBe('acquired');
    expect((await liveOwner(f))).toMatchObject({ pid: process.pid, seq: 5, kind: 'enable' });
  });

  test('an uninstall waits for a monitor task too', async () => {
    const f = await lockFile();
    const m = await fakeWorker();
    await ownedBy(f, m, 0, '1.0.0', { kind: 'monitor', task: 'restart-dockerd' });
    const r = await acquireWorkerLock(f, { seq: 0, version: '1.0.0', kind: 'uninstall' }, { clock: realClock, waitMs: 300, pollMs: 20 });
    expect(r).toMatchObject({ kind: 'timeout', owner: { pid: m.pid, kind: 'monitor' } });
    expect(m.signalCode).toBeNull();
  });

  test('the monitor finds an enable holding the lock: busy at once, the enable left alone', async () => {
    const f = await lockFile();
    const w = await fakeWorker();
    await ownedBy(f, w, 3);
    const r = await tryWorkerLock(f, { seq: 3, version: '1.0.0', task: 'renew-certificate' }, { clock: realClock });
    expect(r).toMatchObject({ kind: 'busy', owner: { pid: w.pid, seq: 3 } });
    expect(w.exitCode).toBeNull();
    expect(w.signalCode).toBeNull();
  });

  test('a monitor killed with -9 while holding the lock leaves it free: the next taker removes its record', async () => {
    const f = await lockFile();
    const m = await fakeWorker();
    await ownedBy(f, m, 0, '1.0.0', { kind: 'monitor', task: 'renew-certificate' });
    const gone = exitOf(m);
    m.kill('SIGKILL');
    await gone;
    expect(await liveOwner(f)).toBeUndefined();
    const r = await acquireWorkerLock(f, { seq: 1, version: '1.0.0' }, { clock: realClock, waitMs: 1000 });
    expect(r.kind).toBe('acquired');
    if (r.kind === 'acquired') await r.release();
    // and the monitor's own next round likewise
    const m2 = await fakeWorker();
    await ownedBy(f, m2, 0, '1.0.0', { kind: 'monitor', task: 'renew-certificate' });
    const gone2 = exitOf(m2);
    m2.kill('SIGKILL');
    await gone2;
    const t = await tryWorkerLock(f, { seq: 0, version: '1.0.0', task: 'renew-certificate' }, { clock: realClock });
    expect(t.kind).toBe('acquired');
    if (t.kind === 'acquired') await t.release();
    expect(await readLockOwner(f)).toBeUndefined();
  });

  test('the record of a killed enable is taken over by a monitor task like by any taker, and named to it; released, the lock is free', async () => {
    const f = await lockFile();
    const w = await fakeWorker();
    const killed = await ownedBy(f, w, 7, '1.0.0', { kind: 'enable' });
    const gone = exitOf(w);
    w.kill('SIGKILL');
    await gone;
    const t = await tryWorkerLock(f, { seq: 6, version: '1.0.0', task: 'restart-dockerd' }, { clock: realClock });
    expect(t).toMatchObject({ kind: 'acquired', tookOver: killed });
    expect(await liveOwner(f)).toMatchObject({ pid: process.pid, kind: 'monitor', task: 'restart-dockerd' });
    if (t.kind === 'acquired') await t.release();
    expect(await readLockOwner(f)).toBeUndefined();
  });
});
