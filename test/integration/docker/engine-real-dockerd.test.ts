// (integration) The engine against the REAL Debian docker.io dockerd 20.10, through the direct
// service manager, fully isolated under one temp dir (see test/support/docker-daemon.ts).
// Skipped, not failed, where there is no root or no dockerd.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import * as net from 'node:net';
import * as path from 'node:path';
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import * as tls from 'node:tls';
import { parseSettings } from '../../../handler/agent/settings.js';
import { reconcileEngine, removeEngineConfig } from '../../../handler/docker/engine.js';
import { ConfigError, StepFailedError } from '../../../handler/errors.js';
import { silentLogger } from '../../../handler/log/logger.js';
import { createSandbox, dockerUnavailable, freePort, socketGet, tlsPing, waitPing, type Sandbox } from '../../support/docker-daemon.js';
import { busyboxUnavailable, containerState, removeContainer, startSleeper } from '../../support/busybox-container.js';
import { certsSetting, makeCa, makeCertSet, makeLeaf, pem, type CertSet } from '../../support/tls-certs.js';

const skip = dockerUnavailable();
const d = skip ? describe.skip : describe;
if (skip) console.warn(`(integration) real-dockerd engine tests skipped: ${skip}`);

d('(integration) engine with a real dockerd', () => {
  let sb: Sandbox;
  let certs: CertSet;
  let other: { ca: string; caKey: string };
  let otherClient: { cert: string; key: string };
  let port: number;
  const log = silentLogger();
  const settingsWith = (pub: Record<string, unknown>, prot: Record<string, unknown> = { certs: certsSetting(certs) }) => parseSettings(pub, prot);
  const run = (pub: Record<string, unknown>, prot?: Record<string, unknown>) =>
    reconcileEngine(settingsWith(pub, prot), sb.ports(), { log, stateDir: sb.stateDir, layout: sb.layout });

  beforeAll(async () => {
    sb = createSandbox();
    certs = makeCertSet(path.join(sb.dir, 'certs'));
    other = makeCa(path.join(sb.dir, 'other'), 'other-ca');
    otherClient = makeLeaf(path.join(sb.dir, 'other'), other, 'other-client', { eku: 'clientAuth' });
    port = await freePort();
  });

  afterAll(async () => {
    await sb?.cleanup();
  });

  test('first enable (no daemon.json before) starts dockerd with TLS; mTLS accepted, no cert and foreign-CA cert refused', async () => {
    expect(await sb.fs.exists('/etc/docker/daemon.json')).toBe(false);
    const out = await run({ docker: { port } });
    expect(out.restarted).toBe('start');
    expect(out.changed).toBe(true);
    const verify = out.steps.find((s) => s.name === 'verify')!;
    expect(verify.message).toMatch(/local socket .* answers \(Docker 20\.10/);
    expect(verify.message).toMatch(/server certificate verified against the CA and is the configured one/);
    expect(verify.message).toMatch(/a client without a certificate is refused/);

    const ca = pem(certs.ca);
    expect(await tlsPing(port, { ca, cert: pem(certs.clientCert), key: pem(certs.clientKey) })).toEqual({ ok: true, status: 200 });
    expect((await tlsPing(port, { ca })).ok).toBe(false);
    expect((await tlsPing(port, { ca, cert: pem(otherClient.cert), key: pem(otherClient.key) })).ok).toBe(false);

    const dj = JSON.parse(sb.daemonJson());
    expect(Object.keys(dj).sort()).toEqual(['hosts', 'live-restore', 'tlscacert', 'tlscert', 'tlskey', 'tlsverify']);
    expect(dj.hosts).toEqual([`unix://${sb.socket}`, `tcp://127.0.0.1:${port}`]);
    expect(dj.tlsverify).toBe(true);
    const keyStat = await sb.fs.stat('/etc/docker/key.pem');
    expect(keyStat?.mode).toBe(0o600);
    expect((await sb.fs.stat('/etc/docker/cert.pem'))?.mode).toBe(0o644);
  });

  test('the same settings again restart nothing (pid unchanged)', async () => {
    const pid = sb.pid();
    const starts = sb.starts();
    const out = await run({ docker: { port } });
    expect(out.restarted).toBe('none');
    expect(out.changed).toBe(false);
    expect(sb.pid()).toBe(pid);
    expect(sb.starts()).toBe(starts);
  });

  test('a reloadable change (label) is applied with SIGHUP, pid unchanged', async () => {
    const pid = sb.pid();
    const out = await run({ docker: { port, options: ['--label', 'azure.test=1'] } });
    expect(out.restarted).toBe('reload');
    expect(sb.pid()).toBe(pid);
    const info = await socketGet(sb.socket, '/info');
    expect(JSON.parse(info).Labels).toContain('azure.test=1');
  });

  test('a reload dockerd refuses (a default runtime that does not exist) is an error with its reason; the files go back, nothing restarts', async () => {
    const pid = sb.pid();
    const starts = sb.starts();
    const before = sb.daemonJson();
    const err = await run({ docker: { port, options: ['--label', 'azure.test=2', '--default-runtime', 'nope'] } }).then(() => undefined, (e: unknown) => e as Error);
    expect(err).toBeInstanceOf(StepFailedError);
    expect(err?.message).toMatch(/dockerd refused to reload the new configuration: .*specified default runtime 'nope' does not exist/);
    expect(err?.message).toMatch(/previous files were restored; dockerd did not apply the change/);
    expect(sb.daemonJson()).toBe(before);
    expect(sb.pid()).toBe(pid);
    expect(sb.starts()).toBe(starts);
    expect(JSON.parse(await socketGet(sb.socket, '/info')).Labels).toEqual(['azure.test=1']);
  });

  test('a restart-requiring change restarts dockerd exactly once', async () => {
    const pid = sb.pid();
    const starts = sb.starts();
    const out = await run({ docker: { port, options: ['--label', 'azure.test=1', '--log-opt', 'max-size=10m'] } });
    expect(out.restarted).toBe('restart');
    expect(sb.pid()).not.toBe(pid);
    expect(sb.starts()).toBe(starts + 1);
    expect(JSON.parse(sb.daemonJson())['log-opts']).toEqual({ 'max-size': '10m' });
  });

  test('live-restore (the default): a restart for a changed option or a new certificate restarts no container', async () => {
    const skipBusybox = busyboxUnavailable();
    if (skipBusybox) throw new Error(skipBusybox);
    expect(JSON.parse(sb.daemonJson())['live-restore']).toBe(true);
    startSleeper(sb.socket, 'sleeper'); // no restart policy: without live-restore it would stay stopped
    const before = containerState(sb.socket, 'sleeper');
    expect(before.running).toBe(true);
    const pid = sb.pid();
    expect((await run({ docker: { port, options: ['--label', 'azure.test=1', '--log-opt', 'max-size=20m'] } })).restarted).toBe('restart');
    expect(sb.pid()).not.toBe(pid);
    const rotated = makeLeaf(certs.dir, certs, 'server-lr', { cn: 'localhost', san: 'IP:127.0.0.1,DNS:localhost', eku: 'serverAuth' });
    const pid2 = sb.pid();
    expect((await run({ docker: { port, options: ['--label', 'azure.test=1', '--log-opt', 'max-size=20m'] } }, { certs: { ...certsSetting(certs), cert: pem(rotated.cert), key: pem(rotated.key) } })).restarted).toBe('restart');
    expect(sb.pid()).not.toBe(pid2);
    expect(containerState(sb.socket, 'sleeper')).toEqual(before); // the same process, never stopped
    removeContainer(sb.socket, 'sleeper');
    // back to the certificates and options the later tests expect
    expect((await run({ docker: { port, options: ['--label', 'azure.test=1', '--log-opt', 'max-size=10m'] } })).restarted).toBe('restart');
  });

  test('a rotated server certificate restarts dockerd, which then serves the new one', async () => {
    const rotated = makeLeaf(certs.dir, certs, 'server2', { cn: 'localhost', san: 'IP:127.0.0.1,DNS:localhost', eku: 'serverAuth' });
    const prot = { certs: { ...certsSetting(certs), cert: pem(rotated.cert), key: pem(rotated.key) } };
    const out = await run({ docker: { port, options: ['--label', 'azure.test=1', '--log-opt', 'max-size=10m'] } }, prot);
    expect(out.restarted).toBe('restart');
    expect(out.steps.find((s) => s.name === 'service')!.message).toMatch(/TLS certificate files changed/);
    expect(out.steps.find((s) => s.name === 'verify')!.message).toMatch(/is the configured one/);
    const served = await servedFingerprint(port, pem(certs.ca));
    expect(served).toBe(new X509Certificate(pem(rotated.cert)).fingerprint256);
    // and back, so the later tests see the original set
    expect((await run({ docker: { port, options: ['--label', 'azure.test=1', '--log-opt', 'max-size=10m'] } })).restarted).toBe('restart');
  });

  test('bad certificates are refused before anything changes', async () => {
    const before = sb.daemonJson();
    const keyBefore = readFileSync(sb.fs.resolve('/etc/docker/key.pem'));
    const pid = sb.pid();
    const wrongKey = { ...certsSetting(certs), key: pem(certs.clientKey) };
    await expect(run({ docker: { port } }, { certs: wrongKey })).rejects.toThrow(/"certs\.key" does not belong to the certificate/);
    const foreign = { ...certsSetting(certs), ca: pem(other.ca) };
    await expect(run({ docker: { port } }, { certs: foreign })).rejects.toThrow(ConfigError);
    expect(sb.daemonJson()).toBe(before);
    expect(readFileSync(sb.fs.resolve('/etc/docker/key.pem')).equals(keyBefore)).toBe(true);
    expect(sb.pid()).toBe(pid);
  });

  test('a configuration that cannot start rolls back; the old daemon serves again; the error has dockerd\'s reason', async () => {
    const blocker = net.createServer();
    const taken = await new Promise<number>((r) => blocker.listen(0, '127.0.0.1', () => r((blocker.address() as net.AddressInfo).port)));
    const before = sb.daemonJson();
    try {
      const err = await run({ docker: { port: taken, options: ['--label', 'azure.test=1', '--log-opt', 'max-size=10m'] } }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(StepFailedError);
      expect((err as Error).message).toMatch(/address already in use/);
      expect((err as Error).message).toMatch(/previous configuration was restored and dockerd serves it again/);
    } finally {
      blocker.close();
    }
    expect(sb.daemonJson()).toBe(before);
    const ca = pem(certs.ca);
    expect(await tlsPing(port, { ca, cert: pem(certs.clientCert), key: pem(certs.clientKey) })).toEqual({ ok: true, status: 200 });
  });

  test('removeEngineConfig takes the TCP listener, certificates and the daemon.json it created away, serves the local socket; its containers keep running; dockerd restarts without the file', async () => {
    startSleeper(sb.socket, 'survivor');
    const before = containerState(sb.socket, 'survivor');
    const out = await removeEngineConfig(sb.ports(), { log, stateDir: sb.stateDir, removeEngine: false, layout: sb.layout });
    expect(out.restarted).toBe('restart');
    // live-restore went the way that stops no container: kept for the restart, switched off by SIGHUP
    expect(containerState(sb.socket, 'survivor')).toEqual(before);
    expect(JSON.parse(await socketGet(sb.socket, '/info')).LiveRestoreEnabled).toBe(false);
    removeContainer(sb.socket, 'survivor');
    // The extension created daemon.json and owns nothing in it any more: it goes, as on a VM.
    expect(await sb.fs.exists('/etc/docker/daemon.json')).toBe(false);
    expect(await sb.fs.exists('/etc/docker/key.pem')).toBe(false);
    expect(await socketGet(sb.socket, '/_ping')).toBe('OK');
    expect((await tlsPing(port, { ca: pem(certs.ca), cert: pem(certs.clientCert), key: pem(certs.clientKey) })).error).toBe('ECONNREFUSED');
    // The next restart (the monitor's, an admin's) has no daemon.json to name.
    const pid = sb.pid();
    await sb.services.restart();
    expect(sb.pid()).not.toBe(pid);
    expect(await waitPing(sb.socket)).toBe('OK');
  });
});

// Without systemd, on a machine with no daemon.json (a fresh docker.io install, or after the
// extension removed the file it created), dockerd must start, roll back and restart alike.
d('(integration) direct manager without daemon.json', () => {
  let sb: Sandbox;
  let certs: CertSet;
  const log = silentLogger();
  const run = (pub: Record<string, unknown>, prot: Record<string, unknown> = {}) =>
    reconcileEngine(parseSettings(pub, prot), sb.ports(), { log, stateDir: sb.stateDir, layout: sb.layout });
  const noFile = async () => !(await sb.fs.exists('/etc/docker/daemon.json'));

  beforeAll(() => {
    sb = createSandbox();
    certs = makeCertSet(path.join(sb.dir, 'certs'));
  });
  afterAll(async () => {
    await sb?.cleanup();
  });

  test('nothing to write (no certificates, live-restore left to the admin): enable starts dockerd with no daemon.json', async () => {
    expect(await noFile()).toBe(true);
    const out = await run({ docker: { liveRestore: false } });
    expect(out.restarted).toBe('start');
    expect(await noFile()).toBe(true);
    expect(await socketGet(sb.socket, '/_ping')).toBe('OK');
  });

  test('a TLS enable that cannot serve rolls back to no daemon.json, and dockerd serves again', async () => {
    const blocker = net.createServer();
    const taken = await new Promise<number>((r) => blocker.listen(0, '127.0.0.1', () => r((blocker.address() as net.AddressInfo).port)));
    try {
      const err = await run({ docker: { port: taken } }, { certs: certsSetting(certs) }).then(() => undefined, (e: unknown) => e as Error);
      expect(err?.message).toMatch(/address already in use/);
      expect(err?.message).toMatch(/previous configuration was restored and dockerd serves it again/);
    } finally {
      blocker.close();
    }
    expect(await noFile()).toBe(true);
    expect(await socketGet(sb.socket, '/_ping')).toBe('OK');
  });

  test('from TLS to no certificates: the listener closes, the daemon.json the extension created goes, dockerd restarts without it', async () => {
    const port = await freePort();
    expect((await run({ docker: { port } }, { certs: certsSetting(certs) })).restarted).not.toBe('none');
    const ca = pem(certs.ca);
    expect((await tlsPing(port, { ca, cert: pem(certs.clientCert), key: pem(certs.clientKey) })).ok).toBe(true);
    const out = await run({ docker: { liveRestore: false } });
    expect(out.restarted).toBe('restart');
    expect(await noFile()).toBe(true);
    expect((await tlsPing(port, { ca, cert: pem(certs.clientCert), key: pem(certs.clientKey) })).error).toBe('ECONNREFUSED');
    const pid = sb.pid();
    await sb.services.restart();
    expect(sb.pid()).not.toBe(pid);
    expect(await waitPing(sb.socket)).toBe('OK');
  });
});

// An admin's own TLS listener in daemon.json, and settings without certificates: the listener is
// not the extension's, so the proof follows what dockerd runs (a plain HTTP probe of it gets 400).
d('(integration) an admin\'s own TLS listener', () => {
  let sb: Sandbox;
  let admin: CertSet;
  let port: number;
  const log = silentLogger();

  beforeAll(async () => {
    sb = createSandbox();
    admin = makeCertSet(path.join(sb.dir, 'admin'));
    port = await freePort();
  });
  afterAll(async () => {
    await sb?.cleanup();
  });

  test('enable without certificates succeeds, keeps the listener, and says whose it is', async () => {
    const mine = { hosts: [`unix://${sb.socket}`, `tcp://127.0.0.1:${port}`], tlsverify: true, tlscacert: admin.ca, tlscert: admin.serverCert, tlskey: admin.serverKey };
    await sb.fs.writeAtomic('/etc/docker/daemon.json', `${JSON.stringify(mine, null, 2)}\n`, 0o644);
    await sb.services.start();
    expect(await waitPing(sb.socket)).toBe('OK');
    const client = { ca: pem(admin.ca), cert: pem(admin.clientCert), key: pem(admin.clientKey) };
    expect(await tlsPing(port, client)).toEqual({ ok: true, status: 200 });

    const out = await reconcileEngine(parseSettings({}, {}), sb.ports(), { log, stateDir: sb.stateDir, layout: sb.layout });
    expect(out.steps.find((s) => s.name === 'verify')?.message).toMatch(new RegExp(`127\\.0\\.0\\.1:${port} accepts connections \\(the TCP listener tcp://127\\.0\\.0\\.1:${port} from /etc/docker/daemon\\.json, not configured by the extension\\)`));
    expect(out.monitor?.tcp).toBeUndefined();
    expect(JSON.parse(sb.daemonJson())).toEqual({ ...mine, 'live-restore': true });
    expect(await tlsPing(port, client)).toEqual({ ok: true, status: 200 });
  });
});

// A dockerd an admin started by hand, with a flag of their own: not restarted with the manager's
// command line (which would drop the flag) without a word.
d('(integration) a dockerd started by hand', () => {
  let sb: Sandbox;
  let certs: CertSet;
  const log = silentLogger();

  beforeAll(() => {
    sb = createSandbox();
    certs = makeCertSet(path.join(sb.dir, 'certs'));
  });
  afterAll(async () => {
    await sb?.cleanup();
  });

  test('a change that needs a restart is refused, naming its flags and what to do; nothing changes', async () => {
    const spec = sb.services.spec;
    if (spec?.kind !== 'direct') throw new Error('the sandbox runs the direct manager');
    const child = spawn(spec.dockerdPath, ['--pidfile', spec.pidFile, ...spec.extraArgs, '--log-level', 'warn'], { detached: true, stdio: 'ignore' });
    child.unref();
    expect(await waitPing(sb.socket)).toBe('OK');
    const pid = sb.pid();
    const err = await reconcileEngine(parseSettings({ docker: { port: await freePort() } }, { certs: certsSetting(certs) }), sb.ports(), { log, stateDir: sb.stateDir, layout: sb.layout }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect(err?.message).toBe(
      `dockerd (pid ${pid}) was started by hand with --log-level warn, which the extension does not pass; to restart it with the extension's command line would drop those flags. ` +
        `Move them into "docker.options" (or daemon.json), stop that dockerd (kill ${pid}), and run enable again: the extension then starts dockerd itself. Nothing was changed.`,
    );
    expect(sb.pid()).toBe(pid);
    expect(await sb.fs.exists('/etc/docker/daemon.json')).toBe(false);
    expect(await sb.fs.exists('/etc/docker/key.pem')).toBe(false);
  });
});



function servedFingerprint(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
      const fp = s.getPeerCertificate().fingerprint256;
      s.destroy();
      resolve(fp);
    });
    s.on('error', reject);
  });
}
