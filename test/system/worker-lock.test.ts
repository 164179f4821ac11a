import { afterEach, describe, expect, test } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { acquireWorkerLock, liveOwner, procStartTime, type LockOwner } from '../../handler/system/worker-lock.js';
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

async function ownedBy(file: string, c: ChildProcess, seq: number, version = '1.0.0'): Promise<void> {
  const owner: LockOwner = { pid: c.pid!, seq, version, procStart: procStartTime(c.pid!)!, startedAt: new Date().toISOString() };
  await writeFile(file, JSON.stringify(owner));
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
});
