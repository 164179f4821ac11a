import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { buildPackage, unpackLikeAgent } from '../../scripts/package-lib.mjs';
import { exampleSettings } from '../../handler/demo/example-settings.js';
import { HARNESS_SRC, harnessMissing } from '../support/vm/harness.js';

// The packaged handler (shim + bundle + Node 24 runtime) through the REAL Azure Linux Agent code
// (Debian's waagent 2.7.3) via ../shared/tools/waagent-harness: real download/unzip (modes
// dropped), real launch and timeouts, real CMS protected settings encrypted like CRP (3DES,
// PKCS#1 v1.5, issuer+serial), the agent's own status and heartbeat parsing. The engine step is
// switched off here (this host's Docker is not ours to change); the VM e2e suite runs it for real.

const HARNESS = path.join(HARNESS_SRC, 'run_with_waagent.py');
// shared/ beside the repository holds the harness; a clone without it skips this suite, saying so.
const missing = harnessMissing();
if (missing) process.stderr.write(`(harness) suite skipped: ${missing}\n`);
const d = missing ? describe.skip : describe;
const NAME = 'Microsoft.Azure.Extensions.DockerExtension';
const PASSWORD = 'harness-registry-p4ss';

let work: string;
let summary: any;
let run: { status: number | null; stderr: string };
const ex = exampleSettings();
const keyLine = (ex.protectedSettings.certs as { key: string }).key.split('\n')[2]!;

beforeAll(async () => {
  if (missing) return;
  work = mkdtempSync(path.join(tmpdir(), 'harness-test-'));
  const { zipPath } = await buildPackage({ outDir: path.join(work, 'out'), arch: 'x64', build: false });
  const handlerDir = unpackLikeAgent(zipPath, path.join(work, 'handler'));
  const files = {
    pub1: { docker: { port: 2376, options: ['--log-level', 'info'] } },
    prot1: { ...ex.protectedSettings, login: { server: 'registry.example', username: 'harness', password: PASSWORD } },
    pub2: { docker: { port: 2376, options: ['--log-level', 'warn'] } },
    prot2: { ...ex.protectedSettings, environment: { TOKEN: 'harness-token-value' } },
  };
  for (const [k, v] of Object.entries(files)) writeFileSync(path.join(work, `${k}.json`), JSON.stringify(v));
  const args = [
    HARNESS, handlerDir,
    '--name', NAME, '--version', '1.0.0',
    '--public-settings', path.join(work, 'pub1.json'), '--protected-settings', path.join(work, 'prot1.json'),
    '--public-settings2', path.join(work, 'pub2.json'), '--protected-settings2', path.join(work, 'prot2.json'),
    '--steps', 'install_enable,enable_new_seq,reenable_same_seq,update,disable,uninstall',
    '--wait-terminal', '30', '--inherit-env', '--workdir', path.join(work, 'harness'), '--json-out', path.join(work, 'summary.json'),
  ];
  // The agent's own minimal environment (no HOME), plus the switch that keeps this host's Docker out of it.
  const env = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', DOCKER_EXTENSION_ENGINE: 'off' };
  const r = spawnSync('/usr/bin/python3', args, { env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 240_000 });
  run = { status: r.status, stderr: r.stderr };
  summary = existsSync(path.join(work, 'summary.json')) ? JSON.parse(readFileSync(path.join(work, 'summary.json'), 'utf8')) : undefined;
}, 300_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

const step = (name: string) => summary.steps.find((s: { step: string }) => s.step === name);

d(`(harness) the packaged handler under the real Azure Linux Agent${missing ? ` [skipped: ${missing}]` : ''}`, () => {
  test('every step meets the harness expectations', () => {
    expect(run.stderr.slice(-2000)).toBeDefined();
    expect(summary).toBeDefined();
    expect(summary.problems).toEqual([]);
    expect(summary.warnings).toEqual([]);
    expect(summary.ok).toBe(true);
    expect(run.status).toBe(0);
  });

  test('install + enable: success for sequence 0, proving decryption with fingerprints only', () => {
    const s = step('install_enable');
    expect(s.overview ?? s.commands.map((c: any) => `${c.cmd_name}=${c.exit_code}`)).toEqual(['install=0', 'enable=0']);
    const es = s.agent_status.extension_status;
    expect(es).toMatchObject({ status: 'success', code: 0, operation: 'Enable' });
    expect(s.agent_status.sequenceNumber).toBe(0);
    const settings = es.substatus.find((x: any) => x.name === 'settings');
    expect(settings.status).toBe('success');
    expect(settings.message).toMatch(/TCP 2376 with TLS client verification \(ca SHA-256 fingerprint (?:[0-9A-F]{2}:){31}[0-9A-F]{2}; cert SHA-256 fingerprint (?:[0-9A-F]{2}:){31}[0-9A-F]{2}; key set, never fingerprinted\)/);
    // Never a hash of the password or the user name (issue 8): "set".
    expect(settings.message).toContain("registry login to registry.example for root and the VM's provisioned account: user name and password set");
    expect(s.heartbeat.reported.status).toBe('Ready');
    // enable returned at once: the agent's ~2 s floor, not the work.
    const enable = s.commands.find((c: any) => c.cmd_name === 'enable');
    expect(enable.timed_out).toBe(false);
  });

  test('a new sequence number is applied; the same one again is a no-op', () => {
    const n = step('enable_new_seq');
    expect(n.agent_status.extension_status).toMatchObject({ status: 'success', operation: 'Enable' });
    expect(n.agent_status.sequenceNumber).toBe(1);
    expect(n.agent_status.extension_status.substatus[0].message).toMatch(/1 protected environment variable\(s\) set/);
    const r = step('reenable_same_seq');
    const enable = r.commands.find((c: any) => c.cmd_name === 'enable');
    expect(enable.exit_code).toBe(0);
    expect(enable.output).toMatch(/already applied/);
    expect(r.agent_status.extension_status.status).toBe('success');
  });

  test("update runs in the agent's order and reports the new version's own status", () => {
    const u = step('update');
    expect(u.commands.map((c: any) => `${c.cmd_name}@${c.handler_version}=${c.exit_code}`)).toEqual([
      'disable@1.0.0=0', 'update@1.0.1=0', 'uninstall@1.0.0=0', 'install@1.0.1=0', 'enable@1.0.1=0',
    ]);
    expect(u.commands.find((c: any) => c.cmd_name === 'uninstall').output).toMatch(/part of an update/);
    expect(u.agent_status.handlerVersion).toBe('1.0.1');
    expect(u.agent_status.extension_status).toMatchObject({ status: 'success', operation: 'Enable' });
  });

  test('disable reports NotReady like the agent does; disable and uninstall exit 0', () => {
    expect(step('disable').commands.map((c: any) => c.exit_code)).toEqual([0]);
    expect(step('disable').heartbeat.reported.status).toBe('NotReady');
    expect(step('uninstall').commands.map((c: any) => c.exit_code)).toEqual([0]);
  });

  test('no secret reaches anything the agent publishes (captured output, status, heartbeat)', () => {
    const published = JSON.stringify(summary);
    for (const secret of [PASSWORD, 'harness-token-value', keyLine]) expect(published).not.toContain(secret);
  });
});
