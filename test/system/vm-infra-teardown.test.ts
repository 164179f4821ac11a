// The global teardown stops the VM suites' dockerd and containerd only when this run started
// them. Stand-ins take their place: processes whose command lines name vmctl.sh's config files,
// under vmctl.sh's pid files in temporary state and run folders (ADX_E2E_STATE, ADX_E2E_RUN), and
// the real `vmctl.sh down` stops them. No real dockerd, no VM.
import { afterAll, afterEach, beforeEach, describe, expect, jest, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import globalTeardown from '../global-teardown.mjs';
import { stopVmInfraStartedSince, vmInfraProcesses } from '../vm-infra.mjs';

const root = process.getuid?.() === 0;
const d = root ? describe : describe.skip;
if (!root) console.warn('vm-infra teardown tests skipped: vmctl.sh needs root');

let work: string;
let env: NodeJS.ProcessEnv;
const spawned: number[] = [];

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
  } catch {
    return false;
  }
}

/** A long-lived stand-in whose command line is `node <work>/<name>-standin.mjs <args>`, its pid in `pidFile`. */
async function standIn(name: string, args: string[], pidFile?: string): Promise<number> {
  const script = path.join(work, `${name}-standin.mjs`);
  writeFileSync(script, 'setInterval(() => {}, 1 << 30);\n');
  const c = spawn(process.execPath, [script, ...args], { detached: true, stdio: 'ignore' });
  c.unref();
  spawned.push(c.pid!);
  if (pidFile) writeFileSync(pidFile, `${c.pid}\n`);
  // until /proc shows its command line
  while (!readFileSync(`/proc/${c.pid}/cmdline`, 'utf8').includes(script)) await new Promise((r) => setTimeout(r, 10));
  return c.pid!;
}

const state = () => env.ADX_E2E_STATE!;
const run = () => env.ADX_E2E_RUN!;
const dockerd = () => standIn('dockerd', ['--config-file', path.join(state(), 'daemon.json')], path.join(run(), 'dockerd.pid'));
const containerd = () => standIn('containerd', ['--config', path.join(state(), 'containerd.toml')], path.join(run(), 'containerd.pid'));

beforeEach(() => {
  work = mkdtempSync(path.join(tmpdir(), 'vm-infra-'));
  env = {
    PATH: process.env.PATH,
    ADX_E2E_STATE: path.join(work, 'state'),
    ADX_E2E_RUN: path.join(work, 'run'),
    ADX_E2E_CACHE: path.join(work, 'cache'),
    ADX_E2E_BRIDGE: 'adx-none0', // no such link: vmctl.sh deletes nothing of the host's network
  };
  mkdirSync(state());
  mkdirSync(run());
});

afterEach(() => {
  for (const pid of spawned.splice(0)) if (alive(pid)) process.kill(pid, 'SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

afterAll(() => {
  for (const pid of spawned) if (alive(pid)) process.kill(pid, 'SIGKILL');
});

d('global teardown of the VM suites\' dockerd and containerd', () => {
  test('nothing of theirs runs: nothing to do', () => {
    expect(vmInfraProcesses(env)).toEqual({});
    expect(stopVmInfraStartedSince({}, env)).toBeUndefined();
  });

  test('started during the run: both stopped by vmctl.sh down, their pid files gone', async () => {
    const before = vmInfraProcesses(env);
    const c = await containerd();
    const dd = await dockerd();
    expect(Object.keys(vmInfraProcesses(env)).sort()).toEqual(['containerd', 'dockerd']);
    expect(stopVmInfraStartedSince(before, env)).toBe(`stopped the VM suites' dockerd ${dd} and containerd ${c}, started by this run`);
    expect([alive(dd), alive(c)]).toEqual([false, false]);
    expect([existsSync(path.join(run(), 'dockerd.pid')), existsSync(path.join(run(), 'containerd.pid'))]).toEqual([false, false]);
  }, 60_000);

  test('already running before the run (scripts/vm.sh up): left running', async () => {
    await containerd();
    const dd = await dockerd();
    const before = vmInfraProcesses(env);
    expect(stopVmInfraStartedSince(before, env)).toBeUndefined();
    expect(alive(dd)).toBe(true);
  });

  test('a pid file naming a process that is not theirs (a recycled pid): left alone', async () => {
    const other = await standIn('unrelated', ['--config-file', '/elsewhere/daemon.json'], path.join(run(), 'dockerd.pid'));
    expect(vmInfraProcesses(env)).toEqual({});
    expect(stopVmInfraStartedSince({}, env)).toBeUndefined();
    expect(alive(other)).toBe(true);
  });

  test('ADX_E2E_KEEP=1 keeps them, and says how to stop them', async () => {
    const dd = await dockerd();
    expect(stopVmInfraStartedSince({}, { ...env, ADX_E2E_KEEP: '1' })).toMatch(/keep running \(scripts\/vm\.sh down stops them\)/);
    expect(alive(dd)).toBe(true);
  });

  test("jest's global teardown stops what started after the global setup's note", async () => {
    const saved = { ...process.env };
    const g = globalThis as { __adxVmInfraBefore?: unknown };
    const note = g.__adxVmInfraBefore;
    Object.assign(process.env, env);
    try {
      g.__adxVmInfraBefore = vmInfraProcesses();
      const dd = await dockerd();
      // what it tells the person running npm test (kept out of this run's own output)
      const spy = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
      let said = '';
      try {
        await globalTeardown();
        said = spy.mock.calls.map((c) => String(c[0])).join('');
      } finally {
        spy.mockRestore();
      }
      expect(said).toBe(`\nglobal teardown: stopped the VM suites' dockerd ${dd}, started by this run\n`);
      expect(alive(dd)).toBe(false);
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
      g.__adxVmInfraBefore = note;
    }
  }, 60_000);
});
