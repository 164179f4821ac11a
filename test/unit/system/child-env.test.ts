import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { BASE_ENV, ExecaCommandRunner } from '../../../handler/system/exec.js';
import { ExecFileRunner } from '../../../handler/system/exec-file.js';
import { passableEnv } from '../../../handler/system/passable-env.js';

// Every tool the handler runs (apt-get, dpkg, systemctl, dockerd, docker, openssl) gets an
// explicit environment: whatever the caller's holds (a canary stands in for a secret an admin's
// shell or the agent might carry) never reaches a child.

const CANARY = 'canary-7f3e9d-secret';
beforeAll(() => {
  process.env.I8_CANARY_SECRET = CANARY;
  process.env.DOCKER_EXTENSION_UNKNOWN = CANARY;
});
afterAll(() => {
  delete process.env.I8_CANARY_SECRET;
  delete process.env.DOCKER_EXTENSION_UNKNOWN;
});

function names(envOutput: string): string[] {
  return envOutput
    .split('\n')
    .filter(Boolean)
    .map((l) => l.slice(0, l.indexOf('=')))
    .sort();
}

describe.each([
  ['execa runner (the commands)', () => new ExecaCommandRunner()],
  ['execFile runner (the monitor)', () => new ExecFileRunner()],
])('%s', (_name, make) => {
  test('a child sees the allow-list and what the call adds, nothing of ours', async () => {
    const r = await make().run('/usr/bin/env', [], { env: { DEBIAN_FRONTEND: 'noninteractive' } });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).not.toContain(CANARY);
    expect(names(r.stdout)).toEqual([...Object.keys(BASE_ENV), 'DEBIAN_FRONTEND'].sort());
  });
});

test('the detached worker and monitor get named variables only', () => {
  const out = passableEnv({
    PATH: '/usr/bin',
    HOME: '/root',
    AZURE_GUEST_AGENT_EXTENSION_PATH: '/var/lib/waagent/X-1',
    ConfigSequenceNumber: '3',
    DOCKER_EXTENSION_LOG_LEVEL: 'debug',
    DOCKER_EXTENSION_UNKNOWN: CANARY,
    I8_CANARY_SECRET: CANARY,
    NODE_OPTIONS: '--require /tmp/evil.js',
    AZURE_GUEST_AGENT_BAD: 'line\nbreak',
  });
  expect(out).toEqual({
    PATH: '/usr/bin',
    HOME: '/root',
    AZURE_GUEST_AGENT_EXTENSION_PATH: '/var/lib/waagent/X-1',
    ConfigSequenceNumber: '3',
    DOCKER_EXTENSION_LOG_LEVEL: 'debug',
  });
});
