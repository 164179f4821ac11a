// (integration) The registry login and the VM's admin user in the docker group, for real: a
// registry (Debian's docker-registry) on 127.0.0.1 behind TLS with htpasswd authentication, a
// sandboxed real dockerd that trusts its CA (certs.d), an image built from busybox-static pushed
// to it, a real user made with useradd named by an ovf-env.xml laid out as the agent keeps it.
// The engine logs in (dockerd checks the credentials; root's and the user's config.json written
// through the applier); then root and the user pull from the registry with their own docker client
// configuration, and a compose project (the host's docker-compose 1.29.2) pulls its private image
// with the login of the same enable. While it runs, every process's argv and environment is
// sampled for the password.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import * as path from 'node:path';
import { parseSettings } from '../../../handler/agent/settings.js';
import { WRITE_CONFIG_SCRIPT } from '../../../handler/docker/registry-login.js';
import { reconcileEngine, removeEngineConfig, type EngineOutcome } from '../../../handler/docker/engine.js';
import { createLogger } from '../../../handler/log/logger.js';
import { ExecaCommandRunner } from '../../../handler/system/exec.js';
import { RootedFileSystem } from '../../../handler/system/fs.js';
import { readWorkloadFacts, workloadStatus } from '../../../handler/status/workloads.js';
import type { CommandRunner, RunOptions } from '../../../handler/system/ports.js';
import { containerState } from '../../support/busybox-container.js';
import { createSandbox, waitPing, type Sandbox } from '../../support/docker-daemon.js';
import { ovfEnvXml } from '../../support/ovf-env.js';
import { loginSuiteUnavailable, pushBusybox, startRegistry, trustRegistry, type TestRegistry } from '../../support/registry.js';
import { describeHits, scanCanaryPaths, scanCanaryText, startProcessSampler } from '../../support/secret-canary.js';

const skip = loginSuiteUnavailable();
const d = skip ? describe.skip : describe;
if (skip) console.warn(`(integration) registry login tests skipped: ${skip}`);

/** The sandbox's package probes, and the commands the access steps run (on this machine: users and groups are the host's). */
class AccessCommandRunner implements CommandRunner {
  readonly calls: string[][] = [];
  constructor(private readonly real: CommandRunner) {}
  async run(file: string, args: readonly string[], opts?: RunOptions) {
    this.calls.push([file, ...args]);
    const probe = file === 'dpkg-query' || (file === 'dpkg' && args[0] === '--print-architecture');
    if (!probe && !['getent', 'usermod', 'gpasswd', 'setpriv', 'docker-compose', '/usr/bin/docker-compose'].includes(file)) throw new Error(`integration test refused to run: ${file} ${args.join(' ')}`);
    return this.real.run(file, args, opts);
  }
}

const PASSWORD = `pw-${process.pid}-Zq7!canary`;
const REG_USER = `adx-user-${process.pid}-canary`;

d('(integration) registry login and the docker group with a real registry and dockerd', () => {
  let sb: Sandbox;
  let reg: TestRegistry;
  let image: string;
  let cmd: AccessCommandRunner;
  const user = `adxl${process.pid % 100000}`;
  let home: string;
  const logFile = () => path.join(sb.dir, 'handler.log');
  const rootConfig = () => path.join(sb.root, 'root/.docker/config.json');
  const userConfig = () => path.join(home, '.docker/config.json');
  const ovf = '/var/lib/waagent/ovf-env.xml';

  const writeOvf = (name: string) => {
    const dir = sb.fs.resolve('/var/lib/waagent');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(path.join(dir, 'ovf-env.xml'), ovfEnvXml(name), { mode: 0o400 });
  };
  const enable = (login?: Record<string, unknown>, pub: Record<string, unknown> = {}) => {
    const log = createLogger({ file: logFile(), level: 'debug' });
    return reconcileEngine(parseSettings(pub, login ? { login } : {}), { ...sb.ports(), cmd }, { log, stateDir: sb.stateDir, layout: { ...sb.layout, ovfEnvFile: ovf } });
  };
  const docker = (args: string[], as?: 'user') => {
    const argv = ['-H', `unix://${sb.socket}`, ...args];
    const r = as
      ? spawnSync('setpriv', [`--reuid=${uid()}`, `--regid=${uid()}`, '--init-groups', '--', 'docker', ...argv], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home }, timeout: 120_000 })
      : spawnSync('docker', ['--config', path.dirname(rootConfig()), ...argv], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent' }, timeout: 120_000 });
    return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
  };
  const uid = () => Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
  const dockerMembers = () => (execFileSync('getent', ['group', 'docker'], { encoding: 'utf8' }).trim().split(':')[3] ?? '').split(',');
  const auths = (file: string) => (existsSync(file) ? Object.keys((JSON.parse(readFileSync(file, 'utf8')) as { auths?: object }).auths ?? {}) : []);
  const published = (out: EngineOutcome) => JSON.stringify(out) + (existsSync(logFile()) ? readFileSync(logFile(), 'utf8') : '');

  beforeAll(async () => {
    sb = createSandbox();
    cmd = new AccessCommandRunner(new ExecaCommandRunner(createLogger({ file: path.join(sb.dir, 'commands.log'), level: 'debug' })));
    // The user reaches the sandbox's socket (root:docker 0660) as a VM's admin user reaches /run/docker.sock.
    chmodSync(sb.dir, 0o711);
    chmodSync(path.join(sb.dir, 'run'), 0o711);
    execFileSync('useradd', ['-m', '-s', '/bin/sh', user]);
    home = execFileSync('getent', ['passwd', user], { encoding: 'utf8' }).trim().split(':')[5]!;
    reg = await startRegistry({ [REG_USER]: PASSWORD });
    // dockerd first, without login: the image is pushed with a client configuration of its own.
    await enable();
    trustRegistry(sb.fs.resolve('/etc/docker'), reg);
    image = pushBusybox(sb.socket, reg, REG_USER, PASSWORD);
    expect(docker(['pull', image]).ok).toBe(false);
    writeOvf(user);
  }, 180_000);

  afterAll(async () => {
    await reg?.stop();
    await sb?.cleanup();
    spawnSync('userdel', ['-r', user], { stdio: 'ignore' });
  });

  test('enable logs root and the admin user in (password and user name on no argv, environment, log or status); both pull from the registry', async () => {
    const starts = sb.starts();
    rmSync(logFile(), { force: true });
    // The user name too: no process is given either (docker login would have it on its argv).
    const sampler = await startProcessSampler([PASSWORD, REG_USER], { intervalMs: 5 });
    let out: EngineOutcome;
    try {
      out = await enable({ server: `https://${reg.host}`, username: REG_USER, password: PASSWORD });
    } finally {
      const report = await sampler.stop();
      expect(describeHits(report.hits)).toBe('');
      expect(report.samples).toBeGreaterThan(1);
    }
    expect(out.restarted).toBe('none');
    expect(sb.starts()).toBe(starts);
    expect(out.steps.find((s) => s.name === 'docker group')).toEqual({ name: 'docker group', status: 'success', message: `the VM's admin user ${user} added to the docker group (effective at the user's next login)` });
    expect(out.steps.find((s) => s.name === 'login')).toEqual({ name: 'login', status: 'success', message: `root and ${user} logged in to ${reg.host} (credentials checked by dockerd, stored in /root/.docker/config.json and ${home}/.docker/config.json)` });
    expect(dockerMembers()).toContain(user);
    expect(describeHits(scanCanaryText(published(out), [PASSWORD, REG_USER], 'outcome and handler.log'))).toBe('');
    // The commands were logged (argv, exit code), the password nowhere in them.
    expect(readFileSync(logFile(), 'utf8')).toContain('registry login');
    expect(describeHits(scanCanaryPaths([path.join(sb.dir, 'commands.log'), path.join(sb.root, 'var/lib/azure-docker-extension')], [PASSWORD, REG_USER]).hits)).toBe('');

    // Root's client: its own directory, 0600; the user's: in the user's home, the user's own.
    expect(auths(rootConfig())).toEqual([reg.host]);
    expect(statSync(rootConfig()).mode & 0o777).toBe(0o600);
    expect(auths(userConfig())).toEqual([reg.host]);
    const us = statSync(userConfig());
    expect([us.uid, us.mode & 0o777]).toEqual([uid(), 0o600]);
    expect(statSync(path.dirname(userConfig())).uid).toBe(uid());
    const rec = sb.fs.resolve('/var/lib/azure-docker-extension/registry-login.json');
    expect(statSync(rec).mode & 0o777).toBe(0o600);

    expect(docker(['pull', image])).toMatchObject({ ok: true });
    expect(docker(['rmi', image]).ok).toBe(true);
    expect(docker(['pull', image], 'user')).toMatchObject({ ok: true });
    expect(docker(['rmi', image]).ok).toBe(true);
  }, 180_000);

  test('the same login again logs in nothing and restarts nothing', async () => {
    const before = [readFileSync(rootConfig()), readFileSync(userConfig())];
    const calls = cmd.calls.length;
    const out = await enable({ server: `https://${reg.host}`, username: REG_USER, password: PASSWORD });
    expect(out.changed).toBe(false);
    expect(out.steps.find((s) => s.name === 'login')!.message).toBe(`root and ${user} logged in to ${reg.host} (unchanged; not logged in again)`);
    expect(cmd.calls.slice(calls).filter((c) => c.includes(WRITE_CONFIG_SCRIPT))).toEqual([]);
    expect([readFileSync(rootConfig()), readFileSync(userConfig())]).toEqual(before);
  }, 120_000);

  test('a wrong password: a clear error naming "login" and the server; dockerd serves, nothing else changed', async () => {
    const files = [rootConfig(), userConfig(), sb.fs.resolve('/var/lib/azure-docker-extension/registry-login.json'), sb.fs.resolve('/etc/docker/daemon.json')];
    const before = files.map((f) => readFileSync(f));
    const pid = sb.pid();
    const err = await enable({ server: reg.host, username: REG_USER, password: 'wrong-password' }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(new RegExp(`^protected setting "login": logging in to ${reg.host.replace(/\./g, '\\.')} failed \\(dockerd: .*(401|unauthorized|Unauthorized).*\\)\\. dockerd keeps serving; no credentials were stored\\.`));
    expect(err?.message).not.toContain('wrong-password');
    expect(await waitPing(sb.socket, 20)).toBe('OK');
    expect(sb.pid()).toBe(pid);
    expect(files.map((f) => readFileSync(f))).toEqual(before);
  }, 120_000);

  test('login removed from the settings: root and the user are logged out, the record forgotten', async () => {
    const out = await enable();
    expect(out.steps.find((s) => s.name === 'login')!.message).toBe(`root and ${user} logged out of ${reg.host} ("login" is no longer in the settings)`);
    expect(auths(rootConfig())).toEqual([]);
    expect(auths(userConfig())).toEqual([]);
    expect(await sb.fs.exists('/var/lib/azure-docker-extension/registry-login.json')).toBe(false);
    expect(docker(['pull', image]).ok).toBe(false);
  }, 120_000);

  test('an ovf-env.xml naming a user this VM does not have: a warning, not a failure', async () => {
    writeOvf('adxnosuchuser');
    try {
      const out = await enable({ server: reg.host, username: REG_USER, password: PASSWORD });
      expect(out.warnings).toContain(`the VM's admin user "adxnosuchuser" (from ${ovf}) does not exist on this VM, so it is not added to the docker group; create it, or add another user yourself with usermod -aG docker <user>`);
      expect(out.steps.find((s) => s.name === 'login')!.message).toBe(`root logged in to ${reg.host} (credentials checked by dockerd, stored in /root/.docker/config.json)`);
      expect(docker(['pull', image]).ok).toBe(true);
      expect(docker(['rmi', image]).ok).toBe(true);
    } finally {
      writeOvf(user);
    }
  }, 120_000);

  test('uninstall logs out what the extension logged in and takes back the membership it added', async () => {
    await enable({ server: reg.host, username: REG_USER, password: PASSWORD });
    expect(auths(userConfig())).toEqual([reg.host]);
    const out = await removeEngineConfig({ ...sb.ports(), cmd }, { log: createLogger({ file: logFile() }), stateDir: sb.stateDir, removeEngine: false, layout: { ...sb.layout, ovfEnvFile: ovf } });
    expect(out.steps.find((s) => s.name === 'docker group')!.message).toBe(`${user} removed from the docker group (the extension had added it)`);
    expect(dockerMembers()).not.toContain(user);
    expect(auths(rootConfig())).toEqual([]);
    expect(auths(userConfig())).toEqual([]);
  }, 120_000);
  test('login, then compose in the same enable: compose pulls the private image with the credentials just stored and starts it; no process holds the password', async () => {
    docker(['rmi', image]); // not on the machine: compose must pull it
    // The sandbox's dockerd has no bridge network.
    const compose = { services: { private: { image, command: ['/bin/busybox', 'sleep', '86400'], network_mode: 'none' } } };
    const sampler = await startProcessSampler([PASSWORD, REG_USER], { intervalMs: 5 });
    let out: EngineOutcome;
    try {
      out = await enable({ server: reg.host, username: REG_USER, password: PASSWORD }, { compose });
    } finally {
      const report = await sampler.stop();
      expect(describeHits(report.hits)).toBe('');
    }
    // The login ran first (the pull could not have succeeded otherwise; the log shows the order too).
    const log = readFileSync(logFile(), 'utf8');
    expect(log.lastIndexOf('"event":"registry login"')).toBeGreaterThan(-1);
    expect(log.lastIndexOf('"event":"compose up"')).toBeGreaterThan(log.lastIndexOf('"event":"registry login"'));
    expect(out.steps.find((s) => s.name === 'login')!.status).toBe('success');
    expect(out.steps.find((s) => s.name === 'compose')!.message).toMatch(/^project compose \(private\) with docker-compose 1\.29\.2: up -d ran/);
    expect(containerState(sb.socket, 'compose_private_1').running).toBe(true);
    expect(describeHits(scanCanaryText(published(out), [PASSWORD, REG_USER], 'outcome and handler.log'))).toBe('');

    // What `handler.sh status` reads of it (its compose, login and docker group part), from the real
    // records, containers, config.json and /etc/group: as applied, then a container stopped by hand.
    const status = async () =>
      workloadStatus(await readWorkloadFacts(sb.fs, { dataDir: sb.stateDir, socketPath: sb.socket, dockerAnswers: true, rootDockerConfig: '/root/.docker', accounts: new RootedFileSystem('/') }));
    const applied = await status();
    expect(applied).toEqual({
      compose: { project: 'compose', file: '/etc/docker/compose/docker-compose.yml', services: [{ name: 'private', running: 1, total: 1 }], fileAsWritten: true, upFinished: true, containersUnknown: false },
      login: { server: reg.host, accounts: ['root', user], rootHasCredentials: true },
      dockerGroup: { user, addedAt: expect.any(String), member: true },
      problems: [],
    });
    expect(docker(['stop', '-t', '1', 'compose_private_1']).ok).toBe(true);
    const stopped = await status();
    expect(stopped.compose?.services).toEqual([{ name: 'private', running: 0, total: 1 }]);
    expect(stopped.problems).toEqual([expect.stringMatching(/^compose project compose: service private has 0 of 1 containers running .*; start it with compose \(docker compose -p compose -f \/etc\/docker\/compose\/docker-compose\.yml up -d/)]);
    expect(describeHits(scanCanaryText(JSON.stringify([applied, stopped]), [PASSWORD, REG_USER], 'status'))).toBe('');

    // Uninstall: the project down, then the logout.
    const un = await removeEngineConfig({ ...sb.ports(), cmd }, { log: createLogger({ file: logFile() }), stateDir: sb.stateDir, removeEngine: false, layout: { ...sb.layout, ovfEnvFile: ovf } });
    expect(un.steps.find((s) => s.name === 'compose')!.message).toMatch(/^project compose taken down/);
    expect(docker(['ps', '-aq', '--filter', 'label=com.docker.compose.project=compose']).out.trim()).toBe('');
    expect(auths(rootConfig())).toEqual([]);
  }, 240_000);
});
