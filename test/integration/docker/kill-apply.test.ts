// (integration) kill -9 after every step of an apply, then enable again, against the real sandbox
// dockerd: the next enable converges every time; at every kill each file holds its old or its new
// content, never a part; dockerd serves after the kill and is restarted at most once by the
// enable that follows (the interrupted run's own restart aside).
//
// The apply runs in a child process (test/support/apply-driver.ts, bundled with esbuild here,
// started by kill-driver.ts) that kills itself with SIGKILL right after its N-th finished step: the
// applier's test-only hook (handler/docker/progress.ts). N goes from 1 until the child finishes
// without being killed. kill-compose.test.ts does the same for the compose and login steps.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { X509Certificate } from 'node:crypto';
import * as tls from 'node:tls';
import { parseSettings } from '../../../handler/agent/settings.js';
import { reconcileEngine, removeEngineConfig } from '../../../handler/docker/engine.js';
import { readRollback } from '../../../handler/docker/state.js';
import { silentLogger } from '../../../handler/log/logger.js';
import { createSandbox, dockerUnavailable, freePort, tlsPing, waitPing, type Sandbox } from '../../support/docker-daemon.js';
import { bundleDriver } from '../../support/bundle-driver.js';
import { killedAfterStep, type DriverSettings } from '../../support/kill-driver.js';
import { RecordedPurgeRunner } from '../../support/recorded-purge.js';
import { certsSetting, makeCertSet, makeLeaf, pem, type CertSet } from '../../support/tls-certs.js';

const skip = dockerUnavailable();
const d = skip ? describe.skip : describe;
if (skip) console.warn(`(integration) kill -9 apply tests skipped: ${skip}`);

const FILES = ['/etc/docker/daemon.json', '/etc/docker/ca.pem', '/etc/docker/cert.pem', '/etc/docker/key.pem', '/var/lib/azure-docker-extension/engine-state.json'];
type Settings = DriverSettings;

d('(integration) kill -9 after every step of an apply', () => {
  let sb: Sandbox;
  let certs: CertSet;
  let driver: string;
  let a: Settings;
  let b: Settings;
  let rotated: { cert: string; key: string };
  const log = silentLogger();
  const enable = (s: Settings) => reconcileEngine(parseSettings(s.public, s.protected), sb.ports(), { log, stateDir: sb.stateDir, layout: sb.layout });
  const files = () => Object.fromEntries(FILES.map((f) => [f, readOrUndefined(sb.fs.resolve(f))]));

  /** Runs the apply in a child that SIGKILLs itself after its n-th step: 'killed', or how it ended. */
  const applyKilledAfter = (s: Settings, n: number) => killedAfterStep(driver, sb.dir, s, n);

  beforeAll(async () => {
    sb = createSandbox();
    certs = makeCertSet(path.join(sb.dir, 'certs'));
    rotated = makeLeaf(certs.dir, certs, 'server-b', { cn: 'localhost', san: 'IP:127.0.0.1,DNS:localhost', eku: 'serverAuth' });
    driver = path.join(sb.dir, 'apply-driver.cjs');
    await bundleDriver('test/support/apply-driver.ts', driver);
    a = { public: { docker: { port: await freePort(), options: ['--label', 'gen=a'] } }, protected: { certs: certsSetting(certs) } };
    b = {
      public: { docker: { port: await freePort(), options: ['--label', 'gen=b', '--log-opt', 'max-size=10m'] } },
      protected: { certs: { ...certsSetting(certs), cert: pem(rotated.cert), key: pem(rotated.key) } },
    };
  }, 60_000);

  afterAll(async () => {
    await sb?.cleanup();
  });

  test('a restart-requiring change (port, certificate, options): killed after each step, the next enable converges', async () => {
    await enable(a);
    const old = files();
    await enable(b);
    const neu = files();
    await enable(a);
    expect(files()).toEqual(old);

    const kills: string[] = [];
    for (let n = 1; n < 40; n++) {
      const r = applyKilledAfter(b, n);
      if (!r.killed) {
        expect(r.out).toMatch(/"ok":true/);
        break;
      }
      const rec = await readRollback(sb.fs, sb.stateDir);
      kills.push(rec?.done?.at(-1) ?? '(no record)');
      // Every file whole: the old or the new content, never a part, never an unparsable daemon.json.
      for (const f of FILES) expect({ f, ok: [old[f], neu[f]].includes(files()[f]) }).toEqual({ f, ok: true });
      // dockerd was not left down by the kill.
      expect(await waitPing(sb.socket, 300)).toBe('OK');

      const starts = sb.starts();
      const out = await enable(b);
      expect(sb.starts() - starts).toBeLessThanOrEqual(1);
      expect(out.steps.find((s) => s.name === 'verify')?.message).toMatch(/is the configured one/);
      expect(files()).toEqual(neu);
      expect(await servedFingerprint(b.public.docker as { port: number })).toBe(new X509Certificate(pem(rotated.cert)).fingerprint256);
      expect(await readRollback(sb.fs, sb.stateDir)).toBeUndefined();

      await enable(a);
      expect(files()).toEqual(old);
    }
    // snapshot, state, three certificate files, daemon.json, the restart, the proof.
    expect(kills).toEqual([
      'snapshot',
      'save-state',
      'write-file /etc/docker/cert.pem',
      'write-file /etc/docker/key.pem',
      'write-file /etc/docker/daemon.json',
      'restart-service',
      'verify',
    ]);
  }, 600_000);

  test('a change that cannot serve (port taken): killed after each step, the next enable rolls back to the configuration that served', async () => {
    await enable(a);
    const old = files();
    const blocker = net.createServer();
    const taken = await new Promise<number>((r) => blocker.listen(0, '127.0.0.1', () => r((blocker.address() as net.AddressInfo).port)));
    const c: Settings = { public: { docker: { port: taken, options: ['--label', 'gen=c'] } }, protected: a.protected };
    const kills: string[] = [];
    try {
      for (let n = 1; n < 40; n++) {
        const r = applyKilledAfter(c, n);
        if (!r.killed) {
          expect(r.out).toMatch(/previous configuration was restored and dockerd serves it again/);
          break;
        }
        kills.push((await readRollback(sb.fs, sb.stateDir))?.done?.at(-1) ?? '(no record)');
        // The next enable with the same settings: the files may already match (nothing to
        // write), but the interrupted run's snapshot is what served, and it comes back.
        const err = await enable(c).then(() => undefined, (e: unknown) => e as Error);
        expect(err?.message).toMatch(/address already in use/);
        expect(err?.message).toMatch(/previous configuration was restored and dockerd serves it again/);
        expect(files()).toEqual(old);
        const ca = pem(certs.ca);
        expect(await tlsPing((a.public.docker as { port: number }).port, { ca, cert: pem(certs.clientCert), key: pem(certs.clientKey) })).toEqual({ ok: true, status: 200 });
        expect(await readRollback(sb.fs, sb.stateDir)).toBeUndefined();
      }
    } finally {
      blocker.close();
    }
    expect(kills).toEqual(['snapshot', 'save-state', 'write-file /etc/docker/daemon.json', 'restart-service']);
  }, 600_000);
});

d('(integration) kill -9 after every step of an uninstall', () => {
  let sb: Sandbox;
  let certs: CertSet;
  let driver: string;
  const log = silentLogger();
  const files = () => Object.fromEntries(FILES.map((f) => [f, readOrUndefined(sb.fs.resolve(f))]));

  beforeAll(async () => {
    sb = createSandbox();
    certs = makeCertSet(path.join(sb.dir, 'certs'));
    driver = path.join(sb.dir, 'apply-driver.cjs');
    await bundleDriver('test/support/apply-driver.ts', driver);
  }, 60_000);
  afterAll(async () => {
    await sb?.cleanup();
  });

  test('killed after each step, the next uninstall converges: no listener, no files of the extension, dockerd serving', async () => {
    const port = await freePort();
    const a: Settings = { public: { docker: { port } }, protected: { certs: certsSetting(certs) } };
    const enable = () => reconcileEngine(parseSettings(a.public, a.protected), sb.ports(), { log, stateDir: sb.stateDir, layout: sb.layout });
    const remove = () => removeEngineConfig(sb.ports(), { log, stateDir: sb.stateDir, removeEngine: false, layout: sb.layout });
    const ca = pem(certs.ca);
    const client = { ca, cert: pem(certs.clientCert), key: pem(certs.clientKey) };
    await enable();
    const old = files();
    await remove();
    const gone = files();
    expect(Object.values(gone).every((v) => v === undefined)).toBe(true);
    const kills: string[] = [];
    for (let n = 1; n < 40; n++) {
      await enable();
      expect(files()).toEqual(old);
      const r = killedAfterStep(driver, sb.dir, { public: {}, protected: {}, remove: true }, n);
      if (!r.killed) {
        expect(r.out).toMatch(/"ok":true/);
        break;
      }
      // Two files have a stage between by design, each written whole: daemon.json during the
      // live-restore handover (only the key, set to false), the record of the extension's keys
      // until the handover is done.
      for (const f of FILES) {
        const now = files()[f];
        const handover = f === '/etc/docker/daemon.json' && now !== undefined && JSON.stringify(Object.keys(JSON.parse(now))) === '["live-restore"]';
        const record = f.endsWith('/engine-state.json') && now !== undefined && JSON.parse(now).version === 1;
        expect({ f, ok: [old[f], gone[f]].includes(now) || handover || record }).toEqual({ f, ok: true });
      }
      expect(await waitPing(sb.socket, 300)).toBe('OK');
      const starts = sb.starts();
      kills.push((await readRollback(sb.fs, sb.stateDir))?.done?.at(-1) ?? '(after the proof)');
      await remove();
      expect(sb.starts() - starts).toBeLessThanOrEqual(1);
      expect(files()).toEqual(gone);
      expect(await waitPing(sb.socket, 300)).toBe('OK');
      expect((await tlsPing(port, client)).error).toBe('ECONNREFUSED');
    }
    expect(kills).toEqual([
      'snapshot',
      'save-state',
      'write-file /etc/docker/daemon.json', // live-restore kept for the restart (the handover)
      'remove-file /etc/docker/ca.pem',
      'remove-file /etc/docker/cert.pem',
      'remove-file /etc/docker/key.pem',
      'save-state final',
      'restart-service',
      'verify',
      // the live-restore handover, once the restart is proved: "live-restore": false written,
      // SIGHUP, daemon.json removed, the record without the key; then the record forgotten
      'write-file /etc/docker/daemon.json',
      'live-restore-off',
      'remove-file /etc/docker/daemon.json',
      'save-state',
      'forget-state',
    ]);
  }, 600_000);

  /** The uninstall in a child killed after its n-th step; true when it was killed. */
  const uninstallKilledAfter = (n: number, removeEngine = false): boolean => {
    const r = killedAfterStep(driver, sb.dir, { public: {}, protected: {}, remove: true, ...(removeEngine ? { removeEngine } : {}) }, n);
    if (!r.killed) expect(r.out).toMatch(/"ok":true/);
    return r.killed;
  };

  test('dockerd stopped by the admin: killed after each step, the next uninstall gives the files back and leaves dockerd stopped', async () => {
    const port = await freePort();
    const a: Settings = { public: { docker: { port } }, protected: { certs: certsSetting(certs) } };
    const enable = () => reconcileEngine(parseSettings(a.public, a.protected), sb.ports(), { log, stateDir: sb.stateDir, layout: sb.layout });
    const remove = () => removeEngineConfig(sb.ports(), { log, stateDir: sb.stateDir, removeEngine: false, layout: sb.layout });
    const kills: string[] = [];
    for (let n = 1; n < 40; n++) {
      await enable();
      const old = files();
      await sb.services.stop();
      const killed = uninstallKilledAfter(n);
      if (!killed) break;
      for (const f of FILES) expect({ f, ok: [old[f], undefined].includes(files()[f]) }).toEqual({ f, ok: true });
      kills.push((await readRollback(sb.fs, sb.stateDir))?.done?.at(-1) ?? '(no record)');
      const out = await remove();
      expect(out.summary).toMatch(/dockerd was not running and was left stopped/);
      expect(Object.values(files()).every((v) => v === undefined)).toBe(true);
      expect(await readRollback(sb.fs, sb.stateDir)).toBeUndefined();
      expect((await sb.services.status()).active).toBe(false);
    }
    expect(Object.values(files()).every((v) => v === undefined)).toBe(true);
    expect(kills).toEqual([
      'snapshot',
      'save-state',
      'remove-file /etc/docker/daemon.json',
      'remove-file /etc/docker/ca.pem',
      'remove-file /etc/docker/cert.pem',
      'remove-file /etc/docker/key.pem',
      'forget-state',
    ]);
  }, 600_000);

  test('removeOnUninstall (purge answered from recordings): killed after each step, the next uninstall removes the engine and empties the data root', async () => {
    const port = await freePort();
    const a: Settings = { public: { docker: { port } }, protected: { certs: certsSetting(certs) } };
    const enable = () => reconcileEngine(parseSettings(a.public, a.protected), sb.ports(), { log, stateDir: sb.stateDir, layout: sb.layout });
    const kills: string[] = [];
    for (let n = 1; n < 40; n++) {
      await enable();
      // The sandbox's engine came with the machine; the record says the extension installed it (as
      // an enable that installed docker.io leaves it), and the package default data root holds images.
      const state = JSON.parse(files()['/var/lib/azure-docker-extension/engine-state.json']!);
      await sb.fs.writeAtomic(sb.stateDir + '/engine-state.json', JSON.stringify({ ...state, installed: { manager: 'apt', packages: ['docker.io'], source: 'distro', at: '2026-12-01T00:00:00Z' } }), 0o600);
      await sb.fs.mkdirp('/var/lib/docker/image/overlay2');
      await sb.fs.writeAtomic('/var/lib/docker/image/overlay2/repositories.json', '{}', 0o600);
      const old = files();
      const killed = uninstallKilledAfter(n, true);
      if (!killed) {
        expect(await sb.fs.exists('/var/lib/docker')).toBe(false);
        break;
      }
      for (const f of FILES) expect({ f, ok: [old[f], undefined].includes(files()[f]) || f.endsWith('/engine-state.json') }).toEqual({ f, ok: true });
      const rec = await readRollback(sb.fs, sb.stateDir);
      kills.push(rec?.done?.at(-1) ?? '(no record)');
      const runner = new RecordedPurgeRunner(sb.cmd, rec?.done?.includes('purge-engine'));
      const out = await removeEngineConfig({ ...sb.ports(), cmd: runner }, { log, stateDir: sb.stateDir, removeEngine: true, layout: sb.layout });
      // The engine's removal is finished by the next uninstall: purged (again, harmlessly, when the
      // killed run had purged), data root emptied, nothing of the extension left, dockerd stopped.
      if (!rec?.done?.includes('forget-state')) {
        expect(out.summary).toMatch(/^Docker engine \(docker\.io\) removed/);
        expect(runner.purges).toEqual([['apt-get', '-q', '-y', '-o', 'DPkg::Lock::Timeout=300', 'purge', 'docker.io']]);
      }
      expect(out.warnings.join()).not.toMatch(/not installed by the extension/);
      expect(await sb.fs.exists('/var/lib/docker')).toBe(false);
      expect(Object.values(files()).every((v) => v === undefined)).toBe(true);
      expect(await readRollback(sb.fs, sb.stateDir)).toBeUndefined();
      expect((await sb.services.status()).active).toBe(false);
    }
    expect(kills).toEqual([
      'snapshot',
      'stop-service',
      'save-state',
      'remove-file /etc/docker/daemon.json',
      'remove-file /etc/docker/ca.pem',
      'remove-file /etc/docker/cert.pem',
      'remove-file /etc/docker/key.pem',
      'purge-engine',
      'empty-data-root /var/lib/docker',
      'forget-state',
    ]);
  }, 600_000);
});

function readOrUndefined(p: string): string | undefined {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return undefined;
  }
}

function servedFingerprint({ port }: { port: number }): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const fp = s.getPeerCertificate().fingerprint256;
      s.destroy();
      resolve(fp);
    });
    s.on('error', reject);
  });
}
