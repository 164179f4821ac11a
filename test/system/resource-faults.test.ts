// Resource faults with real mounts (this machine runs the tests as root): a small tmpfs filled to
// the last page, the same tmpfs remounted read-only, and a read-only bind mount, under the agent's
// status and log folders and under the engine's files of an isolated real dockerd. Each fault is a
// clear error naming the file; the previous files stay byte-identical and dockerd keeps serving
// with the same pid. Every mount is undone in afterAll.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSettings } from '../../handler/agent/settings.js';
import { reconcileEngine } from '../../handler/docker/engine.js';
import { silentLogger } from '../../handler/log/logger.js';
import { makeAgentTree, type AgentTree } from '../support/agent-tree.js';
import { createSandbox, dockerUnavailable, freePort, socketGet, tlsPing, type Sandbox } from '../support/docker-daemon.js';
import { certsSetting, makeCertSet, pem, type CertSet } from '../support/tls-certs.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const HANDLER = path.join(ROOT, 'dist/handler.cjs');

const notRoot = typeof process.getuid === 'function' && process.getuid() !== 0 ? 'not root' : undefined;
if (notRoot) console.warn(`resource-fault tests skipped: ${notRoot} (they mount a tmpfs)`);

const mounts: string[] = [];
function mountTmpfs(dir: string, size: string): void {
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', dir]);
  mounts.push(dir);
}
function bindReadOnly(dir: string): void {
  execFileSync('mount', ['--bind', dir, dir]);
  mounts.push(dir);
  execFileSync('mount', ['-o', 'remount,bind,ro', dir]);
}
const remount = (dir: string, how: 'ro' | 'rw') => execFileSync('mount', ['-o', `remount,${how}`, dir]);
function unmount(dir: string): void {
  const i = mounts.lastIndexOf(dir);
  if (i >= 0) mounts.splice(i, 1);
  try {
    execFileSync('umount', [dir], { stdio: 'ignore' });
  } catch {
    execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
  }
}
/** Fills the filesystem of `dir` to its last page; returns the filler to remove. */
function fill(dir: string): string {
  const filler = path.join(dir, '.filler');
  spawnSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=4k'], { stdio: 'ignore' });
  return filler;
}
afterAll(() => {
  for (const m of mounts.splice(0).reverse()) unmount(m);
});

/** path → sha256 of every regular file under `dir` (the filler excluded). */
function hashes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (name === '.filler' || !statSync(p).isFile()) continue;
    out[name] = createHash('sha256').update(readFileSync(p)).digest('hex');
  }
  return out;
}

const dAgent = notRoot ? describe.skip : describe;

dAgent('the status and log folders on a full or read-only filesystem (packaged handler)', () => {
  let t: AgentTree;
  let status: string;
  const bad = { docker: { port: 'not-a-port' } };
  const run = (seq: number) => {
    const r = spawnSync(process.execPath, [HANDLER, 'enable'], { env: { PATH: '/usr/bin:/bin', ...t.env(seq) }, encoding: 'utf8', timeout: 60_000 });
    return { exitCode: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  beforeAll(async () => {
    t = await makeAgentTree();
    status = path.join(t.extDir, 'status');
    mountTmpfs(status, '64k');
    mountTmpfs(t.logDir, '256k');
    // Settings that fail validation: these runs never reach the engine, whatever the machine.
    await t.writeSettings(1, bad);
    const first = run(1);
    expect(first.exitCode).toBe(3);
    expect((await t.readStatus(1))[0].status.status).toBe('error');
  });
  afterAll(async () => {
    unmount(t.logDir);
    unmount(status);
    await t.cleanup();
  });

  test('a full status filesystem: the error names the status file, the previous status is byte-identical', () => {
    const before = hashes(status);
    const filler = fill(status);
    try {
      const r = run(1);
      expect(r.exitCode).toBe(3);
      expect(r.stdout).toContain(`cannot write ${path.join(status, '1.status')}: the filesystem is full (ENOSPC)`);
      expect(hashes(status)).toEqual(before);
      expect(readdirSync(status).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    } finally {
      rmSync(filler);
    }
  });

  test('a read-only status filesystem: the error says so, the previous status is byte-identical', () => {
    const before = hashes(status);
    remount(status, 'ro');
    try {
      const r = run(1);
      expect(r.exitCode).toBe(3);
      expect(r.stdout).toContain(`cannot write ${path.join(status, '1.status')}: the filesystem is mounted read-only (EROFS)`);
      expect(hashes(status)).toEqual(before);
    } finally {
      remount(status, 'rw');
    }
  });

  test('a full log filesystem: the command still reports its outcome; the log keeps what it had', async () => {
    const log = path.join(t.logDir, 'handler.log');
    const filler = fill(t.logDir);
    const before = readFileSync(log);
    try {
      const r = run(1);
      expect(r.exitCode).toBe(3);
      expect((await t.readStatus(1))[0].status.formattedMessage.message).toContain('docker.port');
      expect(readFileSync(log).subarray(0, before.length).equals(before)).toBe(true);
    } finally {
      rmSync(filler);
    }
  });

  test('a read-only log filesystem: the status names handler.log and the fix; the log is byte-identical', async () => {
    const log = path.join(t.logDir, 'handler.log');
    const before = hashes(t.logDir);
    remount(t.logDir, 'ro');
    try {
      const r = run(1);
      expect(r.exitCode).toBe(3);
      const msg = (await t.readStatus(1))[0].status.formattedMessage.message as string;
      expect(msg).toContain(`cannot open the log ${log}: the filesystem is mounted read-only (EROFS); remount it read-write and retry`);
      expect(hashes(t.logDir)).toEqual(before);
    } finally {
      remount(t.logDir, 'rw');
    }
  });
});

const dockerSkip = notRoot ?? dockerUnavailable();
if (dockerSkip && !notRoot) console.warn(`resource-fault engine tests skipped: ${dockerSkip}`);
const dEngine = dockerSkip ? describe.skip : describe;

dEngine("the engine's files on a full or read-only filesystem, with a real dockerd", () => {
  let sb: Sandbox;
  let certs: CertSet;
  let port: number;
  let etcDocker: string;
  const log = silentLogger();
  const run = (labels: string[]) =>
    reconcileEngine(parseSettings({ docker: { port, options: labels.flatMap((l) => ['--label', l]) } }, { certs: certsSetting(certs) }), sb.ports(), {
      log,
      stateDir: sb.stateDir,
      layout: sb.layout,
    });

  async function serving(): Promise<void> {
    expect(await socketGet(sb.socket, '/_ping')).toBe('OK');
    expect(await tlsPing(port, { ca: pem(certs.ca), cert: pem(certs.clientCert), key: pem(certs.clientKey) })).toEqual({ ok: true, status: 200 });
  }

  beforeAll(async () => {
    sb = createSandbox();
    certs = makeCertSet(path.join(sb.dir, 'certs'));
    port = await freePort();
    // /etc/docker of the sandbox root on its own 1 MiB tmpfs, holding what it had (a fresh
    // machine's: nothing the extension writes; the first run creates it all on the tmpfs).
    etcDocker = path.join(sb.root, 'etc/docker');
    const had = new Map(readdirSync(etcDocker).map((n) => [n, readFileSync(path.join(etcDocker, n))]));
    mountTmpfs(etcDocker, '1m');
    for (const [n, data] of had) writeFileSync(path.join(etcDocker, n), data);
    const out = await run(['fault=0']);
    expect(out.restarted).toBe('start');
    await serving();
  });
  afterAll(async () => {
    if (etcDocker) unmount(etcDocker);
    await sb?.cleanup();
  });

  test('a full /etc/docker: the error names the file; the files are byte-identical; dockerd serves with the same pid', async () => {
    const pid = sb.pid();
    const before = hashes(etcDocker);
    const filler = fill(etcDocker);
    try {
      const err = await run(['fault=1']).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'EWRITE' });
      expect((err as Error).message).toMatch(/cannot write \/etc\/docker\/daemon\.json: the filesystem is full \(ENOSPC\)/);
      expect((err as Error).message).toContain('The previous files were restored; dockerd was not restarted');
      expect(hashes(etcDocker)).toEqual(before);
      expect(readdirSync(etcDocker).filter((n) => n.endsWith('.tmp'))).toEqual([]);
      expect(sb.pid()).toBe(pid);
      await serving();
    } finally {
      rmSync(filler);
    }
  });

  test('a read-only /etc/docker: the same, with EROFS', async () => {
    const pid = sb.pid();
    const before = hashes(etcDocker);
    remount(etcDocker, 'ro');
    try {
      const err = await run(['fault=2']).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'EWRITE' });
      expect((err as Error).message).toMatch(/cannot write \/etc\/docker\/daemon\.json: the filesystem is mounted read-only \(EROFS\)/);
      expect(hashes(etcDocker)).toEqual(before);
      expect(sb.pid()).toBe(pid);
      await serving();
    } finally {
      remount(etcDocker, 'rw');
    }
  });

  test("a read-only bind mount over the engine's state folder: refused before any file is touched", async () => {
    const pid = sb.pid();
    const before = hashes(etcDocker);
    const stateDir = sb.fs.resolve(sb.stateDir);
    const stateBefore = hashes(stateDir);
    bindReadOnly(stateDir);
    try {
      const err = await run(['fault=3']).catch((e: unknown) => e);
      expect((err as Error).message).toMatch(new RegExp(`cannot write ${sb.stateDir}/\\S+: the filesystem is mounted read-only \\(EROFS\\)`));
      expect(hashes(etcDocker)).toEqual(before);
      expect(hashes(stateDir)).toEqual(stateBefore);
      expect(sb.pid()).toBe(pid);
      await serving();
    } finally {
      unmount(stateDir);
    }
  });

  test('space back and writable again: the change applies (no leftover record blocks it)', async () => {
    const out = await run(['fault=4']);
    expect(out.changed).toBe(true);
    expect(JSON.parse(sb.daemonJson()).labels).toEqual(['fault=4']);
    await serving();
  });
});
