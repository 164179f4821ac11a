// (integration) The compose project against the REAL Debian docker.io dockerd and the host's
// Debian 12 docker-compose 1.29.2 (ensure-test-deps), isolated in a sandbox (docker-daemon.ts):
// up on the first enable, nothing recreated by an unchanged enable, up again when only
// compose-environment changes, down when "compose" goes and on uninstall. The protected
// environment value is looked for in every process's argv and environment (but the short-lived
// compose process's own environment, which is how it is meant to travel), in the log and the status.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseSettings } from '../../../handler/agent/settings.js';
import { registerSecrets } from '../../../handler/agent/sanitise.js';
import { reconcileEngine, removeEngineConfig, type EnginePorts } from '../../../handler/docker/engine.js';
import { StepFailedError } from '../../../handler/errors.js';
import { createLogger } from '../../../handler/log/logger.js';
import { busyboxUnavailable, containerState, IMAGE, importBusybox } from '../../support/busybox-container.js';
import { createSandbox, dockerUnavailable, ProbeOnlyCommandRunner, socketGet, type Sandbox } from '../../support/docker-daemon.js';
import { describeHits, scanCanaryPaths, scanCanaryText, startProcessSampler, type ProcessSampler } from '../../support/secret-canary.js';

const skip = dockerUnavailable() ?? busyboxUnavailable() ?? (existsSync('/usr/bin/docker-compose') ? undefined : 'docker-compose missing (scripts/ensure-test-deps.sh)');
const d = skip ? describe.skip : describe;
if (skip) console.warn(`(integration) compose tests skipped: ${skip}`);

const CANARY = 'adx-compose-canary-7d41a9';
// File format v1, as the old extension's users wrote it: "net" becomes "network_mode" (the
// sandbox's dockerd has no bridge), ${SLEEP} comes from compose-environment.
const COMPOSE = { sleeper: { image: IMAGE, command: ['/bin/busybox', 'sleep', '${SLEEP}'], net: 'none' } };
const CONTAINER = 'compose_sleeper_1';

d('(integration) compose project with a real dockerd and docker-compose 1.29.2', () => {
  let sb: Sandbox;
  let ports: EnginePorts;
  let logFile: string;
  let sampler: ProcessSampler | undefined;
  const statuses: string[] = [];
  const settings = (pub: Record<string, unknown>) => parseSettings(pub, { environment: { DB_PASSWORD: CANARY } });
  const enable = async (pub: Record<string, unknown>) => {
    const out = await reconcileEngine(settings(pub), ports, { log: createLogger({ file: logFile, level: 'debug' }), stateDir: sb.stateDir, layout: sb.layout });
    statuses.push(JSON.stringify(out));
    return out;
  };
  const composeLine = (out: { steps: { name: string; message: string }[] }) => out.steps.find((s) => s.name === 'compose')?.message ?? '';
  const projectContainers = async () => JSON.parse(await socketGet(sb.socket, `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ label: ['com.docker.compose.project=compose'] }))}`)) as unknown[];

  beforeAll(async () => {
    sb = createSandbox();
    logFile = path.join(sb.dir, 'handler.log');
    ports = { ...sb.ports(), cmd: new ProbeOnlyCommandRunner(['docker-compose']) };
    registerSecrets([CANARY]);
    sampler = await startProcessSampler([CANARY]);
    // dockerd first (no compose), then the image it runs: the sandbox has no registry.
    await reconcileEngine(parseSettings({}, {}), ports, { log: createLogger({ file: logFile }), stateDir: sb.stateDir, layout: sb.layout });
    importBusybox(sb.socket);
  }, 120_000);

  afterAll(async () => {
    await sampler?.stop().catch(() => undefined);
    await sb?.cleanup();
  }, 60_000);

  test('first enable: the v1 document converted, written 0600, up -d with the environment', async () => {
    const out = await enable({ compose: COMPOSE, 'compose-environment': { SLEEP: '86400' } });
    expect(composeLine(out)).toMatch(/^project compose \(sleeper\) with docker-compose 1\.29\.2: up -d ran \(the compose project is new\)/);
    expect(out.warnings.join(' ')).toMatch(/compose file format v1.*"net" as "network_mode"/);
    const file = await sb.fs.readText('/etc/docker/compose/docker-compose.yml');
    expect(JSON.parse(file!)).toEqual({ version: '2.4', services: { sleeper: { image: IMAGE, command: ['/bin/busybox', 'sleep', '${SLEEP}'], network_mode: 'none' } } });
    expect((await sb.fs.stat('/etc/docker/compose/docker-compose.yml'))!.mode & 0o777).toBe(0o600);
    expect(containerState(sb.socket, CONTAINER).running).toBe(true);
    const inspect = JSON.parse(await socketGet(sb.socket, `/containers/${CONTAINER}/json`)) as { Args: string[] };
    expect(inspect.Args).toEqual(['sleep', '86400']);
  }, 180_000);

  test('the same settings again recreate nothing (container start time and pid unchanged) and run no compose', async () => {
    const before = containerState(sb.socket, CONTAINER);
    const out = await enable({ compose: COMPOSE, 'compose-environment': { SLEEP: '86400' } });
    expect(composeLine(out)).toMatch(/unchanged and running; nothing recreated/);
    expect(containerState(sb.socket, CONTAINER)).toEqual(before);
    expect(readFileSync(logFile, 'utf8').match(/"event":"compose up"/g)).toHaveLength(1);
  }, 120_000);

  test('only compose-environment changed: up -d again, the container recreated with the new value', async () => {
    const before = containerState(sb.socket, CONTAINER);
    const out = await enable({ compose: COMPOSE, 'compose-environment': { SLEEP: '86401' } });
    expect(composeLine(out)).toMatch(/up -d ran \(the compose environment changed\)/);
    const after = containerState(sb.socket, CONTAINER);
    expect(after.running).toBe(true);
    expect(after.startedAt).not.toBe(before.startedAt);
    const inspect = JSON.parse(await socketGet(sb.socket, `/containers/${CONTAINER}/json`)) as { Args: string[] };
    expect(inspect.Args).toEqual(['sleep', '86401']);
  }, 180_000);

  test('a failing document: compose\'s own error, short, and where the full output is; dockerd serves', async () => {
    const bad = { compose: { sleeper: { image: 'adx-test/not-there:1', net: 'none' } }, 'compose-environment': { SLEEP: '1' } };
    const e = await enable(bad).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(StepFailedError);
    expect((e as Error).message).toMatch(/^docker-compose -p compose -f \S+ up -d --remove-orphans failed \(exit \d+\): .*not-there.*Compose's full output is in the handler log/s);
    expect((e as Error).message.length).toBeLessThan(900);
    expect(await socketGet(sb.socket, '/_ping')).toBe('OK');
  }, 180_000);

  test('"compose" removed from the settings: the project down, its file and record gone', async () => {
    await enable({ compose: COMPOSE, 'compose-environment': { SLEEP: '86400' } });
    const out = await enable({});
    expect(composeLine(out)).toMatch(/project compose taken down/);
    expect(await projectContainers()).toEqual([]);
    expect(await sb.fs.exists('/etc/docker/compose/docker-compose.yml')).toBe(false);
    expect(await sb.fs.exists(`${sb.stateDir}/compose-state.json`)).toBe(false);
  }, 180_000);

  test('uninstall takes the project down and removes the file', async () => {
    await enable({ compose: COMPOSE, 'compose-environment': { SLEEP: '86400' } });
    expect(await projectContainers()).toHaveLength(1);
    const out = await removeEngineConfig(ports, { log: createLogger({ file: logFile }), stateDir: sb.stateDir, removeEngine: false, layout: sb.layout });
    statuses.push(JSON.stringify(out));
    expect(out.steps.find((s) => s.name === 'compose')?.message).toMatch(/project compose taken down \(volumes kept\) and its file removed/);
    expect(await projectContainers()).toEqual([]);
    expect(await sb.fs.exists('/etc/docker/compose')).toBe(false);
    expect(await sb.fs.list(sb.stateDir).catch(() => [])).toEqual([]);
  }, 180_000);

  test('the protected value: in no argv, no environment but compose\'s own, no log, no status', async () => {
    const report = await sampler!.stop();
    sampler = undefined;
    const leaks = report.hits.filter((h) => !/the environment of pid \d+ \(\S*python3 \/usr\/bin\/docker-compose /.test(h.where));
    expect(describeHits(leaks)).toBe('');
    // Proof that the sampler saw it travel where it should: compose's environment.
    expect(report.hits.length).toBeGreaterThan(0);
    expect(describeHits(scanCanaryPaths([logFile, `${sb.root}/etc/docker`, `${sb.root}${sb.stateDir}`], [CANARY]).hits)).toBe('');
    expect(describeHits(scanCanaryText(statuses.join('\n'), [CANARY], 'status'))).toBe('');
  });
});
