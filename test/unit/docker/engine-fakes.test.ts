// Engine flows on a temp root with a fake service manager and probe: uninstall variants,
// self-healing of an unhealthy daemon, cancellation.
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseSettings } from '../../../handler/agent/settings.js';
import { planEngine, reconcileEngine, removeEngineConfig } from '../../../handler/docker/engine.js';
import { StepFailedError } from '../../../handler/errors.js';
import { silentLogger } from '../../../handler/log/logger.js';
import { RootedFileSystem } from '../../../handler/system/fs.js';
import { readRollback, snapshot, writeRollback } from '../../../handler/docker/state.js';
import { APT_PURGE_DOCKER_IO } from '../../support/recorded-purge.js';
import { FakeClock, FakeCommandRunner, FakeProbe, FakeServiceManager } from '../../support/docker-fakes.js';

let dir: string;
let fs: RootedFileSystem;
const log = silentLogger();
const cmd = () =>
  new FakeCommandRunner().on('dpkg-query', { stdout: 'docker.io\tii \t20.10.24+dfsg1-1+deb12u1+b6\n' }).on('dpkg --print-architecture', { stdout: 'amd64' });

// apt's words when unattended-upgrades holds the dpkg lock past DPkg::Lock::Timeout, and when dpkg
// was killed mid-run (the same messages install.test.ts replays for the install).
const APT_FRONTEND_LOCKED = {
  exitCode: 100,
  stderr: 'E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 2279 (unattended-upgr)\nE: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), is another process using it?\n',
};
const DPKG_INTERRUPTED = { exitCode: 100, stderr: "E: dpkg was interrupted, you must manually run 'dpkg --configure -a' to correct the problem.\n" };

beforeEach(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'engine-'));
  fs = new RootedFileSystem(dir);
  await fs.mkdirp('/etc/docker');
  await fs.writeAtomic('/etc/os-release', readFileSync(new URL('../../fixtures/os-release/debian-12', import.meta.url), 'utf8'), 0o644);
  await fs.writeAtomic('/etc/docker/daemon.json', '{"log-level":"warn"}\n', 0o644);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test('unchanged configuration but dockerd does not answer: restarted once, then verified', async () => {
  const services = new FakeServiceManager();
  const probe = new FakeProbe();
  const settings = parseSettings({ docker: { options: ['--label a=1'] } }, {});
  await reconcileEngine(settings, { fs, cmd: cmd(), clock: new FakeClock(), services, probe }, { log, stateDir: '/state' });
  services.calls.length = 0;
  // Active but silent until restarted: the bounded no-op check times out, then one restart heals it.
  probe.pingSocket = async () => (services.calls.includes('restart') ? { ok: true, detail: 'OK', version: '20.10.24' } : { ok: false, detail: 'EOF' });
  const clock = new FakeClock();
  const out = await reconcileEngine(settings, { fs, cmd: cmd(), clock, services, probe }, { log, stateDir: '/state' });
  expect(out.restarted).toBe('restart');
  expect(services.calls.filter((c) => c === 'restart')).toEqual(['restart']);
  expect(clock.totalSlept).toBeGreaterThanOrEqual(10_000); // waited with the Clock, not for real
});

test('an apply killed after writing and before restarting: the retry that fails goes back to the snapshot it left', async () => {
  const services = new FakeServiceManager();
  const probe = new FakeProbe();
  probe.pingSocket = async () => (services.active ? { ok: true, detail: 'OK', version: '20.10.24' } : { ok: false, detail: 'ECONNREFUSED' });
  const ports = () => ({ fs, cmd: cmd(), clock: new FakeClock(), services, probe });
  const A = parseSettings({ docker: { options: ['--log-level=debug'] } }, {});
  const B = parseSettings({ docker: { options: ['--log-level=error'] } }, {});
  await reconcileEngine(A, ports(), { log, stateDir: '/state' });
  const aFiles = await snapshot(fs, ['/etc/docker/daemon.json', '/state/engine-state.json']);
  // The killed run: B's files on disk, A's snapshot still recorded, dockerd never restarted.
  await reconcileEngine(B, ports(), { log, stateDir: '/state' });
  await writeRollback(fs, '/state', { createdAt: '2026-11-27T12:00:00Z', entries: aFiles, wasRunning: true });
  // The retry finds nothing to write; its restart fails (B does not start), so A comes back.
  services.failStarts = 1;
  const err = await reconcileEngine(B, ports(), { log, stateDir: '/state' }).then(() => undefined, (e: unknown) => e as Error);
  expect(err?.message).toMatch(/previous configuration was restored and dockerd serves it again/);
  expect(JSON.parse((await fs.readText('/etc/docker/daemon.json'))!)['log-level']).toBe('debug');
  expect(await fs.exists('/state/engine-rollback.json')).toBe(false);
  expect(services.active).toBe(true);
});

test('cancelled before applying: nothing written', async () => {
  const ac = new AbortController();
  ac.abort();
  const before = await fs.readText('/etc/docker/daemon.json');
  await expect(
    reconcileEngine(parseSettings({ docker: { options: ['--debug'] } }, {}), { fs, cmd: cmd(), clock: new FakeClock(), services: new FakeServiceManager(), probe: new FakeProbe() }, { log, stateDir: '/state', signal: ac.signal }),
  ).rejects.toThrow(StepFailedError);
  expect(await fs.readText('/etc/docker/daemon.json')).toBe(before);
});

/**
 * A running dockerd with live-restore on until a SIGHUP switches it off (as the real one does);
 * the returned list records daemon.json at each restart and reload from now on.
 */
function liveRestoreUntilSighup(services: FakeServiceManager, probe: FakeProbe): Record<string, unknown>[] {
  const seen: Record<string, unknown>[] = [];
  const daemonJson = async () => JSON.parse((await fs.readText('/etc/docker/daemon.json'))!) as Record<string, unknown>;
  const restart = services.restart.bind(services);
  services.restart = async () => {
    seen.push({ at: 'restart', ...(await daemonJson()) });
    await restart();
  };
  services.reload = async () => {
    services.calls.push('reload');
    seen.push({ at: 'reload', ...(await daemonJson()) });
    probe.liveRestore = false;
  };
  probe.liveRestore = true;
  services.calls.length = 0;
  return seen;
}

test('an admin turns live-restore off ("docker.liveRestore": false) with a restart due: no container is stopped on the way', async () => {
  const services = new FakeServiceManager();
  const probe = new FakeProbe();
  await reconcileEngine(parseSettings({}, {}), { fs, cmd: cmd(), clock: new FakeClock(), services, probe }, { log, stateDir: '/state' });
  const seen = liveRestoreUntilSighup(services, probe);
  await reconcileEngine(parseSettings({ docker: { liveRestore: false, options: ['--log-level=error'] } }, {}), { fs, cmd: cmd(), clock: new FakeClock(), services, probe }, { log, stateDir: '/state' });
  expect(seen).toEqual([
    { at: 'restart', 'log-level': 'error', 'live-restore': true },
    { at: 'reload', 'log-level': 'error', 'live-restore': false },
  ]);
  expect(JSON.parse((await fs.readText('/etc/docker/daemon.json'))!)).toEqual({ 'log-level': 'error' });
});

test('live-restore off and nothing else: no restart at all, and the dry run says so', async () => {
  const services = new FakeServiceManager();
  const probe = new FakeProbe();
  await reconcileEngine(parseSettings({}, {}), { fs, cmd: cmd(), clock: new FakeClock(), services, probe }, { log, stateDir: '/state' });
  liveRestoreUntilSighup(services, probe);
  const off = parseSettings({ docker: { liveRestore: false } }, {});
  const dry = await planEngine(off, { fs, cmd: cmd(), clock: new FakeClock(), services, probe }, { log, stateDir: '/state' });
  expect(dry.summary).toMatch(/dockerd: no restart; then live-restore switched off by SIGHUP\./);
  expect(dry.lines.join()).toMatch(/switch live-restore off by SIGHUP/);
  const out = await reconcileEngine(off, { fs, cmd: cmd(), clock: new FakeClock(), services, probe }, { log, stateDir: '/state' });
  expect(services.calls.filter((c) => c !== 'status' && c !== 'inspect')).toEqual(['reload']);
  expect(out).toMatchObject({ changed: true, restarted: 'none' });
  expect(out.summary).toMatch(/configuration updated without a restart/);
  expect(JSON.parse((await fs.readText('/etc/docker/daemon.json'))!)['live-restore']).toBeUndefined();
});

describe('removeEngineConfig', () => {
  test('live-restore is given back without stopping a container: the restart keeps it, a SIGHUP switches it off, the file loses it last', async () => {
    const services = new FakeServiceManager();
    const probe = new FakeProbe();
    await reconcileEngine(parseSettings({ docker: { options: ['--log-level=debug'] } }, {}), { fs, cmd: cmd(), clock: new FakeClock(), services, probe }, { log, stateDir: '/state' });
    expect(JSON.parse((await fs.readText('/etc/docker/daemon.json'))!)['live-restore']).toBe(true);
    const seen = liveRestoreUntilSighup(services, probe);
    await removeEngineConfig({ fs, cmd: cmd(), clock: new FakeClock(), services, probe }, { log, stateDir: '/state', removeEngine: false });
    expect(seen).toEqual([
      { at: 'restart', 'log-level': 'warn', 'live-restore': true },
      { at: 'reload', 'log-level': 'warn', 'live-restore': false },
    ]);
    expect(JSON.parse((await fs.readText('/etc/docker/daemon.json'))!)).toEqual({ 'log-level': 'warn' });
  });

  test('live-restore from the unit\'s own --live-restore: it stays on, so there is nothing to hand over', async () => {
    const services = new FakeServiceManager({ launch: { fixedArgs: ['-H', 'fd://', '--live-restore'], fixedSource: '/etc/systemd/system/docker.service.d/admin.conf' } });
    const probe = new FakeProbe();
    probe.liveRestore = true;
    await reconcileEngine(parseSettings({}, {}), { fs, cmd: cmd(), clock: new FakeClock(), services, probe }, { log, stateDir: '/state' });
    expect(JSON.parse((await fs.readText('/etc/docker/daemon.json'))!)).not.toHaveProperty('live-restore');
    services.calls.length = 0;
    await removeEngineConfig({ fs, cmd: cmd(), clock: new FakeClock(), services, probe }, { log, stateDir: '/state', removeEngine: false });
    expect(services.calls).not.toContain('reload');
    expect((await fs.readText('/etc/docker/daemon.json')) ?? '{}').not.toMatch(/live-restore/);
  });

  test('dockerd stopped by the admin: files given back, dockerd left stopped', async () => {
    const services = new FakeServiceManager();
    await reconcileEngine(parseSettings({ docker: { options: ['--log-level=debug'] } }, {}), { fs, cmd: cmd(), clock: new FakeClock(), services, probe: new FakeProbe() }, { log, stateDir: '/state' });
    expect(JSON.parse((await fs.readText('/etc/docker/daemon.json'))!)['log-level']).toBe('debug');
    services.active = false;
    services.calls.length = 0;
    const out = await removeEngineConfig({ fs, cmd: cmd(), clock: new FakeClock(), services, probe: new FakeProbe() }, { log, stateDir: '/state', removeEngine: false });
    expect(out.restarted).toBe('none');
    expect(JSON.parse((await fs.readText('/etc/docker/daemon.json'))!)).toEqual({ 'log-level': 'warn' });
    expect(services.calls.filter((c) => c !== 'inspect')).toEqual([]);
    expect(await fs.exists('/state/engine-state.json')).toBe(false);
  });

  test('removeEngine only removes an engine the extension installed', async () => {
    const services = new FakeServiceManager();
    await reconcileEngine(parseSettings({}, {}), { fs, cmd: cmd(), clock: new FakeClock(), services, probe: new FakeProbe() }, { log, stateDir: '/state' });
    const out = await removeEngineConfig({ fs, cmd: cmd(), clock: new FakeClock(), services, probe: new FakeProbe() }, { log, stateDir: '/state', removeEngine: true });
    expect(out.warnings.join()).toMatch(/not installed by the extension; it is kept/);
  });

  test('removeEngine with an engine the extension installed: stop, purge, data root removed', async () => {
    await fs.mkdirp('/state');
    await fs.writeAtomic(
      '/state/engine-state.json',
      JSON.stringify({ version: 1, daemonJson: { path: '/etc/docker/daemon.json', owned: {}, created: false }, files: [], installed: { manager: 'apt', packages: ['docker.io'], source: 'distro', at: '2026-11-27T00:00:00Z' } }),
      0o600,
    );
    await fs.mkdirp('/var/lib/docker/image');
    const services = new FakeServiceManager();
    const c = cmd();
    const out = await removeEngineConfig({ fs, cmd: c, clock: new FakeClock(), services, probe: new FakeProbe() }, { log, stateDir: '/state', removeEngine: true });
    expect(services.calls).toContain('stop');
    expect(c.lines()).toContain('apt-get -q -y -o DPkg::Lock::Timeout=300 purge docker.io');
    expect(await fs.exists('/var/lib/docker')).toBe(false);
    expect(out.summary).toMatch(/removed/);
  });

  test('removeEngine with "--data-root" in docker.options: the data root dockerd used is emptied too, and the summary names both', async () => {
    const services = new FakeServiceManager();
    const probe = new FakeProbe();
    await reconcileEngine(parseSettings({ docker: { options: ['--data-root', '/mnt/docker'] } }, {}), { fs, cmd: cmd(), clock: new FakeClock(), services, probe }, { log, stateDir: '/state' });
    const state = JSON.parse((await fs.readText('/state/engine-state.json'))!);
    await fs.writeAtomic('/state/engine-state.json', JSON.stringify({ ...state, installed: { manager: 'apt', packages: ['docker.io'], source: 'distro', at: '2026-11-27T00:00:00Z' } }), 0o600);
    await fs.mkdirp('/mnt/docker/image/overlay2');
    await fs.mkdirp('/mnt/docker/volumes/data');
    await fs.writeAtomic('/mnt/docker/volumes/data/v', 'a volume', 0o644);
    await fs.mkdirp('/var/lib/docker/image');
    const out = await removeEngineConfig({ fs, cmd: cmd(), clock: new FakeClock(), services, probe }, { log, stateDir: '/state', removeEngine: true });
    expect(await fs.exists('/var/lib/docker')).toBe(false);
    expect(await fs.exists('/mnt/docker')).toBe(false);
    expect(out.summary).toBe('Docker engine (docker.io) removed with its images, containers and volumes (/mnt/docker and /var/lib/docker emptied).');
  });

  test('removeEngine killed inside dpkg: the purge that finds dpkg interrupted runs dpkg --configure -a, then purges', async () => {
    await fs.mkdirp('/state');
    await fs.writeAtomic(
      '/state/engine-state.json',
      JSON.stringify({ version: 1, daemonJson: { path: '/etc/docker/daemon.json', owned: {}, created: false }, files: [], installed: { manager: 'apt', packages: ['docker.io'], source: 'distro', at: '2026-11-27T00:00:00Z' } }),
      0o600,
    );
    const c = cmd().on('apt-get -q -y -o DPkg::Lock::Timeout=300 purge', DPKG_INTERRUPTED, APT_PURGE_DOCKER_IO);
    const out = await removeEngineConfig({ fs, cmd: c, clock: new FakeClock(), services: new FakeServiceManager(), probe: new FakeProbe() }, { log, stateDir: '/state', removeEngine: true });
    expect(c.lines().filter((l) => /^(apt-get|dpkg --configure)/.test(l))).toEqual([
      'apt-get -q -y -o DPkg::Lock::Timeout=300 purge docker.io',
      'dpkg --configure -a',
      'apt-get -q -y -o DPkg::Lock::Timeout=300 purge docker.io',
    ]);
    expect(out.summary).toMatch(/^Docker engine \(docker\.io\) removed/);
    expect(await fs.exists('/state/engine-rollback.json')).toBe(false);
  });

  test('removeEngine whose purge fails: the error names apt\'s reason; the next uninstall empties the data root the first one found, though dockerd is stopped and daemon.json no longer names it', async () => {
    const services = new FakeServiceManager();
    const probe = new FakeProbe();
    await reconcileEngine(parseSettings({ docker: { options: ['--data-root', '/mnt/docker'] } }, {}), { fs, cmd: cmd(), clock: new FakeClock(), services, probe }, { log, stateDir: '/state' });
    const state = JSON.parse((await fs.readText('/state/engine-state.json'))!);
    await fs.writeAtomic('/state/engine-state.json', JSON.stringify({ ...state, installed: { manager: 'apt', packages: ['docker.io'], source: 'distro', at: '2026-11-27T00:00:00Z' } }), 0o600);
    await fs.mkdirp('/mnt/docker/image/overlay2');
    const locked = cmd().on('apt-get -q -y -o DPkg::Lock::Timeout=300 purge', APT_FRONTEND_LOCKED);
    const err = await removeEngineConfig({ fs, cmd: locked, clock: new FakeClock(), services, probe }, { log, stateDir: '/state', removeEngine: true }).then(() => undefined, (e: unknown) => e as Error);
    expect(err?.message).toBe('apt-get could not remove docker.io (exit 100): E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 2279 (unattended-upgr) | E: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), is another process using it?');
    expect(services.active).toBe(false);
    expect(JSON.parse((await fs.readText('/etc/docker/daemon.json'))!)).not.toHaveProperty('data-root');
    const rec = await readRollback(fs, '/state');
    expect(rec?.dataRoots).toEqual(['/mnt/docker', '/var/lib/docker']);
    // The progress record: how far the removal got (the purge did not finish).
    expect(rec?.done).toEqual(['snapshot', 'stop-service', 'save-state', 'write-file /etc/docker/daemon.json']);

    const c = cmd().on('apt-get -q -y -o DPkg::Lock::Timeout=300 purge', APT_PURGE_DOCKER_IO);
    const out = await removeEngineConfig({ fs, cmd: c, clock: new FakeClock(), services, probe }, { log, stateDir: '/state', removeEngine: true });
    expect(c.lines().filter((l) => l.startsWith('apt-get'))).toEqual(['apt-get -q -y -o DPkg::Lock::Timeout=300 purge docker.io']);
    expect(await fs.exists('/mnt/docker')).toBe(false);
    expect(out.summary).toBe('Docker engine (docker.io) removed with its images, containers and volumes (/mnt/docker emptied).');
    expect(await fs.exists('/state/engine-rollback.json')).toBe(false);
    expect(await fs.exists('/state/engine-state.json')).toBe(false);
  });

  test('removeEngine with a data root that is not Docker\'s layout: kept, and the summary and warning say so', async () => {
    await fs.mkdirp('/state');
    await fs.writeAtomic(
      '/state/engine-state.json',
      JSON.stringify({ version: 1, daemonJson: { path: '/etc/docker/daemon.json', owned: {}, created: false }, files: [], installed: { manager: 'apt', packages: ['docker.io'], source: 'distro', at: '2026-11-27T00:00:00Z' } }),
      0o600,
    );
    await fs.writeAtomic('/etc/docker/daemon.json', '{"data-root":"/srv/stuff"}\n', 0o644);
    await fs.mkdirp('/srv/stuff/photos');
    const out = await removeEngineConfig({ fs, cmd: cmd(), clock: new FakeClock(), services: new FakeServiceManager(), probe: new FakeProbe() }, { log, stateDir: '/state', removeEngine: true });
    expect(await fs.exists('/srv/stuff/photos')).toBe(true);
    expect(out.summary).toBe('Docker engine (docker.io) removed; its images, containers and volumes in /srv/stuff are kept (see the warnings).');
    expect(out.warnings.join()).toMatch(/dockerd's data root \/srv\/stuff is kept: it does not hold Docker's layout/);
  });
});

test('a reload that cannot be proved (no event stream to watch dockerd confirm it) becomes a restart', async () => {
  const services = new FakeServiceManager();
  const probe = new FakeProbe();
  const ports = () => ({ fs, cmd: cmd(), clock: new FakeClock(), services, probe });
  await reconcileEngine(parseSettings({ docker: { options: ['--label', 'a=1'] } }, {}), ports(), { log, stateDir: '/state' });
  services.calls.length = 0;
  probe.reload = 'unobservable';
  const out = await reconcileEngine(parseSettings({ docker: { options: ['--label', 'a=2'] } }, {}), ports(), { log, stateDir: '/state' });
  expect(out.restarted).toBe('restart');
  expect(services.calls).toContain('restart');
  expect(services.calls).not.toContain('reload');
});

test('a reload dockerd refuses: its logged reason, the files back, nothing restarted', async () => {
  const services = new FakeServiceManager();
  const probe = new FakeProbe();
  const ports = () => ({ fs, cmd: cmd(), clock: new FakeClock(), services, probe });
  await reconcileEngine(parseSettings({ docker: { options: ['--label', 'a=1'] } }, {}), ports(), { log, stateDir: '/state' });
  const before = await fs.readText('/etc/docker/daemon.json');
  services.calls.length = 0;
  probe.reload = 'rejected';
  services.log =
    'time="2026-12-01T10:53:27Z" level=error msg="an older failure"\n' +
    'time="2026-12-01T10:53:28Z" level=info msg="Got signal to reload configuration, reloading from: /etc/docker/daemon.json"\n' +
    'time="2026-12-01T10:53:28Z" level=error msg="file configuration validation failed: specified default runtime \'nope\' does not exist"\n';
  const err = await reconcileEngine(parseSettings({ docker: { options: ['--label', 'a=2'] } }, {}), ports(), { log, stateDir: '/state' }).then(() => undefined, (e: unknown) => e as Error);
  expect(err?.message).toBe(
    "dockerd refused to reload the new configuration: file configuration validation failed: specified default runtime 'nope' does not exist. The previous files were restored; dockerd did not apply the change and serves its previous configuration (verified: local socket /var/run/docker.sock answers (Docker 27.5.1, API 1.47)).",
  );
  expect(await fs.readText('/etc/docker/daemon.json')).toBe(before);
  expect(services.calls.filter((c) => c === 'restart' || c === 'start')).toEqual([]);
  expect(await fs.exists('/state/engine-rollback.json')).toBe(false);
});

test('a bad dockerd option and an expired certificate are refused together, before anything changes', async () => {
  const { makeCertSet, certsSetting } = await import('../../support/tls-certs.js');
  const certs = certsSetting(makeCertSet(path.join(dir, 'pki')));
  const services = new FakeServiceManager();
  const settings = parseSettings({ docker: { port: 2376, options: ['--nope'] } }, { certs });
  const err = await reconcileEngine(settings, { fs, cmd: cmd(), clock: new FakeClock(Date.now() + 5 * 86_400_000), services, probe: new FakeProbe() }, { log, stateDir: '/state' }).then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  expect(err?.message).toMatch(/^Invalid settings: .*unknown dockerd option "--nope".*"certs\.cert": the server certificate expired on .*Nothing was changed\.$/);
  expect(services.calls).toEqual([]);
  expect(await fs.readText('/etc/docker/daemon.json')).toBe('{"log-level":"warn"}\n');
});
