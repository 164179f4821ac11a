// (integration) kill -9 after every step of an enable that has a compose project and a registry
// login, then enable again, against the real sandbox dockerd, a real registry (Debian's
// docker-registry behind TLS and htpasswd), the host's docker-compose 1.29.2 and a real user made
// with useradd as the VM's admin user (named by an ovf-env.xml as the agent keeps it). The compose
// project's image is private: compose pulls it with the login the same enable stored.
//
// Four moves, each killed after every step in turn (the applier's test-only hook,
// handler/docker/progress.ts, through test/support/apply-driver.ts): (a) a fresh machine to compose
// and login; (b) only compose-environment changed; (c) compose and login removed; (d) the uninstall
// of compose and login (the next uninstall converges: nothing of them left, dockerd serving). After
// each kill in (a) to (c), an enable of the same settings converges: exactly the project's containers run (one per service, nothing
// else), the compose file is whole and 0600 (or absent), root's and the user's config.json are
// whole JSON holding the login exactly when it is wanted, the records are whole and name what is
// there (a second enable recreates, restarts and logs in nothing), and dockerd serves, restarted
// by none of the compose and login steps.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseSettings } from '../../../handler/agent/settings.js';
import { planEngine, reconcileEngine, removeEngineConfig, type EngineOutcome } from '../../../handler/docker/engine.js';
import { stepName } from '../../../handler/docker/plan.js';
import { readRollback } from '../../../handler/docker/state.js';
import { silentLogger } from '../../../handler/log/logger.js';
import { bundleDriver } from '../../support/bundle-driver.js';
import { containerState } from '../../support/busybox-container.js';
import { createSandbox, ProbeOnlyCommandRunner, socketGet, waitPing, type Sandbox } from '../../support/docker-daemon.js';
import { killedAfterStep, type DriverSettings } from '../../support/kill-driver.js';
import { ovfEnvXml } from '../../support/ovf-env.js';
import { loginSuiteUnavailable, pushBusybox, startRegistry, trustRegistry, type TestRegistry } from '../../support/registry.js';
import { describeHits, scanCanaryPaths } from '../../support/secret-canary.js';

const skip = loginSuiteUnavailable();
const d = skip ? describe.skip : describe;
if (skip) console.warn(`(integration) kill -9 compose and login tests skipped: ${skip}`);

/** What the compose and access steps run for real besides the package probes. */
const RUN = ['docker-compose', 'getent', 'usermod', 'gpasswd', 'setpriv'];
const OVF = '/var/lib/waagent/ovf-env.xml';
const STATE_DIR = '/var/lib/azure-docker-extension';
const COMPOSE_FILE = '/etc/docker/compose/docker-compose.yml';
const CONTAINER = 'compose_sleeper_1';
const PASSWORD = `pw-${process.pid}-Kc9!canary`;
const REG_USER = `adx-kill-${process.pid}-canary`;
const ENV_SECRET = `adx-kill-compose-env-${process.pid}-canary`;

d('(integration) kill -9 after every compose and login step, then enable again', () => {
  let sb: Sandbox;
  let reg: TestRegistry;
  let image: string;
  let driver: string;
  let home: string;
  const user = `adxk${process.pid % 100000}`;
  const cmd = new ProbeOnlyCommandRunner(RUN);
  const log = silentLogger();
  const layout = () => ({ ...sb.layout, ovfEnvFile: OVF });
  const ports = () => ({ ...sb.ports(), cmd });

  /**
   * Compose (its private image, ${SLEEP} public, ${DB_PASSWORD} protected) and the login; `sleep`
   * undefined: neither. busybox sleep as a container's pid 1 ignores SIGTERM, so each `down` and
   * each recreation would wait dockerd's 10 s stop timeout: SIGKILL stops it at once.
   */
  const settings = (sleep?: string): DriverSettings =>
    sleep === undefined
      ? { public: {}, protected: {} }
      : {
          public: {
            compose: { services: { sleeper: { image, command: ['/bin/busybox', 'sleep', '${SLEEP}'], environment: { DB_PASSWORD: '${DB_PASSWORD}' }, network_mode: 'none', stop_signal: 'SIGKILL' } } },
            'compose-environment': { SLEEP: sleep },
          },
          protected: { login: { server: reg.host, username: REG_USER, password: PASSWORD }, environment: { DB_PASSWORD: ENV_SECRET } },
        };
  const enable = (s: DriverSettings) => reconcileEngine(parseSettings(s.public, s.protected), ports(), { log, stateDir: STATE_DIR, layout: layout() });
  const uninstall = () => removeEngineConfig(ports(), { log, stateDir: STATE_DIR, removeEngine: false, layout: layout() });
  const killedAfter = (s: DriverSettings, n: number) => killedAfterStep(driver, sb.dir, { ...s, run: RUN, ovfEnvFile: OVF }, n);

  const docker = (args: string[]) => spawnSync('docker', ['-H', `unix://${sb.socket}`, ...args], { encoding: 'utf8', timeout: 120_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent' } });
  const rootConfig = () => path.join(sb.root, 'root/.docker/config.json');
  const userConfig = () => path.join(home, '.docker/config.json');
  const read = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8') : undefined);
  /** The files an admin would look at, each as a whole text: the old or the new one at any kill. */
  const files = () => ({ daemonJson: read(sb.fs.resolve('/etc/docker/daemon.json')), compose: read(sb.fs.resolve(COMPOSE_FILE)), root: read(rootConfig()), user: read(userConfig()) });
  const records = () => (existsSync(sb.fs.resolve(STATE_DIR)) ? readdirSync(sb.fs.resolve(STATE_DIR)).sort() : []);
  const auths = (text: string | undefined) => (text === undefined ? [] : Object.keys((JSON.parse(text) as { auths?: object }).auths ?? {}));
  const inGroup = () => (execFileSync('getent', ['group', 'docker'], { encoding: 'utf8' }).trim().split(':')[3] ?? '').split(',').includes(user);
  /** Every container dockerd has: name, state, and the command's arguments. */
  const containers = async () => {
    const list = JSON.parse(await socketGet(sb.socket, '/containers/json?all=1')) as { Names: string[]; State: string; Labels: Record<string, string>; Id: string }[];
    const out: { name: string; state: string; project?: string; args: string[] }[] = [];
    for (const c of list) {
      const inspect = JSON.parse(await socketGet(sb.socket, `/containers/${c.Id}/json`)) as { Args: string[] };
      out.push({ name: c.Names[0]!.replace(/^\//, ''), state: c.State, project: c.Labels['com.docker.compose.project'], args: inspect.Args });
    }
    return out;
  };
  const line = (out: EngineOutcome, name: string) => out.steps.find((s) => s.name === name)?.message ?? '';

  /** The machine as a converged enable of `s` leaves it. */
  const expectConverged = async (sleep: string | undefined, want: ReturnType<typeof files>) => {
    expect(await waitPing(sb.socket, 300)).toBe('OK');
    expect(files()).toEqual(want);
    if (sleep !== undefined) {
      expect(await containers()).toEqual([{ name: CONTAINER, state: 'running', project: 'compose', args: ['sleep', sleep] }]);
      expect(statSync(sb.fs.resolve(COMPOSE_FILE)).mode & 0o777).toBe(0o600);
      expect(auths(want.root)).toEqual([reg.host]);
      expect(auths(want.user)).toEqual([reg.host]);
      expect(records()).toEqual(['compose-state.json', 'docker-group.json', 'engine-state.json', 'registry-login.json']);
      expect(JSON.parse(readFileSync(sb.fs.resolve(`${STATE_DIR}/compose-state.json`), 'utf8')).pending).toBeUndefined();
    } else {
      expect(await containers()).toEqual([]);
      expect(existsSync(sb.fs.resolve('/etc/docker/compose'))).toBe(false);
      expect(auths(want.root)).toEqual([]);
      expect(auths(want.user)).toEqual([]);
      expect(records()).toEqual(['docker-group.json', 'engine-state.json']);
    }
    expect(inGroup()).toBe(true);
  };

  /** A second enable: nothing restarted, recreated, logged in or written. */
  const expectSettled = async (s: DriverSettings, sleep: string | undefined) => {
    const before = { files: files(), starts: sb.starts(), pid: sb.pid(), container: sleep !== undefined ? containerState(sb.socket, CONTAINER) : undefined };
    const out = await enable(s);
    expect(out.changed).toBe(false);
    expect(out.restarted).toBe('none');
    if (sleep !== undefined) {
      expect(line(out, 'compose')).toMatch(/unchanged and running; nothing recreated/);
      expect(line(out, 'login')).toMatch(/\(unchanged; not logged in again\)$/);
      expect(containerState(sb.socket, CONTAINER)).toEqual(before.container);
    }
    expect({ files: files(), starts: sb.starts(), pid: sb.pid() }).toEqual({ files: before.files, starts: before.starts, pid: before.pid });
  };

  /**
   * Kills an apply of `to` after its 1st, 2nd, … step until one finishes, each time from the state
   * `from()` sets up; checks the machine at the kill and after the enable that follows. Returns
   * the step each kill came after: the progress record's last entry, or, when the configuration
   * of dockerd does not change (no record is kept), the dry run's plan from the proof on.
   */
  const killEveryStep = async (from: () => Promise<void>, to: DriverSettings, sleep: string | undefined, old: ReturnType<typeof files>, neu: ReturnType<typeof files>) => {
    const kills: string[] = [];
    let plan: string[] = [];
    for (let n = 1; n < 40; n++) {
      await from();
      expect(files()).toEqual(old);
      if (n === 1) plan = (await planEngine(parseSettings(to.public, to.protected), ports(), { log, stateDir: STATE_DIR, layout: layout() })).plan.map(stepName);
      const fromProof = plan.slice(plan.indexOf('verify'));
      const starts = sb.starts();
      const pid = sb.pid();
      const r = killedAfter(to, n);
      if (!r.killed) {
        expect(r.out).toMatch(/"ok":true/);
        await expectConverged(sleep, neu);
        break;
      }
      const rec = await readRollback(sb.fs, STATE_DIR);
      const at = rec?.done?.at(-1) ?? fromProof[n - 1] ?? `(step ${n})`;
      kills.push(at);
      // At the kill: each file whole, the old or the new; every record whole JSON; dockerd up.
      const now = files();
      for (const k of Object.keys(now) as (keyof typeof now)[]) expect({ at, k, ok: [old[k], neu[k]].includes(now[k]) }).toEqual({ at, k, ok: true });
      for (const f of records()) {
        const text = readFileSync(sb.fs.resolve(`${STATE_DIR}/${f}`), 'utf8');
        expect({ at, f, whole: isJson(text) }).toEqual({ at, f, whole: true });
      }
      expect(await waitPing(sb.socket, 300)).toBe('OK');
      // dockerd is (re)started only by the plan's own service step, before the proof; the compose
      // and login steps come after it, so a run killed among them restarts nothing more, and
      // neither does the enable that follows. A run killed before the proof: one restart at most.
      // (a)'s own change of dockerd is a reload (SIGHUP): the same dockerd throughout.
      const restartStep = plan.slice(0, plan.indexOf('verify')).some((s) => /^(restart|start)-service$/.test(s));
      const proved = rec === undefined || rec.done?.includes('verify') === true;
      expect({ at, killedRunStarts: sb.starts() - starts <= (restartStep ? 1 : 0) }).toEqual({ at, killedRunStarts: true });
      if (!restartStep) expect({ at, pid: sb.pid() }).toEqual({ at, pid });

      const startsBefore = sb.starts();
      const out = await enable(to);
      const restarts = sb.starts() - startsBefore;
      expect({ at, restarts: proved ? restarts === 0 : restarts <= 1 }).toEqual({ at, restarts: true });
      if (sleep !== undefined) expect(line(out, 'login')).toMatch(new RegExp(`^root and ${user} logged in to ${reg.host.replace(/\./g, '\\.')}`));
      await expectConverged(sleep, neu);
      await expectSettled(to, sleep);
    }
    // Neither secret in a record, the compose file or anything else under /etc/docker.
    expect(describeHits(scanCanaryPaths([sb.fs.resolve(STATE_DIR), sb.fs.resolve('/etc/docker')], [PASSWORD, REG_USER, ENV_SECRET]).hits)).toBe('');
    return kills;
  };

  /** The machine as users start: dockerd as its package runs it, no project, nobody logged in, the image not pulled. */
  const fresh = async () => {
    await uninstall();
    rmSync(path.join(sb.root, 'root/.docker'), { recursive: true, force: true });
    rmSync(path.join(home, '.docker'), { recursive: true, force: true });
    docker(['rmi', image]);
    expect({ records: records(), containers: await containers(), inGroup: inGroup(), image: docker(['image', 'inspect', image]).status }).toEqual({ records: [], containers: [], inGroup: false, image: 1 });
  };

  beforeAll(async () => {
    sb = createSandbox();
    driver = path.join(sb.dir, 'apply-driver.cjs');
    await bundleDriver('test/support/apply-driver.ts', driver);
    // The user reaches the sandbox's socket (root:docker 0660) as a VM's admin user reaches /run/docker.sock.
    chmodSync(sb.dir, 0o711);
    chmodSync(path.join(sb.dir, 'run'), 0o711);
    execFileSync('useradd', ['-m', '-s', '/bin/sh', user]);
    home = execFileSync('getent', ['passwd', user], { encoding: 'utf8' }).trim().split(':')[5]!;
    const ovf = sb.fs.resolve(OVF);
    mkdirSync(path.dirname(ovf), { recursive: true, mode: 0o700 });
    writeFileSync(ovf, ovfEnvXml(user), { mode: 0o400 });
    reg = await startRegistry({ [REG_USER]: PASSWORD });
    // dockerd up (nothing else), the registry's CA trusted as an admin would, the private image pushed.
    await enable(settings());
    trustRegistry(sb.fs.resolve('/etc/docker'), reg);
    image = pushBusybox(sb.socket, reg, REG_USER, PASSWORD);
  }, 180_000);

  afterAll(async () => {
    await reg?.stop();
    await sb?.cleanup();
    spawnSync('userdel', ['-r', user], { stdio: 'ignore' });
  }, 60_000);

  test('(a) a fresh machine to compose and login: killed after each step, the next enable converges', async () => {
    const a = settings('86400');
    await fresh();
    const old = files();
    await enable(a);
    const neu = files();
    await expectConverged('86400', neu);
    const kills = await killEveryStep(fresh, a, '86400', old, neu);
    expect(kills).toEqual([
      // dockerd's part: live-restore into daemon.json, a SIGHUP, the proof
      'snapshot',
      'save-state',
      'write-file /etc/docker/daemon.json',
      'reload-service',
      'verify',
      // the admin user into the docker group (recorded first), root's and the user's login, its record
      `write-file ${STATE_DIR}/docker-group.json`,
      `add-to-docker-group ${user}`,
      'registry-login root',
      `registry-login ${user}`,
      `write-file ${STATE_DIR}/registry-login.json`,
      // the project named (pending) before its file and `up`, then recorded as applied
      'save-compose-state',
      `write-file ${COMPOSE_FILE}`,
      'compose-up compose',
      'save-compose-state',
    ]);
  }, 900_000);

  test('(b) only compose-environment changed: killed after each step, the next enable converges', async () => {
    const a = settings('86400');
    const b = settings('86401');
    await enable(a);
    const old = files();
    await enable(b);
    const neu = files();
    await expectConverged('86401', neu);
    const kills = await killEveryStep(async () => void (await enable(a)), b, '86401', old, neu);
    // dockerd's configuration is unchanged (only its proof runs); the file too: the environment is compose's.
    expect(kills).toEqual(['verify', 'save-compose-state', 'compose-up compose', 'save-compose-state']);
  }, 900_000);

  test('(c) compose and login removed (project down, logout): killed after each step, the next enable converges', async () => {
    const b = settings('86401');
    const none = settings();
    await enable(b);
    const old = files();
    await enable(none);
    const neu = files();
    await expectConverged(undefined, neu);
    const kills = await killEveryStep(async () => void (await enable(b)), none, undefined, old, neu);
    expect(kills).toEqual([
      'verify',
      // logged out (root's and the user's config.json keep their other keys), the login record forgotten
      'registry-logout root',
      `registry-logout ${user}`,
      'forget-state',
      // the project down, its file and folder removed, then the record
      'compose-down compose',
      `remove-file ${COMPOSE_FILE}`,
      'remove-empty-dir /etc/docker/compose',
      'forget-state',
    ]);
  }, 900_000);

  test('(d) uninstall with compose and login: killed after each step, the next uninstall converges', async () => {
    const b = settings('86401');
    await enable(b);
    const old = files();
    await uninstall();
    const gone = files();
    const uninstalled = async () => {
      expect(await waitPing(sb.socket, 300)).toBe('OK');
      expect(files()).toEqual(gone);
      expect({ daemonJson: gone.daemonJson, compose: gone.compose, root: auths(gone.root), user: auths(gone.user) }).toEqual({ daemonJson: undefined, compose: undefined, root: [], user: [] });
      expect({ containers: await containers(), records: records(), inGroup: inGroup(), composeDir: existsSync(sb.fs.resolve('/etc/docker/compose')) }).toEqual({ containers: [], records: [], inGroup: false, composeDir: false });
    };
    await uninstalled();
    const kills: string[] = [];
    for (let n = 1; n < 40; n++) {
      await enable(b);
      expect(files()).toEqual(old);
      const r = killedAfterStep(driver, sb.dir, { public: {}, protected: {}, remove: true, run: RUN, ovfEnvFile: OVF }, n);
      if (!r.killed) {
        expect(r.out).toMatch(/"ok":true/);
        await uninstalled();
        break;
      }
      // The logout and the membership come first, before any record: named by their place.
      const at = (await readRollback(sb.fs, STATE_DIR))?.done?.at(-1) ?? `(access step ${n})`;
      kills.push(at);
      const now = files();
      for (const k of Object.keys(now) as (keyof typeof now)[]) {
        // daemon.json has one stage between by design: the live-restore handover (only that key, false).
        const handover = k === 'daemonJson' && now[k] !== undefined && JSON.stringify(JSON.parse(now[k]!)) === '{"live-restore":false}';
        expect({ at, k, ok: [old[k], gone[k]].includes(now[k]) || handover }).toEqual({ at, k, ok: true });
      }
      for (const f of records()) expect({ at, f, whole: isJson(readFileSync(sb.fs.resolve(`${STATE_DIR}/${f}`), 'utf8')) }).toEqual({ at, f, whole: true });
      expect(await waitPing(sb.socket, 300)).toBe('OK');
      const starts = sb.starts();
      await uninstall();
      expect({ at, restarts: sb.starts() - starts <= 1 }).toEqual({ at, restarts: true });
      await uninstalled();
    }
    expect(kills).toEqual([
      // the membership given back and its record forgotten; root and the user logged out, the login record forgotten
      '(access step 1)',
      '(access step 2)',
      '(access step 3)',
      '(access step 4)',
      '(access step 5)',
      // dockerd's part (live-restore kept through the proof), the project down, its file and record
      'snapshot',
      'save-state',
      'verify',
      'compose-down compose',
      `remove-file ${COMPOSE_FILE}`,
      'remove-empty-dir /etc/docker/compose',
      'forget-state',
      // the live-restore handover, then the engine's record
      'write-file /etc/docker/daemon.json',
      'live-restore-off',
      'remove-file /etc/docker/daemon.json',
      'save-state',
      'forget-state',
    ]);
  }, 900_000);
});

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
