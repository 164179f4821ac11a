// (integration) The monitor on this machine (no systemd: the direct manager) against a REAL
// dockerd: the real monitor process (the built bundle, started detached by enable as on a VM
// without systemd), real kills, real file edits, real TLS. Timings are measured and printed,
// never asserted beyond the promise the issue makes (NotReady within 10 s of dockerd's death).
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { cp, rm } from 'node:fs/promises';
import * as net from 'node:net';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { runApp, type AppDeps } from '../../../handler/app.js';
import { isAlive } from '../../../handler/system/pid-file.js';
import { addVersion } from '../../support/agent-tree.js';
import { dockerUnavailable, freePort } from '../../support/docker-daemon.js';
import { BUNDLE, makeMonitorRig, type MonitorRig } from '../../support/monitor-rig.js';
import { makeWaagentCertificate, type WaagentCertificate } from '../../support/openssl-vectors.js';
import { makeCa, makeLeaf, pem } from '../../support/tls-certs.js';

const skip = dockerUnavailable();
const d = skip ? describe.skip : describe;
if (skip) console.warn(`(integration) monitor tests skipped: ${skip}`);

const figures: Record<string, number> = {};

d('(integration) the monitor keeps the heartbeat true (direct manager, real dockerd)', () => {
  let work: string;
  let cert: WaagentCertificate;
  let rig: MonitorRig;
  let port: number;
  /** The agent's environment for the installed version (changes with the update test). */
  let agentDeps: (seq: number) => AppDeps;
  let installedDir = '';
  let longCerts: { ca: string; cert: string; key: string };
  let shortCerts: { ca: string; cert: string; key: string };
  const pub = () => ({ docker: { port } });

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'monitor-it-'));
    cert = await makeWaagentCertificate(work);
    const ca = makeCa(path.join(work, 'pki'), 'monitor-ca', 400);
    const long = makeLeaf(path.join(work, 'pki'), ca, 'server-long', { cn: 'localhost', san: 'IP:127.0.0.1,DNS:localhost', eku: 'serverAuth', days: 400 });
    const short = makeLeaf(path.join(work, 'pki'), ca, 'server-short', { cn: 'short-lived', san: 'IP:127.0.0.1,DNS:localhost', eku: 'serverAuth', days: 5 });
    longCerts = { ca: pem(ca.ca), cert: pem(long.cert), key: pem(long.key) };
    shortCerts = { ca: pem(ca.ca), cert: pem(short.cert), key: pem(short.key) };
    rig = await makeMonitorRig(cert);
    agentDeps = rig.deps;
    port = await freePort();
  }, 60_000);

  afterAll(async () => {
    console.log(`monitor figures (ms): ${JSON.stringify(figures)}`);
    await rig?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  }, 60_000);

  test('enable starts one monitor, which reports Ready with what serves', async () => {
    expect(await rig.monitor()).toBeUndefined();
    const r = await rig.enable(0, pub(), { certs: longCerts });
    expect(r.exitCode).toBe(0);
    expect(rig.tree.readStatus(0).then((s) => s[0].status.status)).resolves.toBe('success');
    const m = await rig.monitor();
    expect(m).toBeDefined();
    expect(m!.pid).not.toBe(process.pid); // a process of its own, not the test's
    expect(m!.extensionDir).toBe(rig.tree.extDir);
    // (the worker's own last heartbeat comes first; the monitor's says when it checked)
    const { hb } = await rig.waitHeartbeat((h) => h.status === 'Ready' && /serves .* Checked/.test(h.message), 15_000, 'Ready with what serves');
    expect(hb.message).toMatch(new RegExp(`Docker 20\\.10\\.\\S+ serves ${rig.sb.socket.replace(/[.]/g, '\\.')} and TLS on port ${port} \\(server certificate CN=localhost, valid until \\d{4}-\\d\\d-\\d\\d\\)\\. Configuration 0 applied`));
    const spec = JSON.parse(readFileSync(path.join(rig.tree.libDir, rig.tree.name, 'monitor.json'), 'utf8'));
    expect(spec.target.manager.kind).toBe('direct');
    expect(spec.target.files.map((f: { what: string }) => f.what)).toEqual(['daemon.json', 'CA certificate', 'server certificate', 'server private key']);
    // the key's content is never recorded, only its hash
    expect(JSON.stringify(spec)).not.toContain(longCerts.key.split('\n')[1]!);
  }, 90_000);

  test('kill -9 dockerd: NotReady naming dockerd within 10 s; the monitor restarts it and reports Ready again', async () => {
    const pid = rig.sb.pid()!;
    const before = rig.heartbeat()!;
    expect(before.status).toBe('Ready');
    const t0 = Date.now();
    process.kill(pid, 'SIGKILL');
    const down = await rig.waitHeartbeat((h) => h.status === 'NotReady', 10_000, 'NotReady after kill -9 dockerd');
    figures.deathToNotReady = Date.now() - t0;
    expect(down.hb.message).toMatch(/dockerd is not running since .* UTC/);
    expect(down.hb.message).toMatch(new RegExp(`pid ${pid} exited`));
    expect(down.hb.message).toMatch(/No service manager restarts it, so the monitor does\. Next attempt at .* UTC \(in \d s\)\. dockerd's log: /);
    const up = await rig.waitHeartbeat((h) => h.status === 'Ready' && /serves .* Checked/.test(h.message), 30_000, 'Ready after the monitor restarted dockerd');
    figures.deathToReadyAgain = Date.now() - t0;
    expect(up.hb.message).toMatch(/dockerd had exited; the monitor restarted it at .* UTC/);
    const newPid = rig.sb.pid()!;
    expect(newPid).not.toBe(pid);
    expect(readFileSync(`/proc/${newPid}/comm`, 'utf8').trim()).toBe('dockerd');
    // (the log line follows the socket's first answer, which the heartbeat may beat)
    const log = await eventually(() => rig.monitorLog(), (l) => /"event":"dockerd restarted by the monitor"/.test(l), 10_000);
    expect(log).toMatch(/"event":"restarting dockerd","attempt":1/);
  }, 60_000);

  test('daemon.json edited by hand: the heartbeat names it within 10 s, the log names the keys; nothing is reverted', async () => {
    const file = rig.sb.fs.resolve('/etc/docker/daemon.json');
    const original = readFileSync(file, 'utf8');
    const edited = { ...JSON.parse(original), debug: true, labels: ['edited=by-hand'] };
    const t0 = Date.now();
    writeFileSync(file, JSON.stringify(edited, null, 2));
    // Written in place as an editor may, so the monitor can catch the file empty for an instant
    // ("no longer valid JSON"); the settled report names the keys.
    const r = await rig.waitHeartbeat((h) => h.message.includes(`${file} was edited`) && h.message.includes('keys debug, labels)'), 10_000, 'naming the edited daemon.json');
    figures.editToHeartbeat = Date.now() - t0;
    expect(r.hb.status).toBe('Ready'); // dockerd still serves; drift is reported, not fought
    expect(r.hb.message).toMatch(/keys debug, labels\)/);
    expect(r.hb.message).toMatch(/the next enable re-applies the settings/);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(edited);
    const log = await rig.monitorLog();
    expect(log).toMatch(/"event":"changed outside the extension".*"keys":\["debug","labels"\]/);
    // put back: the drift note goes away
    writeFileSync(file, original);
    await rig.waitHeartbeat((h) => h.status === 'Ready' && !/Changed outside/.test(h.message), 10_000, 'without the drift note');
  }, 60_000);

  test('the key file made world-readable is named as a mode change', async () => {
    const key = rig.sb.fs.resolve('/etc/docker/key.pem');
    chmodSync(key, 0o644);
    const r = await rig.waitHeartbeat((h) => h.message.includes('mode changed from 0600 to 0644'), 10_000, 'naming the key mode');
    expect(r.hb.message).toMatch(/the private key is readable by other users/);
    chmodSync(key, 0o600);
    await rig.waitHeartbeat((h) => !/mode changed/.test(h.message), 10_000, 'without the mode note');
  }, 30_000);

  test('a server certificate expiring in days is named with its date', async () => {
    const r = await rig.enable(1, pub(), { certs: shortCerts });
    expect(r.exitCode).toBe(0);
    const { hb } = await rig.waitHeartbeat((h) => /expires in \d+ days?/.test(h.message) && /Configuration 1 applied/.test(h.message), 30_000, 'the expiry countdown');
    expect(hb.status).toBe('Ready');
    expect(hb.message).toMatch(/The server certificate \(CN=short-lived\) expires in [45] days \(\d{4}-\d\d-\d\d\): renew certs\.cert and certs\.key in the protected settings\./);
  }, 90_000);

  test('a failed enable: NotReady naming the configuration, while Docker serves the previous one', async () => {
    const blocker = net.createServer();
    const taken = await new Promise<number>((r) => blocker.listen(0, '127.0.0.1', () => r((blocker.address() as net.AddressInfo).port)));
    try {
      const r = await rig.enable(2, { docker: { port: taken } }, { certs: shortCerts });
      expect(r.exitCode).toBe(0); // the foreground validated and handed over; the worker failed
      expect((await rig.tree.readStatus(2))[0].status.status).toBe('error');
      const { hb } = await rig.waitHeartbeat((h) => /Configuration 2 was not applied/.test(h.message) && /Checked/.test(h.message), 15_000, 'naming the failed configuration');
      expect(hb.status).toBe('NotReady');
      expect(hb.message).toMatch(/address already in use/);
      // what serves is still the configuration before it
      expect(hb.message).toMatch(new RegExp(`TLS on port ${port} .*Configuration 1 applied|serves .* and TLS on port ${port}`));
    } finally {
      blocker.close();
    }
    expect((await rig.enable(3, pub(), { certs: longCerts })).exitCode).toBe(0);
    await rig.waitHeartbeat((h) => h.status === 'Ready' && /Configuration 3 applied .* Checked/.test(h.message), 30_000, 'Ready with configuration 3');
  }, 90_000);

  test('disable: NotReady saying so, and a dockerd that dies is not restarted; the next enable starts it', async () => {
    expect((await runApp(['disable'], rig.deps(3))).exitCode).toBe(0);
    await rig.waitHeartbeat((h) => h.status === 'NotReady' && /The Docker extension is disabled/.test(h.message) && /Checked/.test(h.message), 10_000, 'disabled');
    const pid = rig.sb.pid()!;
    const logBefore = (await rig.monitorLog()).length;
    process.kill(pid, 'SIGKILL');
    const { hb } = await rig.waitHeartbeat((h) => /dockerd is not running/.test(h.message), 10_000, 'dockerd down while disabled');
    expect(hb.message).toMatch(/It is not restarted: the extension is disabled/);
    await new Promise((r) => setTimeout(r, 3_000)); // past the first restart delay
    expect(rig.sb.pid()).toBe(pid); // the stale pid file: nobody started a new dockerd
    expect((await rig.monitorLog()).slice(logBefore)).not.toMatch(/"event":"restarting dockerd"/);
    // the agent enables again (same sequence number: the status says Disable, so enable runs)
    expect((await runApp(['enable'], rig.deps(3))).exitCode).toBe(0);
    await rig.waitHeartbeat((h) => h.status === 'Ready' && /serves .* Checked/.test(h.message), 30_000, 'Ready after enable');
    expect(rig.sb.pid()).not.toBe(pid);
  }, 90_000);

  test('an enable worker killed mid-apply (its lock left behind, its pid gone): NotReady until the next enable finishes', async () => {
    const lock = path.join(rig.tree.libDir, rig.tree.name, 'enable-worker.lock');
    const dead = spawn('true');
    await new Promise((r) => dead.once('exit', r));
    writeFileSync(lock, JSON.stringify({ pid: dead.pid, procStart: '1', seq: 3, version: '1.0.0', startedAt: new Date().toISOString(), kind: 'enable' }));
    const { hb } = await rig.waitHeartbeat((h) => /Applying configuration 3 was interrupted/.test(h.message), 10_000, 'naming the interrupted apply');
    expect(hb.status).toBe('NotReady');
    // what a killed worker leaves in the status file, and what makes the agent's next enable retry
    const st = path.join(rig.tree.extDir, 'status', '3.status');
    writeFileSync(st, readFileSync(st, 'utf8').replace('"status":"success"', '"status":"transitioning"'));
    expect((await runApp(['enable'], rig.deps(3))).exitCode).toBe(0);
    await rig.waitHeartbeat((h) => h.status === 'Ready' && /Configuration 3 applied .* Checked/.test(h.message), 30_000, 'Ready after the retried enable');
    expect(existsSync(lock)).toBe(false);
  }, 60_000);

  test('kill -9 the monitor: the next same-sequence enable (a no-op) brings it back', async () => {
    const m = (await rig.monitor())!;
    process.kill(m.pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    expect(await rig.monitor()).toBeUndefined();
    const t0 = Date.now();
    const r = await runApp(['enable'], rig.deps(3));
    figures.noopEnableRestartingMonitor = Date.now() - t0;
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/already applied/);
    const again = await rig.monitor();
    expect(again).toBeDefined();
    expect(again!.pid).not.toBe(m.pid);
    // and a no-op with the monitor running spawns nothing
    const r2 = await runApp(['enable'], rig.deps(3));
    expect(r2.stdout).toMatch(/already applied/);
    expect((await rig.monitor())!.pid).toBe(again!.pid);
  }, 60_000);

  test('eight concurrent enables (the packaged entry point, separate processes) leave exactly one monitor', async () => {
    const m = (await rig.monitor())!;
    process.kill(m.pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', ...rig.tree.env(3), DOCKER_EXTENSION_ENGINE: 'off' };
    const runs = await Promise.all(
      Array.from({ length: 8 }, () =>
        new Promise<{ code: number | null; out: string }>((resolve) => {
          const c = spawn(process.execPath, [BUNDLE, 'enable'], { env, cwd: rig.tree.extDir });
          let out = '';
          c.stdout.on('data', (b: Buffer) => (out += b.toString()));
          c.on('close', (code) => resolve({ code, out }));
        }),
      ),
    );
    expect(runs.map((x) => x.code)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    for (const x of runs) expect(x.out).toMatch(/already applied/);
    await new Promise((r) => setTimeout(r, 1000)); // any twin would have taken its lock by now
    const monitors = listMonitors(rig.tree.extDir);
    expect(monitors).toHaveLength(1);
    expect((await rig.monitor())!.pid).toBe(monitors[0]);
  }, 60_000);

  test("an update: the old version's uninstall keeps the monitor, the new version's enable takes it over", async () => {
    const old = (await rig.monitor())!;
    const t = rig.tree;
    const newDir = await addVersion(t.libDir, t.logDir, t.name, '1.0.1');
    await cp(path.join(t.extDir, 'config', '3.settings'), path.join(newDir, 'config', '4.settings'));
    const nd = (seq: number): AppDeps =>
      rig.deps(seq, { env: { ...rig.deps(seq).env, AZURE_GUEST_AGENT_EXTENSION_PATH: newDir, AZURE_GUEST_AGENT_EXTENSION_VERSION: '1.0.1' }, codeDir: path.join(newDir, 'dist') });
    expect((await runApp(['disable'], rig.deps(4))).exitCode).toBe(0);
    expect((await runApp(['update'], nd(4))).exitCode).toBe(0);
    expect((await runApp(['uninstall'], rig.deps(4))).stdout).toMatch(/part of an update/);
    expect(isAlive(old)).toBe(true); // kept through the old version's uninstall
    await rm(t.extDir, { recursive: true, force: true }); // the agent removes the old version
    expect((await runApp(['install'], nd(4))).exitCode).toBe(0);
    expect((await runApp(['enable'], nd(4))).exitCode).toBe(0);
    const now = (await rig.monitor())!;
    expect(now.extensionDir).toBe(newDir);
    expect(now.version).toBe('1.0.1');
    expect(isAlive(old)).toBe(false);
    const hbFile = path.join(newDir, 'heartbeat.log');
    const until = Date.now() + 15_000;
    let hb: { status: string; formattedMessage: { message: string } } | undefined;
    while (Date.now() < until) {
      hb = existsSync(hbFile) ? JSON.parse(readFileSync(hbFile, 'utf8'))[0].heartbeat : undefined;
      if (hb && /Configuration 4 applied .* Checked/.test(hb.formattedMessage.message)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(hb?.status).toBe('Ready');
    expect(hb?.formattedMessage.message).toMatch(/Configuration 4 applied .* Checked/);
    expect(listMonitors(newDir)).toEqual([now.pid]);
    agentDeps = nd;
    installedDir = newDir;
  }, 90_000);

  test('uninstall stops the monitor and leaves none; the heartbeat is no longer rewritten', async () => {
    const m = (await rig.monitor())!;
    const r = await runApp(['uninstall'], agentDeps(4));
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^uninstall: Extension configuration removed/);
    expect(isAlive(m)).toBe(false);
    expect(listMonitors(installedDir)).toEqual([]);
    expect(existsSync(path.join(rig.tree.libDir, rig.tree.name))).toBe(false);
  }, 60_000);
});

async function eventually<T>(get: () => Promise<T>, ok: (v: T) => boolean, ms: number): Promise<T> {
  const until = Date.now() + ms;
  let v = await get();
  while (!ok(v) && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 50));
    v = await get();
  }
  return v;
}

/** Monitor processes for this extension directory, found the way an admin would (ps). */
function listMonitors(extDir: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      const env = readFileSync(`/proc/${p}/environ`, 'utf8');
      if (cmd.includes('__monitor') && env.includes(`AZURE_GUEST_AGENT_EXTENSION_PATH=${extDir}\0`)) out.push(Number(p));
    } catch {
      // gone
    }
  }
  return out;
}
