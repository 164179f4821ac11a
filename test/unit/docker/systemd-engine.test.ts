// System layer against a temporary root: the real SystemdServiceManager reading recorded unit
// files through a RootedFileSystem, systemctl/apt recorded by a fake runner, and the whole
// reconcile/rollback/uninstall flow of the engine on top of it.
import { afterAll, afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync, readdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { parseSettings } from '../../../handler/agent/settings.js';
import { planEngine, reconcileEngine, removeEngineConfig, type EngineStepReport } from '../../../handler/docker/engine.js';
import { ConfigError, StepFailedError } from '../../../handler/errors.js';
import { silentLogger } from '../../../handler/log/logger.js';
import { RootedFileSystem } from '../../../handler/system/fs.js';
import { parseUnitFile, splitExecLine, SystemdServiceManager } from '../../../handler/system/systemd-manager.js';
import { dockerdFailureReason } from '../../../handler/system/service-manager.js';
import { FakeClock, FakeCommandRunner, FakeProbe } from '../../support/docker-fakes.js';
import { certsSetting, makeCertSet, type CertSet } from '../../support/tls-certs.js';

// Recorded: Debian 12 docker.io 20.10.24+dfsg1-1+deb12u1+b6, /lib/systemd/system/docker.service (comments trimmed).
const DEBIAN_UNIT = `[Unit]
Description=Docker Application Container Engine
Documentation=https://docs.docker.com
After=network-online.target docker.socket firewalld.service containerd.service
Wants=network-online.target containerd.service
Requires=docker.socket

[Service]
Type=notify
EnvironmentFile=-/etc/default/docker
ExecStart=/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock $DOCKER_OPTS
ExecReload=/bin/kill -s HUP $MAINPID
LimitNOFILE=1048576
TimeoutStartSec=0
Delegate=yes
KillMode=process
Restart=on-failure
StartLimitBurst=3
StartLimitInterval=60s

[Install]
WantedBy=multi-user.target
`;
const DEBIAN_SOCKET = `[Unit]
Description=Docker Socket for the API

[Socket]
ListenStream=/run/docker.sock
SocketMode=0660
SocketUser=root
SocketGroup=docker

[Install]
WantedBy=sockets.target
`;
const OS_RELEASE = readFileSync(new URL('../../fixtures/os-release/debian-12', import.meta.url), 'utf8');

let dir: string;
let fs: RootedFileSystem;
let certs: CertSet;
const certsDir = mkdtempSync(path.join(os.tmpdir(), 'sysd-certs-'));
certs = makeCertSet(certsDir);
afterAll(() => rmSync(certsDir, { recursive: true, force: true }));

beforeEach(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'sysd-'));
  fs = new RootedFileSystem(dir);
  await fs.mkdirp('/etc');
  await fs.writeAtomic('/etc/os-release', OS_RELEASE, 0o644);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const writeUnit = async (unit = DEBIAN_UNIT) => {
  await fs.mkdirp('/lib/systemd/system');
  await fs.writeAtomic('/lib/systemd/system/docker.service', unit, 0o644);
  await fs.writeAtomic('/lib/systemd/system/docker.socket', DEBIAN_SOCKET, 0o644);
};

describe('unit parsing', () => {
  test('ExecStart words, variables, prefixes', () => {
    expect(splitExecLine('-/usr/bin/dockerd -H fd:// $OPTS "${ONE}" --x=${ONE}', { OPTS: '--dns 1.1.1.1  --debug', ONE: 'a b' })).toEqual([
      '/usr/bin/dockerd',
      '-H',
      'fd://',
      '--dns',
      '1.1.1.1',
      '--debug',
      'a b',
      '--x=a b',
    ]);
    expect(parseUnitFile('[Service]\nExecStart=/a \\\n  --b\n', 'f').map((e) => e.value)).toEqual(['/a --b']);
  });

  test('inspect: vendor flags with DOCKER_OPTS expanded, socket activation, our drop-in ignored, later foreign drop-in detected', async () => {
    await writeUnit();
    await fs.mkdirp('/etc/default');
    await fs.writeAtomic('/etc/default/docker', '# comment\nDOCKER_OPTS="--dns 8.8.8.8"\n', 0o644);
    await fs.mkdirp('/etc/systemd/system/docker.service.d');
    await fs.writeAtomic('/etc/systemd/system/docker.service.d/10-azure-docker-extension.conf', '[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd\n', 0o644);
    const m = new SystemdServiceManager({ fs, cmd: new FakeCommandRunner() });
    let l = await m.inspect();
    expect(l).toMatchObject({
      manager: 'systemd',
      dockerdPath: '/usr/sbin/dockerd',
      replaceableArgs: ['-H', 'fd://', '--containerd=/run/containerd/containerd.sock', '--dns', '8.8.8.8'],
      replaceableSource: '/lib/systemd/system/docker.service',
      socketActivated: true,
      socketPath: '/run/docker.sock',
      installed: true,
      dropInPresent: true,
    });
    expect(l.overriddenBy).toBeUndefined();
    await fs.writeAtomic('/etc/systemd/system/docker.service.d/override.conf', '[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd -H fd://\n', 0o644);
    l = await m.inspect();
    expect(l.overriddenBy).toBe('/etc/systemd/system/docker.service.d/override.conf');
    expect(l.fixedArgs).toEqual(['-H', 'fd://']);
  });

  test('systemctl argv: stop takes docker.socket first; reload falls back to kill -s HUP', async () => {
    await writeUnit();
    const cmd = new FakeCommandRunner().on('systemctl reload', { exitCode: 1, stderr: 'Job type reload is not applicable for unit docker.service.' });
    const m = new SystemdServiceManager({ fs, cmd });
    await m.stop();
    await m.reload();
    await m.enable();
    expect(cmd.lines()).toEqual([
      'systemctl stop docker.socket docker.service',
      'systemctl reload docker.service',
      'systemctl kill --signal=HUP --kill-whom=main docker.service',
      'systemctl enable docker.service docker.socket',
    ]);
  });
});

test('dockerdFailureReason picks dockerd\'s own words from a journal', () => {
  const journal = [
    'time="2026-11-27T10:00:00.1Z" level=info msg="Starting up"',
    'unable to configure the Docker daemon with file /etc/docker/daemon.json: the following directives are specified both as a flag and in the configuration file: hosts: (from flag: [fd://], from file: [fd:// tcp://0.0.0.0:2376])',
    'docker.service: Main process exited, code=exited, status=1/FAILURE',
  ].join('\n');
  expect(dockerdFailureReason(journal)).toMatch(/^unable to configure the Docker daemon .* hosts: \(from flag: \[fd:\/\/\]/);
  expect(dockerdFailureReason('time="x" level=fatal msg="failed to start daemon: pid file found, ensure docker is not running or delete /var/run/docker.pid"')).toBe(
    'failed to start daemon: pid file found, ensure docker is not running or delete /var/run/docker.pid',
  );
});

describe('reconcileEngine on a systemd VM (recorded commands)', () => {
  const state = { active: false, pid: 0 };
  const systemctl = () => {
    const cmd = new FakeCommandRunner()
      .on('dpkg-query', () => ({ exitCode: 1, stdout: installedDocker ? 'docker.io\tii \t20.10.24+dfsg1-1+deb12u1+b6\n' : '' }))
      .on('dpkg --print-architecture', { stdout: 'amd64' })
      .on('apt-get -q update', { exitCode: 100, stderr: 'E: Could not get lock /var/lib/apt/lists/lock. It is held by process 977 (unattended-upgr)' }, { exitCode: 0 })
      .on('apt-get -q -y', async () => {
        seenAtInstall.push(await fs.readText('/var/lib/azure-docker-extension/engine-state.json'));
        if (failInstall) return { exitCode: 100, stderr: 'E: Unable to locate package docker.io' };
        // What installing docker.io leaves behind: the unit, the socket, a running dockerd.
        await writeUnit(installedUnit);
        installedDocker = true;
        state.active = true;
        state.pid = 500;
        return { exitCode: 0, stdout: 'Setting up docker.io (20.10.24+dfsg1-1+deb12u1+b6) ...' };
      })
      .on('systemctl is-active', () => ({ exitCode: state.active ? 0 : 3, stdout: state.active ? 'active' : 'inactive' }))
      .on('systemctl is-enabled', { stdout: 'enabled' })
      .on('systemctl show -p MainPID', () => ({ stdout: String(state.pid) }))
      .on('systemctl restart', () => {
        if (failRestarts > 0) {
          failRestarts--;
          state.active = false;
          return { exitCode: 1, stderr: 'Job for docker.service failed because the control process exited with error code.' };
        }
        state.active = true;
        state.pid++;
        return {};
      })
      .on('journalctl', () => ({
        stdout:
          'time="2026-11-27T12:00:00Z" level=info msg="Starting up"\nfailed to load listeners: listen tcp 0.0.0.0:2376: bind: address already in use\n',
      }));
    return cmd;
  };
  let installedDocker = false;
  let failRestarts = 0;
  let failInstall = false;
  let installedUnit = DEBIAN_UNIT;
  /** The extension's record as the package install found it. */
  let seenAtInstall: (string | undefined)[] = [];
  const settings = (pub: Record<string, unknown> = {}) => parseSettings(pub, { certs: certsSetting(certs) });

  beforeEach(() => {
    installedDocker = false;
    failRestarts = 0;
    failInstall = false;
    installedUnit = DEBIAN_UNIT;
    seenAtInstall = [];
    state.active = false;
    state.pid = 0;
  });

  test('fresh VM: install through a held apt lock, move the unit flags, TLS, restart once, verify', async () => {
    const cmd = systemctl();
    const clock = new FakeClock(Date.now());
    const probe = new FakeProbe();
    probe.fingerprint = new X509Certificate(certsSetting(certs).cert).fingerprint256;
    const progress: EngineStepReport[] = [];
    const services = new SystemdServiceManager({ fs, cmd });
    const out = await reconcileEngine(settings({ docker: { options: ['--log-opt max-size=10m'] } }), { fs, cmd, clock, services, probe, random: () => 0.5 }, {
      log: silentLogger(),
      stateDir: '/var/lib/azure-docker-extension',
      onProgress: (s) => progress.push(s),
    });
    expect(out.restarted).toBe('restart');
    expect(out.changed).toBe(true);
    expect(progress.some((p) => p.name === 'engine' && p.status === 'transitioning' && /held by process 977 \(unattended-upgr\)/.test(p.message))).toBe(true);
    const lines = cmd.lines();
    expect(lines.filter((l) => l.startsWith('apt-get'))).toHaveLength(3);
    expect(lines.filter((l) => /^systemctl (daemon-reload|restart|start|enable)/.test(l))).toEqual(['systemctl daemon-reload', 'systemctl restart docker.service']);
    const dj = JSON.parse((await fs.readText('/etc/docker/daemon.json'))!);
    expect(dj).toEqual({
      hosts: ['fd://', 'tcp://0.0.0.0:2376'],
      containerd: '/run/containerd/containerd.sock',
      'log-opts': { 'max-size': '10m' },
      'live-restore': true,
      tlsverify: true,
      tlscacert: '/etc/docker/ca.pem',
      tlscert: '/etc/docker/cert.pem',
      tlskey: '/etc/docker/key.pem',
    });
    expect(await fs.readText('/etc/systemd/system/docker.service.d/10-azure-docker-extension.conf')).toMatch(/ExecStart=\nExecStart=\/usr\/sbin\/dockerd\n$/);
    expect((await fs.stat('/etc/docker/key.pem'))?.mode).toBe(0o600);
    expect((await fs.stat('/var/lib/azure-docker-extension/engine-state.json'))?.mode).toBe(0o600);
    expect(await fs.exists('/var/lib/azure-docker-extension/engine-rollback.json')).toBe(false);
    expect(probe.calls).toEqual(['info', 'ping /run/docker.sock', 'tls 127.0.0.1:2376']); // info: is it a swarm node (live-restore)?

    // Second run: nothing installed, written or restarted.
    const cmd2 = systemctl();
    const again = await reconcileEngine(settings({ docker: { options: ['--log-opt max-size=10m'] } }), { fs, cmd: cmd2, clock, services: new SystemdServiceManager({ fs, cmd: cmd2 }), probe }, { log: silentLogger(), stateDir: '/var/lib/azure-docker-extension' });
    expect(again).toMatchObject({ changed: false, restarted: 'none' });
    expect(cmd2.lines().filter((l) => /apt-get|restart|daemon-reload/.test(l))).toEqual([]);

    // Uninstall: drop-in, certificates, our keys gone; dockerd back on the vendor unit.
    const cmd3 = systemctl();
    const removed = await removeEngineConfig({ fs, cmd: cmd3, clock, services: new SystemdServiceManager({ fs, cmd: cmd3 }), probe }, { log: silentLogger(), stateDir: '/var/lib/azure-docker-extension', removeEngine: false });
    expect(removed.restarted).toBe('restart');
    expect(await fs.exists('/etc/systemd/system/docker.service.d/10-azure-docker-extension.conf')).toBe(false);
    // the directory was made for the drop-in and holds nothing else now
    expect(await fs.exists('/etc/systemd/system/docker.service.d')).toBe(false);
    expect(await fs.exists('/etc/docker/key.pem')).toBe(false);
    expect(await fs.exists('/etc/docker/daemon.json')).toBe(false); // created by the extension, nothing left in it
    expect(cmd3.lines().filter((l) => /^systemctl (daemon-reload|restart)/.test(l))).toEqual(['systemctl daemon-reload', 'systemctl restart docker.service']);
  });

  test('the install is the plan\'s first step; the applier runs it, then re-plans against the unit the package really installed', async () => {
    // This package's unit passes a flag the plan could not know before the install.
    installedUnit = DEBIAN_UNIT.replace('$DOCKER_OPTS', '--log-level=info $DOCKER_OPTS');
    const portsWith = (cmd: ReturnType<typeof systemctl>) => ({ fs, cmd, clock: new FakeClock(Date.now()), services: new SystemdServiceManager({ fs, cmd }), probe: new FakeProbe(), random: () => 0.5 });
    const opts = { log: silentLogger(), stateDir: '/var/lib/azure-docker-extension' };
    const dryCmd = systemctl();
    const planned = await planEngine(settings(), portsWith(dryCmd), opts);
    expect(dryCmd.lines().filter((l) => l.startsWith('apt-get'))).toEqual([]);
    const lines = planned.lines.join('; ');
    expect(lines).toMatch(/^install docker\.io with apt: no Docker engine is installed \(the steps that follow are planned again against the installed engine\); check the new \/etc\/docker\/daemon\.json with dockerd --validate: skipped, the engine is not installed yet \(planned again once it is\); .*; save /);
    expect(lines).toMatch(/dockerd must run without the unit's flags \(-H fd:\/\/ --containerd=\/run\/containerd\/containerd\.sock\)/);
    expect(await fs.exists('/var/lib/azure-docker-extension/engine-state.json')).toBe(false);

    const realCmd = systemctl();
    await reconcileEngine(settings(), portsWith(realCmd), opts);
    // The record named the packages as the extension's before they were installed.
    expect(JSON.parse(seenAtInstall[0]!).installed).toMatchObject({ manager: 'apt', packages: ['docker.io'] });
    // Re-planned after the install: the unit's --log-level moved into daemon.json with the rest.
    expect(JSON.parse((await fs.readText('/etc/docker/daemon.json'))!)['log-level']).toBe('info');
    expect(JSON.parse((await fs.readText('/var/lib/azure-docker-extension/engine-state.json'))!).installed).toMatchObject({ manager: 'apt', packages: ['docker.io'], source: 'distro' });
    expect(realCmd.lines().filter((l) => /^systemctl (daemon-reload|restart|start)/.test(l))).toEqual(['systemctl daemon-reload', 'systemctl restart docker.service']);
  });

  test('an install that fails: the record is put back as it was, nothing else written', async () => {
    failInstall = true;
    const cmd = systemctl();
    const err = await reconcileEngine(settings(), { fs, cmd, clock: new FakeClock(Date.now()), services: new SystemdServiceManager({ fs, cmd }), probe: new FakeProbe(), random: () => 0.5 }, { log: silentLogger(), stateDir: '/var/lib/azure-docker-extension' }).then(() => undefined, (e: unknown) => e as Error);
    expect(err?.message).toMatch(/Unable to locate package docker\.io/);
    expect(JSON.parse(seenAtInstall[0]!).installed.packages).toEqual(['docker.io']);
    expect(await fs.exists('/var/lib/azure-docker-extension/engine-state.json')).toBe(false);
    expect(await fs.exists('/etc/docker/daemon.json')).toBe(false);
  });

  test('restart fails: previous files restored, reset-failed, restarted, journal reason in the error', async () => {
    await writeUnit();
    installedDocker = true;
    state.active = true;
    state.pid = 42;
    await fs.mkdirp('/etc/docker');
    const foreign = '{\n  "log-level": "warn"\n}\n';
    await fs.writeAtomic('/etc/docker/daemon.json', foreign, 0o644);
    failRestarts = 1;
    const cmd = systemctl();
    const err = await reconcileEngine(settings(), { fs, cmd, clock: new FakeClock(Date.now()), services: new SystemdServiceManager({ fs, cmd }), probe: new FakeProbe() }, { log: silentLogger(), stateDir: '/state' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepFailedError);
    expect((err as Error).message).toMatch(/^dockerd did not come up with the new configuration: failed to load listeners: listen tcp 0\.0\.0\.0:2376: bind: address already in use\. The previous configuration was restored and dockerd serves it again \(verified: local socket \/run\/docker\.sock answers/);
    expect(await fs.readText('/etc/docker/daemon.json')).toBe(foreign);
    expect(await fs.exists('/etc/systemd/system/docker.service.d/10-azure-docker-extension.conf')).toBe(false);
    expect(await fs.exists('/etc/docker/key.pem')).toBe(false);
    expect(await fs.exists('/state/engine-state.json')).toBe(false);
    expect(await fs.exists('/state/engine-rollback.json')).toBe(false);
    expect(cmd.lines().filter((l) => /^systemctl (daemon-reload|restart|reset-failed)/.test(l))).toEqual([
      'systemctl daemon-reload',
      'systemctl restart docker.service',
      'systemctl daemon-reload',
      'systemctl reset-failed docker.service',
      'systemctl restart docker.service',
    ]);
  });

  test("Debian 13's dockerd 26.1 (recorded) refuses the new daemon.json on --validate: an error naming the value, nothing written, nothing restarted", async () => {
    await writeUnit();
    installedDocker = true;
    state.active = true;
    state.pid = 42;
    await fs.mkdirp('/etc/docker');
    const working = '{\n  "log-level": "warn"\n}\n';
    await fs.writeAtomic('/etc/docker/daemon.json', working, 0o644);
    const candidates: string[] = [];
    const cmd = systemctl()
      .on('/usr/sbin/dockerd --version', { stdout: 'Docker version 26.1.5+dfsg1, build 411e817\n' })
      .on('/usr/sbin/dockerd --validate', async (c) => {
        const file = c.args[2]!;
        candidates.push((await fs.readText(file))!);
        // the new certificate and key, as copies beside it: dockerd 26 loads the key pair while it validates
        const dj = JSON.parse(candidates[0]!) as Record<string, string>;
        expect([dj['tlscert'], dj['tlskey']]).toEqual(['/state/candidate/cert.pem', '/state/candidate/key.pem']);
        expect(await fs.readText(dj['tlscert']!)).toBe(certsSetting(certs).cert);
        expect((await fs.stat(dj['tlskey']!))?.mode).toBe(0o600);
        // dockerd 26.1.5's own words (recorded in the Debian 13 VM)
        return { exitCode: 1, stderr: `unable to configure the Docker daemon with file ${file}: merged configuration validation from file and command line flags failed: invalid logging level: verbose\n` };
      });
    const err = await reconcileEngine(settings({ docker: { options: ['--log-level', 'verbose'] } }), { fs, cmd, clock: new FakeClock(Date.now()), services: new SystemdServiceManager({ fs, cmd }), probe: new FakeProbe() }, { log: silentLogger(), stateDir: '/state' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(
      /^dockerd 26\.1\.5\+dfsg1 refused the new \/etc\/docker\/daemon\.json \(.*log-level changed.*\): unable to configure the Docker daemon with file \/etc\/docker\/daemon\.json: merged configuration validation from file and command line flags failed: invalid logging level: verbose\. Correct the setting that gives this value \("docker\.options" for dockerd's own flags\) and run enable again\. Nothing was written: \/etc\/docker\/daemon\.json is unchanged and dockerd keeps serving its current configuration\.$/,
    );
    expect(JSON.parse(candidates[0]!)['log-level']).toBe('verbose'); // what dockerd was asked about
    expect(await fs.readText('/etc/docker/daemon.json')).toBe(working);
    for (const f of ['/etc/docker/ca.pem', '/etc/docker/key.pem', '/etc/systemd/system/docker.service.d/10-azure-docker-extension.conf', '/state/candidate', '/state/engine-state.json', '/state/engine-rollback.json']) {
      expect({ f, exists: await fs.exists(f) }).toEqual({ f, exists: false });
    }
    expect(cmd.lines().filter((l) => /^systemctl (daemon-reload|restart|start|reload|kill)/.test(l))).toEqual([]);
  });

  test('dry run (planEngine): install and files listed, no hash of a secret, nothing written or run', async () => {
    const cmd = systemctl();
    const before = listTree(dir);
    const p = await planEngine(settings({ docker: { engine: { source: 'docker-ce' } } }), { fs, cmd, clock: new FakeClock(Date.now()), services: new SystemdServiceManager({ fs, cmd }), probe: new FakeProbe() }, { log: silentLogger(), stateDir: '/state' });
    expect(listTree(dir)).toEqual(before);
    expect(cmd.lines().every((l) => /^(dpkg-query|dpkg --print|systemctl (is-|show))/.test(l))).toBe(true);
    expect(p.lines[0]).toMatch(/^install docker-ce docker-ce-cli containerd\.io with apt from https:\/\/download\.docker\.com\/linux\/debian: no Docker engine is installed/);
    expect(p.lines.join('\n')).toMatch(/write \/etc\/docker\/key\.pem \(mode 600, \d+ bytes, secret: no hash shown\)/);
    expect(p.lines.join('\n')).toMatch(/write \/etc\/systemd\/system\/docker\.service\.d\/10-azure-docker-extension\.conf .*ExecStart|dockerd must run without the unit's flags \(-H fd:\/\/ --containerd=\/run\/containerd\/containerd\.sock\)/);
    expect(JSON.stringify(p)).not.toContain('PRIVATE KEY');
  });

  test('dry run in a sovereign cloud: the install step names the cloud\'s mirror; AzureGermanCloud is warned', async () => {
    const plan = (cloud: string) =>
      planEngine(settings({ docker: { engine: { source: 'docker-ce' } }, 'azure-environment': cloud }), { fs, cmd: systemctl(), clock: new FakeClock(Date.now()), services: new SystemdServiceManager({ fs, cmd: systemctl() }), probe: new FakeProbe() }, { log: silentLogger(), stateDir: '/state' });
    const cn = await plan('AzureChinaCloud');
    expect(cn.lines[0]).toMatch(/^install docker-ce docker-ce-cli containerd\.io with apt from https:\/\/mirror\.azure\.cn\/docker-ce\/linux\/debian: /);
    expect(cn.warnings.filter((w) => /azure-environment/.test(w))).toEqual([]);
    const de = await plan('AzureGermanCloud');
    expect(de.lines[0]).toMatch(/ from https:\/\/download\.docker\.com\/linux\/debian: /);
    expect(de.warnings).toContain('public setting "azure-environment": AzureGermanCloud (Microsoft Cloud Deutschland) was closed in 2021; the public repositories are used. Use "AzureCloud" for the Germany regions of the global cloud');
  });

  test('a foreign drop-in overriding ExecStart after ours is refused before any change', async () => {
    await writeUnit();
    installedDocker = true;
    state.active = true;
    await fs.mkdirp('/etc/systemd/system/docker.service.d');
    await fs.writeAtomic('/etc/systemd/system/docker.service.d/override.conf', '[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd -H fd:// -H tcp://0.0.0.0:2375\n', 0o644);
    const cmd = systemctl();
    await expect(reconcileEngine(settings(), { fs, cmd, clock: new FakeClock(Date.now()), services: new SystemdServiceManager({ fs, cmd }), probe: new FakeProbe() }, { log: silentLogger(), stateDir: '/state' })).rejects.toThrow(ConfigError);
    expect(await fs.exists('/etc/docker/daemon.json')).toBe(false);
  });
});

function listTree(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      out.push(path.relative(root, p));
      if (e.isDirectory()) walk(p);
    }
  };
  walk(root);
  return out.sort();
}
