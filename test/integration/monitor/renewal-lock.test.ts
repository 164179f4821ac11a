// (integration) The monitor's renewal of the certificate issued on the VM ("certs.issuer") and the
// enable worker never interleave: both hold the one worker lock. The REAL monitor process (the
// built bundle, started by enable as where there is no systemd) against a REAL dockerd (the direct
// manager), a CA and issuer made with the real openssl. A renewal is due 15 s after each issuance
// (docker.tls.testValiditySeconds 30, renewBefore "1/2"); the test hook
// DOCKER_EXTENSION_TEST_RENEWAL_GATE (handler/monitor/test-gate.ts) holds a renewal after it wrote
// the new pair and before it restarts dockerd, so an enable or a kill -9 lands exactly there.
// Nothing is timed: each step waits for what the previous one leaves on disk.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { runApp } from '../../../handler/app.js';
import { isAlive } from '../../../handler/system/pid-file.js';
import { liveOwner, procStartTime, readLockOwner, type LockOwner } from '../../../handler/system/worker-lock.js';
import { dockerUnavailable, freePort, presentedFingerprint } from '../../support/docker-daemon.js';
import { makeMonitorRig, type MonitorRig } from '../../support/monitor-rig.js';
import { makeWaagentCertificate } from '../../support/openssl-vectors.js';
import { issuerPki } from '../../support/tls-certs.js';

const skip = dockerUnavailable();
const d = skip ? describe.skip : describe;
if (skip) console.warn(`(integration) renewal-lock tests skipped: ${skip}`);

async function until<T>(what: string, timeoutMs: number, probe: () => T | undefined | Promise<T | undefined>, context: () => Promise<string> = async () => ''): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms\n${await context()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

d('(integration) the monitor renews under the worker lock (direct manager, real dockerd)', () => {
  let work: string;
  let rig: MonitorRig;
  let port: number;
  let prot: unknown;
  let client: { ca: string; cert: string; key: string };
  let gate: string;
  let lockFile: string;
  let holder: ChildProcess | undefined;
  const pub = () => ({ docker: { port, tls: { testValiditySeconds: 30, renewBefore: '1/2' } } });
  const certFile = () => rig.sb.fs.resolve('/etc/docker/cert.pem');
  const fileFingerprint = () => new X509Certificate(readFileSync(certFile())).fingerprint256;
  const monitorLog = () => rig.monitorLog();
  const handlerLog = () => {
    try {
      return readFileSync(path.join(rig.tree.logDir, 'handler.log'), 'utf8');
    } catch {
      return '';
    }
  };
  const logLines = async (event: string) => (await monitorLog()).split('\n').filter((l) => l.includes(`"event":"${event}"`));
  const figures: Record<string, number> = {};

  /** Closes the gate and waits until a renewal stops at it: the new pair written, dockerd not restarted. */
  async function holdNextRenewal(): Promise<void> {
    rmSync(`${gate}.reached`, { force: true });
    writeFileSync(gate, '');
    await until('a renewal held at the gate', 40_000, () => existsSync(`${gate}.reached`), monitorLog);
  }

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'renewal-lock-it-'));
    gate = path.join(work, 'renewal-gate');
    const cert = await makeWaagentCertificate(work);
    ({ prot, client } = issuerPki(path.join(work, 'pki')));
    rig = await makeMonitorRig(cert, { env: { DOCKER_EXTENSION_TEST_RENEWAL_GATE: gate } });
    lockFile = path.join(rig.tree.libDir, rig.tree.name, 'enable-worker.lock');
    port = await freePort();
    const r = await rig.enable(0, pub(), prot);
    expect(r.exitCode).toBe(0);
    await rig.waitHeartbeat((h) => h.status === 'Ready' && /issued on this VM, valid until .* UTC\)/.test(h.message), 15_000, 'Ready with the issued certificate');
  }, 90_000);

  afterAll(async () => {
    console.log(`renewal-lock figures (ms): ${JSON.stringify(figures)}`);
    holder?.kill('SIGKILL');
    if (gate) rmSync(gate, { force: true });
    await rig?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  }, 60_000);

  test('an enable holds the worker lock while a renewal is due: no renewal, said in the log, the heartbeat kept fresh; released, the renewal follows', async () => {
    const first = new X509Certificate(readFileSync(certFile()));
    const dueAt = Date.parse(first.validTo) - 15_000;
    // Another process holds the lock, as an enable worker's record says it does.
    holder = spawn('sleep', ['600'], { stdio: 'ignore' });
    await new Promise((r) => holder!.once('spawn', r));
    const owner: LockOwner = { pid: holder.pid!, procStart: procStartTime(holder.pid!)!, seq: 0, version: '1.0.0', startedAt: new Date().toISOString(), kind: 'enable' };
    writeFileSync(lockFile, JSON.stringify(owner));

    const [line] = await until('the renewal put off', 40_000, async () => {
      const l = await logLines('certificate renewal put off');
      return l.length ? l : undefined;
    }, monitorLog);
    expect(JSON.parse(line!)).toMatchObject({ why: `the run for configuration 0 (pid ${holder.pid}) holds the worker lock`, holderKind: 'enable', holderPid: holder.pid });
    // The round that put it off wrote the heartbeat all the same, after the renewal fell due.
    const { hb } = await rig.waitHeartbeat((h) => h.mtimeMs >= dueAt && /Applying configuration 0/.test(h.message), 10_000, 'fresh while the lock is held');
    expect(hb.status).toBe('Ready');
    expect(fileFingerprint()).toBe(first.fingerprint256);
    expect(await presentedFingerprint(port, client)).toBe(first.fingerprint256);

    // Released as a worker releases it: its record removed. That change wakes the monitor.
    const releasedAt = Date.now();
    rmSync(lockFile);
    holder.kill('SIGKILL');
    holder = undefined;
    const renewed = await until('the renewal after the release', 30_000, async () => (await logLines('server certificate renewed')).length === 1 || undefined, monitorLog);
    expect(renewed).toBe(true);
    figures.releaseToRenewed = Date.now() - releasedAt;
    const second = fileFingerprint();
    expect(second).not.toBe(first.fingerprint256);
    expect(await presentedFingerprint(port, client)).toBe(second);
    await rig.waitHeartbeat((h) => h.status === 'Ready' && /last renewed .* UTC\)/.test(h.message) && !/Changed outside/.test(h.message), 15_000, 'Ready, renewed');
    // Said once for that holder, not at every round.
    expect(await logLines('certificate renewal put off')).toHaveLength(1);
    expect(await liveOwner(lockFile)).toBeUndefined();
  }, 120_000);

  test('an enable that starts during a renewal waits for it, then finds the renewed pair applied: dockerd restarted once, by the renewal', async () => {
    await holdNextRenewal();
    const monitor = (await rig.monitor())!;
    expect(await liveOwner(lockFile)).toMatchObject({ pid: monitor.pid, kind: 'monitor', task: 'renew-certificate' });
    const written = fileFingerprint();
    const served = await presentedFingerprint(port, client);
    expect(served).not.toBe(written); // the new pair is on disk, dockerd not restarted yet
    const starts = rig.sb.starts();

    let settled = false;
    const enable = rig.enable(1, pub(), prot).finally(() => (settled = true));
    const waiting = await until('the worker waiting for the lock', 30_000, () => handlerLog().split('\n').find((l) => l.includes('"event":"waiting for the worker lock"')));
    expect(JSON.parse(waiting)).toMatchObject({ holderKind: 'monitor', holderPid: monitor.pid, holder: `the monitor renewing the server certificate (pid ${monitor.pid})` });
    expect(settled).toBe(false);
    expect(fileFingerprint()).toBe(written);

    rmSync(gate);
    const r = await enable;
    expect(r.exitCode).toBe(0);
    const [st] = await rig.tree.readStatus(1);
    expect(st.status.status).toBe('success');
    // One start of dockerd since the gate: the renewal's. The enable kept the pair and restarted nothing.
    expect(rig.sb.starts()).toBe(starts + 1);
    expect(fileFingerprint()).toBe(written);
    expect(await presentedFingerprint(port, client)).toBe(written);
    expect(JSON.stringify(st)).toMatch(/server certificate issued on this VM by .* kept: valid until/);
    await rig.waitHeartbeat((h) => h.status === 'Ready' && /Configuration 1 applied/.test(h.message) && !/Changed outside/.test(h.message), 15_000, 'Ready with configuration 1');
  }, 120_000);

  test('a monitor killed with -9 mid-renewal leaves the lock free; the next enable brings a monitor whose round finishes the renewal', async () => {
    await holdNextRenewal();
    const monitor = (await rig.monitor())!;
    const written = fileFingerprint();
    const dockerd = rig.sb.pid();
    process.kill(monitor.pid, 'SIGKILL');
    await until('the monitor gone', 10_000, () => !isAlive(monitor) || undefined);
    // Its record stays, with nobody alive behind it: the lock is free.
    expect(await readLockOwner(lockFile)).toMatchObject({ pid: monitor.pid, kind: 'monitor' });
    expect(await liveOwner(lockFile)).toBeUndefined();
    expect(rig.sb.pid()).toBe(dockerd);
    expect(await presentedFingerprint(port, client)).not.toBe(written);
    rmSync(gate);

    // The agent's next enable of the same configuration: nothing to apply, the monitor comes back.
    const r = await runApp(['enable'], rig.deps(1));
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/already applied/);
    const [line] = await until('the interrupted renewal finished', 30_000, async () => {
      const l = (await logLines('server certificate renewed')).filter((x) => /was interrupted/.test(x));
      return l.length ? l : undefined;
    }, monitorLog);
    expect(JSON.parse(line!).reason).toMatch(new RegExp(`the renewal by the monitor \\(pid ${monitor.pid}, .*\\) was interrupted`));
    const now = fileFingerprint();
    expect(await presentedFingerprint(port, client)).toBe(now);
    await rig.waitHeartbeat((h) => h.status === 'Ready' && /last renewed .* UTC\)/.test(h.message) && !/Changed outside/.test(h.message), 15_000, 'Ready, renewed');
    expect(await readLockOwner(lockFile)).toBeUndefined();
  }, 120_000);
});
