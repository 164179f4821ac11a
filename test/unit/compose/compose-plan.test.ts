// The compose project's pure parts: the v1 → compose specification conversion, the file the
// extension writes, the decision to run `up -d` (and only then), the removal, and the settings'
// checks of the project name and timeout overrides.
import { describe, expect, test } from '@jest/globals';
import { parseSettings } from '../../../handler/agent/settings.js';
import { summariseSettings } from '../../../handler/agent/settings-summary.js';
import { toComposeSpec } from '../../../handler/compose/convert.js';
import { COMPOSE_FILE, desiredCompose, planCompose, recordOf, type ComposeObserved } from '../../../handler/compose/desired.js';
import { describeSteps } from '../../../handler/docker/plan.js';
import { CLI_PLUGIN_DIRS, findCompose } from '../../../handler/compose/observe.js';
import type { CommandRunner, ReadFileSystem } from '../../../handler/system/ports.js';
import { settingsError } from '../../support/settings-error.js';

// The old extension's README example (file format v1: services at the top level).
const OLD_README = { db: { image: 'memcached', ports: ['11211:11211'] }, web: { image: 'ghost', ports: ['80:2368'], links: ['db'], net: 'bridge' } };
const SALT = '07'.repeat(32);
const RECORD = '/var/lib/azure-docker-extension/compose-state.json';
const SECRET = 'hunter2-protected-value';

const settings = (pub: Record<string, unknown>, prot: Record<string, unknown> = {}) => parseSettings(pub, prot);
const kinds = (steps: { step: { kind: string } }[]) => steps.map((s) => s.step.kind);

describe('v1 → compose specification', () => {
  test('the old README example: services under "services", links kept, net as network_mode, said once', () => {
    const c = toComposeSpec(OLD_README);
    expect(c.document).toEqual({ version: '2.4', services: { db: { image: 'memcached', ports: ['11211:11211'] }, web: { image: 'ghost', ports: ['80:2368'], links: ['db'], network_mode: 'bridge' } } });
    expect(c.notes).toHaveLength(1);
    expect(c.notes[0]).toMatch(/compose file format v1.*"net" as "network_mode"/);
  });
  test('log_driver/log_opt and dockerfile take the spec\'s shape', () => {
    const c = toComposeSpec({ app: { build: '.', dockerfile: 'Dockerfile.prod', log_driver: 'syslog', log_opt: { tag: 'x' } } });
    expect(c.document).toEqual({ version: '2.4', services: { app: { build: { context: '.', dockerfile: 'Dockerfile.prod' }, logging: { driver: 'syslog', options: { tag: 'x' } } } } });
  });
  test('a document with "services" is left as written', () => {
    const doc = { version: '3', services: { a: { image: 'x', net: 'host' } }, volumes: { v: {} } };
    expect(toComposeSpec(doc)).toEqual({ document: doc, notes: [] });
  });
});

describe('desired compose', () => {
  test('JSON file under /etc/docker/compose, project "compose" and timeout 600 by default; values only in the environment', () => {
    const d = desiredCompose(settings({ compose: OLD_README, 'compose-environment': { TAG: 'v1' } }, { environment: { DB_PASSWORD: SECRET } }))!;
    expect(d.file).toBe(COMPOSE_FILE);
    expect(d.project).toBe('compose');
    expect(JSON.parse(d.content)).toEqual(toComposeSpec(OLD_README).document);
    expect(d.content).not.toContain(SECRET);
    expect(d.env).toEqual({ COMPOSE_PROJECT_NAME: 'compose', COMPOSE_HTTP_TIMEOUT: '600', TAG: 'v1', DB_PASSWORD: SECRET });
  });
  test('project name and timeout overridden through compose-environment, as the old extension allowed', () => {
    const d = desiredCompose(settings({ compose: OLD_README, 'compose-environment': { COMPOSE_PROJECT_NAME: 'shop', COMPOSE_HTTP_TIMEOUT: '120' } }))!;
    expect(d.project).toBe('shop');
    expect(d.env['COMPOSE_HTTP_TIMEOUT']).toBe('120');
  });
  test('bad overrides and a protected project name are named, all at once', () => {
    const msg = settingsError(
      { compose: { a: 'nginx' }, 'compose-environment': { COMPOSE_PROJECT_NAME: 'My Shop', COMPOSE_HTTP_TIMEOUT: '10s', DOCKER_HOST: 'tcp://x' } },
      { environment: { COMPOSE_PROJECT_NAME: 'x' } },
    );
    expect(msg).toContain('"compose-environment.COMPOSE_PROJECT_NAME" must be a compose project name');
    expect(msg).toContain('"compose-environment.COMPOSE_HTTP_TIMEOUT" must be a whole number of seconds');
    expect(msg).toContain('"compose-environment" must not set DOCKER_HOST');
    expect(msg).toContain('protected setting "environment" must not set COMPOSE_PROJECT_NAME');
    expect(msg).toContain('"compose" must hold each service as an object');
  });
  test('the summary and status say what runs; nothing says "not applied" for compose', () => {
    const s = settings({ compose: OLD_README }, { environment: { DB_PASSWORD: SECRET } });
    expect(summariseSettings(s)).toContain('compose project compose (services db, web; environment COMPOSE_HTTP_TIMEOUT, COMPOSE_PROJECT_NAME and 1 protected variable(s))');
    expect(summariseSettings(s)).not.toContain('DB_PASSWORD');
    expect(summariseSettings(s)).not.toMatch(/not applied/);
  });
});

describe('the up decision', () => {
  const d = desiredCompose(settings({ compose: OLD_README, 'compose-environment': { TAG: 'v1' } }, { environment: { DB_PASSWORD: SECRET } }))!;
  const applied = recordOf(d, SALT);
  const running = { db: { total: 1, running: 1 }, web: { total: 1, running: 1 } };
  const tool = { file: 'docker-compose', label: 'docker-compose', version: '1.29.2' };
  const steady: ComposeObserved = { record: applied, file: { content: d.content, mode: 0o600 }, tool, containers: running };

  test('first enable: record (pending), file, up, record', () => {
    const p = planCompose(d, { tool, containers: {} }, SALT, RECORD);
    expect(kinds(p.steps)).toEqual(['save-compose-state', 'write-file', 'compose-up', 'save-compose-state']);
    expect(p.steps[0]!.compose!.record!.pending).toBe(true);
    expect(p.steps[3]!.compose!.record!.pending).toBeUndefined();
  });
  test('unchanged and all running: nothing at all (a boot or a re-enable recreates nothing)', () => {
    const p = planCompose(d, steady, SALT, RECORD);
    expect(p.steps).toEqual([]);
    expect(p.why).toMatch(/unchanged and running/);
  });
  test('a recorded project keeps its salt: a new one offered changes nothing', () => {
    expect(planCompose(d, steady, 'ab'.repeat(32), RECORD).steps).toEqual([]);
  });
  test('only compose-environment changed: up again, the file untouched', () => {
    const d2 = desiredCompose(settings({ compose: OLD_README, 'compose-environment': { TAG: 'v2' } }, { environment: { DB_PASSWORD: SECRET } }))!;
    const p = planCompose(d2, steady, SALT, RECORD);
    expect(kinds(p.steps)).toEqual(['save-compose-state', 'compose-up', 'save-compose-state']);
    expect(p.why).toBe('the compose environment changed');
  });
  test('a protected value changed: up again; the record holds no value', () => {
    const d2 = desiredCompose(settings({ compose: OLD_README, 'compose-environment': { TAG: 'v1' } }, { environment: { DB_PASSWORD: 'other' } }))!;
    const p = planCompose(d2, steady, SALT, RECORD);
    expect(p.why).toBe('the compose environment changed');
    const saved = JSON.stringify(p.steps.map((s) => s.compose?.record));
    expect(saved).not.toContain('other');
    expect(saved).not.toContain(SECRET);
  });
  test('a container stopped: up again', () => {
    const p = planCompose(d, { ...steady, containers: { db: { total: 1, running: 1 }, web: { total: 1, running: 0 } } }, SALT, RECORD);
    expect(p.why).toBe("not all of the project's containers run (web)");
    expect(kinds(p.steps)).toContain('compose-up');
  });
  test('no compose on the machine: the distro package first', () => {
    const { tool: _t, ...rest } = steady;
    const p = planCompose(d, { ...rest, install: { manager: 'apt', packages: ['docker-compose'], reason: 'none installed' } }, SALT, RECORD);
    expect(kinds(p.steps)[0]).toBe('install-compose');
  });
  test('project renamed: the old one down first', () => {
    const d2 = desiredCompose(settings({ compose: OLD_README, 'compose-environment': { TAG: 'v1', COMPOSE_PROJECT_NAME: 'shop' } }, { environment: { DB_PASSWORD: SECRET } }))!;
    const p = planCompose(d2, steady, SALT, RECORD);
    expect(kinds(p.steps)).toEqual(['compose-down', 'save-compose-state', 'compose-up', 'save-compose-state']);
    expect(p.steps[0]!.step).toMatchObject({ project: 'compose' });
  });
  test('"compose" removed: down (volumes kept), file removed, record forgotten', () => {
    const p = planCompose(undefined, steady, SALT, RECORD);
    expect(kinds(p.steps)).toEqual(['compose-down', 'remove-file', 'remove-empty-dir', 'forget-state']);
    // The record last: a killed run's successor plans the rest of the removal again.
    expect((p.steps.at(-1)!.step as { path: string }).path).toBe(RECORD);
  });
  test('removed after a killed run\'s down and file removal: no down again (compose cannot read a missing file), the rest done', () => {
    const p = planCompose(undefined, { record: applied, containers: {}, recordFileExists: false }, SALT, RECORD);
    expect(kinds(p.steps)).toEqual(['remove-file', 'remove-empty-dir', 'forget-state']);
  });
  test('removed with the file gone but containers of the project left: down is still planned', () => {
    const p = planCompose(undefined, { record: applied, containers: { db: { total: 1, running: 1 } }, recordFileExists: false }, SALT, RECORD);
    expect(kinds(p.steps)[0]).toBe('compose-down');
  });
  test('the printed plan names protected variables only by number', () => {
    const p = planCompose(d, { tool, containers: {} }, SALT, RECORD);
    const lines = describeSteps(p.steps.map((s) => s.step)).join('\n');
    expect(lines).toContain('compose up -d project compose from /etc/docker/compose/docker-compose.yml (environment: COMPOSE_HTTP_TIMEOUT, COMPOSE_PROJECT_NAME, TAG and 1 protected variable(s))');
    expect(lines).not.toContain('DB_PASSWORD');
    expect(lines).not.toContain(SECRET);
  });
});

describe('finding compose', () => {
  // The docker CLI pings dockerd before it runs a plugin, and a ping on a stopped dockerd's socket
  // starts it (socket activation) with the unit's flags, before the plan has written its drop-in:
  // seen in the update from 1.x. So the plugin's binary is run directly, never `docker compose`.
  const recording = (answers: Record<string, string>) => {
    const calls: string[] = [];
    const cmd: CommandRunner = {
      run: async (file, args) => {
        calls.push([file, ...args].join(' '));
        const out = answers[file];
        return { exitCode: out === undefined ? 127 : 0, stdout: out ?? '', stderr: '', timedOut: false };
      },
    };
    return { cmd, calls };
  };
  const fsWith = (files: string[]) => ({ exists: async (p: string) => files.includes(p) }) as unknown as ReadFileSystem;
  const plugin = `${CLI_PLUGIN_DIRS[3]}/docker-compose`;

  test('the v2 plugin, run as its own binary', async () => {
    const { cmd, calls } = recording({ [plugin]: '2.26.1' });
    expect(await findCompose(cmd, fsWith([plugin]))).toEqual({ file: plugin, label: 'docker compose', version: '2.26.1' });
    expect(calls).toEqual([`${plugin} version --short`]);
  });
  test('else docker-compose from PATH (v1)', async () => {
    const { cmd, calls } = recording({ 'docker-compose': '1.29.2' });
    expect(await findCompose(cmd, fsWith([]))).toEqual({ file: 'docker-compose', label: 'docker-compose', version: '1.29.2' });
    expect(calls.some((c) => c.startsWith('docker '))).toBe(false);
  });
  test('none: undefined, and the docker CLI never ran', async () => {
    const { cmd, calls } = recording({});
    expect(await findCompose(cmd, fsWith([]))).toBeUndefined();
    expect(calls).toEqual(['docker-compose version --short']);
  });
});
