// (integration) kill -9 during and after the install step of an enable, then enable again: the
// packages stay recorded as the extension's (removeOnUninstall removes them), what is missing is
// installed, a start hold left behind is released. The enable runs in a child process
// (test/support/install-driver.ts) with apt and systemd answered by fakes: no engine can be
// installed on the machine that runs the tests (the VM suites install it for real).
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bundleDriver } from '../../support/bundle-driver.js';
import { TEST_KILL_ENV } from '../../../handler/docker/progress.js';

const STATE = 'var/lib/azure-docker-extension/engine-state.json';
const HOLD = 'usr/sbin/policy-rc.d';

describe('(integration) kill -9 during and after the install step', () => {
  let dir: string;
  let root: string;
  let driver: string;
  const run = (env: Record<string, string> = {}) => {
    const r = spawnSync(process.execPath, [driver, root], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
    return { killed: r.signal === 'SIGKILL', out: r.stdout.trim() ? (JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { ok: boolean; commands?: string[]; error?: string }) : undefined };
  };
  const installs = (commands: string[] | undefined) => (commands ?? []).filter((c) => c.startsWith('apt-get -q -y'));
  const record = () => JSON.parse(readFileSync(path.join(root, STATE), 'utf8')) as { installed?: { packages: string[] } };

  beforeAll(async () => {
    driver = path.join(mkdtempSync(path.join(os.tmpdir(), 'install-driver-')), 'install-driver.cjs');
    await bundleDriver('test/support/install-driver.ts', driver);
  }, 60_000);
  afterAll(() => rmSync(path.dirname(driver), { recursive: true, force: true }));
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'kill-install-'));
    root = path.join(dir, 'root');
    mkdirSync(path.join(root, 'etc'), { recursive: true });
    mkdirSync(path.join(root, 'usr/sbin'), { recursive: true });
    copyFileSync(path.resolve('test/fixtures/os-release/debian-12'), path.join(root, 'etc/os-release'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('killed right after the install step: the next enable installs nothing and keeps the packages recorded as the extension\'s', () => {
    expect(run({ [TEST_KILL_ENV]: '1' }).killed).toBe(true);
    expect(existsSync(path.join(root, 'installed'))).toBe(true);
    // Killed before the configuration's apply began: no progress record, no daemon.json.
    expect(existsSync(path.join(root, 'var/lib/azure-docker-extension/engine-rollback.json'))).toBe(false);
    expect(existsSync(path.join(root, 'etc/docker/daemon.json'))).toBe(false);
    expect(record().installed?.packages).toEqual(['docker.io']);
    expect(existsSync(path.join(root, HOLD))).toBe(false);
    const again = run();
    expect(again.out?.ok).toBe(true);
    expect(installs(again.out?.commands)).toEqual([]);
    expect(record().installed?.packages).toEqual(['docker.io']);
  });

  test('killed inside the package install: the next enable releases the start hold, installs, and the packages are the extension\'s', () => {
    expect(run({ ADX_TEST_KILL_IN_APT: '1' }).killed).toBe(true);
    expect(existsSync(path.join(root, 'installed'))).toBe(false);
    // Named as the extension's before the install ran; the hold that keeps dockerd from starting unconfigured is left behind.
    expect(record().installed?.packages).toEqual(['docker.io']);
    expect(readFileSync(path.join(root, HOLD), 'utf8')).toMatch(/azure-docker-extension/);
    const again = run();
    expect(again.out?.ok).toBe(true);
    expect(installs(again.out?.commands)).toHaveLength(1);
    expect(existsSync(path.join(root, HOLD))).toBe(false);
    expect(record().installed?.packages).toEqual(['docker.io']);
  });
});
