import { afterEach, describe, expect, test } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeAgentTree, type AgentTree } from '../support/agent-tree.js';

// The packaged entry point (dist/handler.cjs, built by the global setup) run as the agent runs it,
// against an agent tree whose files someone replaced: each run ends at once with an error naming
// the file, writes nothing through a link, and prints at most 4 KiB without control characters.
// None of these reaches the engine: every case fails before the worker would start.

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const HANDLER = path.join(ROOT, 'dist/handler.cjs');

const trees: AgentTree[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const t of trees.splice(0)) await t.cleanup();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function tree(): Promise<AgentTree> {
  const t = await makeAgentTree();
  trees.push(t);
  return t;
}

function run(t: AgentTree, command: string, seq: number, extraEnv: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [HANDLER, command], {
    env: { PATH: '/usr/bin:/bin', ...t.env(seq), ...extraEnv },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { exitCode: r.status, stdout: r.stdout, stderr: r.stderr, signal: r.signal };
}

const settingsFile = (t: AgentTree, seq: number) => path.join(t.extDir, 'config', `${seq}.settings`);

describe('hostile agent files through the packaged handler', () => {
  test('a settings file linked to /dev/zero: enable fails at once, naming the file', async () => {
    const t = await tree();
    await symlink('/dev/zero', settingsFile(t, 0));
    const r = run(t, 'enable', 0);
    expect(r.signal).toBeNull();
    expect(r.exitCode).toBe(3);
    const st = (await t.readStatus(0))[0].status;
    expect(st.status).toBe('error');
    expect(st.formattedMessage.message).toContain(`${settingsFile(t, 0)} is a symbolic link`);
  });

  test('a FIFO settings file: enable fails at once instead of hanging', async () => {
    const t = await tree();
    execFileSync('mkfifo', [settingsFile(t, 1)]);
    const r = run(t, 'enable', 1);
    expect(r.signal).toBeNull();
    expect(r.exitCode).toBe(3);
    expect((await t.readStatus(1))[0].status.formattedMessage.message).toContain(`${settingsFile(t, 1)} is a FIFO`);
  });

  test('invalid UTF-8 in the settings file: an error naming it', async () => {
    const t = await tree();
    const body = JSON.stringify({ runtimeSettings: [{ handlerSettings: { publicSettings: { docker: { options: ['--label=@'] } } } }] });
    const [a, b] = body.split('@');
    await writeFile(settingsFile(t, 2), Buffer.concat([Buffer.from(a!), Buffer.from([0xff, 0xfe]), Buffer.from(b!)]));
    expect(run(t, 'enable', 2).exitCode).toBe(3);
    expect((await t.readStatus(2))[0].status.formattedMessage.message).toContain(`${settingsFile(t, 2)} is not valid UTF-8 text`);
  });

  test('a planted handler.log link: refused, the target untouched, the status says which file', async () => {
    const t = await tree();
    const victim = path.join(t.root, 'victim');
    await writeFile(victim, 'precious\n', { mode: 0o644 });
    await symlink(victim, path.join(t.logDir, 'handler.log'));
    await t.writeSettings(3, {});
    const r = run(t, 'enable', 3);
    expect(r.exitCode).toBe(3);
    expect(await readFile(victim, 'utf8')).toBe('precious\n');
    expect((await t.readStatus(3))[0].status.formattedMessage.message).toContain(`${path.join(t.logDir, 'handler.log')} is a symbolic link`);
    expect(r.stdout).toContain('is a symbolic link');
  });

  test('a status folder replaced by a link: nothing written at its target, stdout names the folder', async () => {
    const t = await tree();
    const elsewhere = await mkdtemp(path.join(tmpdir(), 'elsewhere-'));
    dirs.push(elsewhere);
    const status = path.join(t.extDir, 'status');
    await rm(status, { recursive: true });
    await symlink(elsewhere, status);
    await t.writeSettings(4, {});
    const r = run(t, 'enable', 4);
    expect(r.exitCode).toBe(3);
    expect(r.stdout).toContain(`${status} is a symbolic link`);
    expect(await readdir(elsewhere)).toEqual([]);
  });

  test('a data folder replaced by a link: install refuses it and creates nothing there', async () => {
    const t = await tree();
    const elsewhere = await mkdtemp(path.join(tmpdir(), 'elsewhere-'));
    dirs.push(elsewhere);
    await symlink(elsewhere, path.join(t.libDir, t.name));
    const r = run(t, 'install', 0);
    expect(r.exitCode).toBe(52);
    expect(r.stdout).toContain(`${path.join(t.libDir, t.name)} is a symbolic link`);
    expect(await readdir(elsewhere)).toEqual([]);
  });

  test('a log left 0644 by an older version is 0600 after the next command', async () => {
    const t = await tree();
    const log = path.join(t.logDir, 'handler.log');
    await writeFile(log, '{"old":true}\n', { mode: 0o644 });
    execFileSync('chmod', ['0644', log]);
    run(t, 'install', 0);
    expect((await stat(log)).mode & 0o777).toBe(0o600);
    expect(await readFile(log, 'utf8')).toMatch(/^\{"old":true\}\n/);
  });
});

describe('what the agent publishes is bounded and clean', () => {
  test('a failure quoting 200 hostile key names: stdout at most 4 KiB, no control characters; the log line capped', async () => {
    const t = await tree();
    const docker = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`k\u001b[31m\u0085${i}${'x'.repeat(40)}`, 1]));
    await t.writeSettings(5, { docker });
    const r = run(t, 'enable', 5);
    expect(r.exitCode).toBe(3);
    expect(Buffer.byteLength(r.stdout)).toBeLessThanOrEqual(4 * 1024 + 1);
    expect(r.stdout).toContain('(cut at 4 KiB');
    expect(r.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    const lines = (await readFile(path.join(t.logDir, 'handler.log'), 'utf8')).trimEnd().split('\n');
    for (const l of lines) {
      expect(l).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
      expect(() => JSON.parse(l)).not.toThrow();
    }
    expect(lines.some((l) => l.includes('more characters cut]'))).toBe(true);
  });

  test('stderr too: an absurd extension path with escape sequences is cut and cleaned', async () => {
    const t = await tree();
    const bogus = `/nonexistent/\u001b]0;owned\u0007${'d'.repeat(9000)}`;
    const r = run(t, 'enable', 0, { AZURE_GUEST_AGENT_EXTENSION_PATH: bogus });
    expect(r.exitCode).toBe(3);
    expect(Buffer.byteLength(r.stderr)).toBeLessThanOrEqual(4 * 1024 + 1);
    expect(r.stderr).toContain('HandlerEnvironment.json was not found');
    expect(r.stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
  });

  test('the dry run prints for an admin at a shell, not capped (a --public file must still be a regular file)', async () => {
    const r = spawnSync(process.execPath, [HANDLER, 'enable', '--dry-run', '--public', '/dev/zero'], { encoding: 'utf8', timeout: 60_000, env: { PATH: '/usr/bin:/bin' } });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('--public /dev/zero is a character device, not a regular file');
  });
});
