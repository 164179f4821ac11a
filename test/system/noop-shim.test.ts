// The no-op re-enable decided by scripts/handler.sh, without Node, against decideSeq itself: the
// shim may answer "already applied" only where decideSeq does, and must fall through to Node for
// every other state of the files decideSeq reads (the same table as test/unit/agent/seqnum.test.ts).
// The package here has no Node runtime, so a fall-through is visible: the shim exits 3 naming it.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runApp, type AppDeps } from '../../handler/app.js';
import { decideSeq, readLastRun, readMrseq } from '../../handler/agent/seqnum.js';
import { readStatusSummary } from '../../handler/agent/status.js';
import type { Applier } from '../../handler/lifecycle/context.js';
import { monitorLockPath } from '../../handler/monitor/lock.js';
import type { MonitorSupervisor } from '../../handler/monitor/supervisor.js';
import { RootedFileSystem } from '../../handler/system/fs.js';
import { identityOf } from '../../handler/system/pid-file.js';
import { makeAgentTree, type AgentTree } from '../support/agent-tree.js';
import { inProcessWork } from '../support/in-process-work.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const fs = new RootedFileSystem('/');

const applier: Applier = {
  async apply() {
    return { message: 'applied', steps: [], warnings: [] };
  },
  async plan() {
    return { lines: [] };
  },
  async remove() {
    return { message: 'removed', steps: [], warnings: [] };
  },
};

let t: AgentTree;
let pkg: string;
let monitor: ChildProcess;
const SEQ = 4;

/** The monitor stands in as a live process that holds monitor.lock, as the real one does. */
function startMonitorStandIn(): void {
  monitor = spawn('sleep', ['600'], { stdio: 'ignore' });
  const dataDir = path.join(t.libDir, t.name);
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(monitorLockPath(dataDir), JSON.stringify({ ...identityOf(monitor.pid!), version: t.version, extensionDir: t.extDir, startedAt: new Date().toISOString() }));
}
const stub: MonitorSupervisor = { kind: 'direct', ensureRunning: async () => ({ started: false, detail: 'stand-in' }), remove: async () => undefined };

function deps(seq = SEQ): AppDeps {
  const d: AppDeps = {
    env: t.env(seq),
    codeDir: path.join(t.extDir, 'dist'),
    entryScript: '/nonexistent',
    makeApplier: () => applier,
    monitorSupervisor: () => stub,
    ...inProcessWork(() => d),
  };
  return d;
}

/** The shim as the agent runs it; 'skip' = it answered itself, 'node' = it fell through. */
function shim(env: Record<string, string> = t.env(SEQ)): 'skip' | 'node' {
  const r = spawnSync('sh', [path.join(pkg, 'scripts/handler.sh'), 'enable'], { env: { PATH: '/usr/bin:/bin', ...env }, encoding: 'utf8' });
  if (r.status === 0 && r.stdout === `enable: configuration ${SEQ} is already applied; nothing to do\n`) return 'skip';
  if (r.status === 3 && /no Node\.js runtime/.test(r.stderr)) return 'node';
  throw new Error(`unexpected shim result ${r.status}: ${r.stdout} ${r.stderr}`);
}

async function nodeDecision(requested = SEQ, version = t.version): Promise<string> {
  const [mrseq, lastRun, status] = await Promise.all([readMrseq(fs, t.extDir), readLastRun(fs, t.extDir), readStatusSummary(fs, path.join(t.extDir, 'status'), requested)]);
  const d = decideSeq(requested, mrseq, lastRun, status, version);
  return d.action === 'skip' ? `skip:${d.reason}` : 'run';
}

const statusFile = () => path.join(t.extDir, 'status', `${SEQ}.status`);
const saved: Record<string, string> = {};
const keep = (f: string) => (saved[f] = readFileSync(f, 'utf8'));

beforeAll(async () => {
  t = await makeAgentTree({ version: '1.0.0' });
  // The package is the extension directory, as the agent lays it out (here without a runtime).
  pkg = t.extDir;
  mkdirSync(path.join(pkg, 'scripts'), { recursive: true });
  copyFileSync(path.join(ROOT, 'scripts/handler.sh'), path.join(pkg, 'scripts/handler.sh'));
  startMonitorStandIn();
  await t.writeSettings(SEQ, {}, undefined);
  // The agent's enable: applied, and the handler leaves its token.
  expect((await runApp(['enable'], deps())).exitCode).toBe(0);
});

afterAll(async () => {
  monitor?.kill('SIGKILL');
  await t?.cleanup();
});

describe('the shim answers the no-op re-enable only where decideSeq says "already applied"', () => {
  test('right after the apply: both skip', async () => {
    expect(await nodeDecision()).toBe('skip:already-applied');
    expect(shim()).toBe('skip');
  });

  test.each<[string, string, () => void]>([
    ['the status says error (the last run failed)', 'run', () => writeFileSync(statusFile(), saved[statusFile()]!.replace('"status":"success"', '"status":"error"'))],
    ['the status says transitioning (a twin overwrote it)', 'run', () => writeFileSync(statusFile(), saved[statusFile()]!.replace('"status":"success"', '"status":"transitioning"'))],
    ['the status file is missing', 'run', () => rmSync(statusFile())],
    ['a success written by disable (copied on update)', 'run', () => writeFileSync(statusFile(), saved[statusFile()]!.replace('"operation":"Enable"', '"operation":"Disable"'))],
    ['the last run is another version\'s', 'run', () => writeFileSync(path.join(t.extDir, 'last-enable.json'), JSON.stringify({ seq: SEQ, version: '0.9.0', result: 'success' }))],
    ['the last run failed', 'run', () => writeFileSync(path.join(t.extDir, 'last-enable.json'), JSON.stringify({ seq: SEQ, version: '1.0.0', result: 'error' }))],
    ['a newer number was applied since (mrseq)', 'skip:stale', () => writeFileSync(path.join(t.extDir, 'mrseq'), `${SEQ + 1}\n`)],
    ['the same bytes rewritten (a new file): the shim cannot know, Node decides', 'skip:already-applied', () => {
      writeFileSync(statusFile(), saved[statusFile()]!);
      utimesSync(statusFile(), new Date(Date.now() + 5000), new Date(Date.now() + 5000));
    }],
  ])('%s: the shim falls through (Node decides %s)', async (_name, want, mutate) => {
    for (const f of [statusFile(), path.join(t.extDir, 'last-enable.json'), path.join(t.extDir, 'mrseq')]) keep(f);
    mutate();
    expect(await nodeDecision()).toBe(want);
    expect(shim()).toBe('node');
    // the same bytes back: a file rewritten is not the file the token saw, so Node decides again
    for (const [f, text] of Object.entries(saved)) writeFileSync(f, text);
    expect(shim()).toBe('node');
    expect((await runApp(['enable'], deps())).stdout).toMatch(/already applied/);
    expect(shim()).toBe('skip');
  });

  test('another sequence number or version requested: Node decides', async () => {
    expect(shim({ ...t.env(SEQ + 1) })).toBe('node');
    expect(await nodeDecision(SEQ + 1)).toBe('run');
    expect(shim({ ...t.env(SEQ), AZURE_GUEST_AGENT_EXTENSION_VERSION: '1.0.1' })).toBe('node');
    expect(await nodeDecision(SEQ, '1.0.1')).toBe('run');
    expect(shim({ ...t.env(SEQ), ConfigSequenceNumber: '4; reboot' })).toBe('node');
    expect(shim()).toBe('skip');
  });

  test('the monitor is gone: Node starts it again (and writes a new token)', async () => {
    monitor.kill('SIGKILL');
    await new Promise((r) => monitor.once('exit', r));
    expect(shim()).toBe('node');
    startMonitorStandIn();
    expect((await runApp(['enable'], deps())).stdout).toMatch(/already applied/);
    expect(shim()).toBe('skip');
  });

  test('a damaged token: Node decides', async () => {
    const token = path.join(t.extDir, 'noop-enable');
    const good = readFileSync(token, 'utf8');
    for (const bad of ['', 'garbage\n', good.replace('noop1', 'noop2'), `${good.trim()} extra\n`]) {
      writeFileSync(token, bad);
      expect(shim()).toBe('node');
    }
    writeFileSync(token, good);
    expect(shim()).toBe('skip');
  });
});
