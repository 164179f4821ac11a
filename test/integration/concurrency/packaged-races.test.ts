// (integration) Concurrency through the packaged entry point, against this machine's own root:
// the package zip unpacked like the agent does, scripts/handler.sh started as separate processes
// with the agent's environment, the direct manager (no systemd here) starting the real dockerd on
// /var/run/docker.sock with /etc/docker/daemon.json. Many enables at once with mixed sequence
// numbers, enable racing disable, enable racing uninstall: one worker changes the machine at a
// time, the newest configuration wins, nothing is half-written, and nothing is left running but
// the dockerd the handler keeps (and its containerd) and the one monitor.
//
// The suite takes the host-Docker lock for its whole run and, at the end, uninstalls through the
// package, stops the dockerd and containerd it started and puts /etc/docker back byte for byte.
// It runs only where no dockerd is running yet: it never touches a Docker someone else started.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { buildPackage, unpackLikeAgent } from '../../../scripts/package-lib.mjs';
import { makeAgentTree, type AgentTree } from '../../support/agent-tree.js';
import { dockerUnavailable, freePort } from '../../support/docker-daemon.js';
import { lockHostDocker } from '../../support/host-docker-lock.js';
import { makeWaagentCertificate } from '../../support/openssl-vectors.js';
import { makeCa, makeLeaf, pem } from '../../support/tls-certs.js';
import { hostDockerdPids, procs, restoreTree, snapshotTree, stopPid, type TreeSnapshot } from '../../support/host-state.js';

const ETC_DOCKER = '/etc/docker';
const DAEMON_JSON = path.join(ETC_DOCKER, 'daemon.json');
const PID_FILE = '/var/run/docker.pid';
/** Files the direct manager creates outside /etc/docker; removed again when they were absent. */
const HOST_FILES = [PID_FILE, '/var/run/docker.sock', '/var/log/dockerd.log'];
const AGENT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function whySkip(): string | undefined {
  if (process.env.ADX_HOST_DOCKER === '0') return 'ADX_HOST_DOCKER=0';
  const d = dockerUnavailable();
  if (d) return d;
  if (readFileSync('/proc/1/comm', 'utf8').trim() === 'systemd') return 'systemd is PID 1 here (this suite is for the direct manager)';
  return undefined;
}
const skip = whySkip();
const d = skip ? describe.skip : describe;
if (skip) console.warn(`(integration) packaged concurrency suite skipped: ${skip}`);

interface Run { cmd: string; seq: number | undefined; code: number | null; stdout: string; stderr: string; ms: number }
interface LockSample { t: number; pid: number; seq: number; kind: string }

const figures: Record<string, number | string | unknown[]> = {};

d('(integration) concurrent agent commands through the packaged handler (direct manager, this machine)', () => {
  let release: (() => Promise<void>) | undefined;
  let work: string;
  let t: AgentTree;
  let port: number;
  let certs: { ca: string; cert: string; key: string };
  let etcBefore: TreeSnapshot;
  let hostFilesBefore: Record<string, boolean>;
  let dockerdBefore: Set<number>;
  let containerdBefore: Set<number>;
  let uninstalled = false;
  const started = Date.now();

  const dataDir = () => path.join(t.libDir, t.name);
  const lockFile = () => path.join(dataDir(), 'enable-worker.lock');
  const label = (seq: number) => `adx.concurrency.seq=${seq}`;

  /** The handler's own processes for this extension (workers, foregrounds, the monitor). */
  const ours = (script: 'handler.cjs' | 'monitor.cjs') => procs().filter((p) => p.args.includes(path.join(t.extDir, 'dist', script)));

  function shim(cmd: string, seq?: number): Promise<Run> {
    const t0 = Date.now();
    return new Promise((resolve) => {
      // debug: the worker logs each command it runs, which marks its applying span in the log
      const env = { PATH: AGENT_PATH, ...t.env(seq), DOCKER_EXTENSION_LOG_LEVEL: 'debug' };
      const c = spawn('/bin/sh', [path.join(t.extDir, 'scripts', 'handler.sh'), cmd], { cwd: t.extDir, env });
      let stdout = '';
      let stderr = '';
      c.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
      c.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      c.on('close', (code) => resolve({ cmd, seq, code, stdout, stderr, ms: Date.now() - t0 }));
    });
  }

  async function writeSettings(seq: number): Promise<void> {
    await t.writeSettings(seq, { docker: { port, options: ['--label', label(seq)] } }, { certs });
  }

  /**
   * Samples the worker lock every 10 ms while `body` runs: who held it, and whether a reader ever
   * saw a record half-written. An empty file is the moment between the O_EXCL create and the
   * write, which the lock's readers wait out by design; anything else must parse whole.
   */
  async function sampled<T>(body: () => Promise<T>): Promise<{ result: T; samples: LockSample[]; torn: string[] }> {
    const samples: LockSample[] = [];
    const torn: string[] = [];
    let on = true;
    const loop = (async () => {
      while (on) {
        let text: string | undefined;
        try {
          text = readFileSync(lockFile(), 'utf8');
        } catch {
          text = undefined;
        }
        if (text) {
          try {
            const o = JSON.parse(text) as { pid: number; seq: number; kind?: string };
            samples.push({ t: Date.now(), pid: o.pid, seq: o.seq, kind: o.kind ?? 'enable' });
          } catch {
            torn.push(text);
          }
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    try {
      const result = await body();
      return { result, samples, torn };
    } finally {
      on = false;
      await loop;
    }
  }

  /** Until no enable worker or uninstall work of ours runs any more (the monitor stays). */
  async function quiescent(timeoutMs = 180_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (ours('handler.cjs').length > 0 || existsSync(lockFile())) {
      if (Date.now() > until) throw new Error(`still running after ${timeoutMs} ms: ${JSON.stringify(ours('handler.cjs'))}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** handler.log as JSON lines. */
  function log(): Array<Record<string, unknown>> {
    const file = path.join(t.logDir, 'handler.log');
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  /**
   * From the log: each worker's applying span, from its first line after taking the lock to its
   * verdict, both logged while it holds the lock ('command started' comes before the wait for the
   * lock, 'command finished' and 'uninstall finished' after its release). Two spans must never
   * overlap, and every sample of the lock taken inside a span must name that span's worker.
   * Returns what contradicts it (nothing expected).
   */
  function overlappingAppliers(fromLine: number, samples: LockSample[]): string[] {
    // (a worker that waits for the lock logs whom it waits for: waiting is not applying)
    const outside = new Set(['command started', 'command finished', 'uninstall finished', 'worker backs off', 'waiting for the worker lock']);
    const spans = new Map<number, { first: number; last: number; op: string; seq: unknown }>();
    for (const l of log().slice(fromLine)) {
      if ((l.op !== 'enable-worker' && l.op !== 'uninstall-worker') || outside.has(String(l.event))) continue;
      const time = Date.parse(String(l.time));
      const s = spans.get(l.pid as number) ?? { first: time, last: time, op: String(l.op), seq: l.seq };
      s.last = Math.max(s.last, time);
      spans.set(l.pid as number, s);
    }
    const sorted = [...spans.entries()].sort((a, b) => a[1].first - b[1].first);
    const bad: string[] = [];
    for (let i = 1; i < sorted.length; i++) {
      const [pa, a] = sorted[i - 1]!;
      const [pb, b] = sorted[i]!;
      if (b.first < a.last) bad.push(`${b.op} ${pb} (seq ${String(b.seq)}) began at ${b.first}, before ${a.op} ${pa} (seq ${String(a.seq)}) ended at ${a.last}`);
    }
    // (the log has millisecond times and a sample is stamped just after its read: 5 ms inside)
    for (const x of samples) {
      for (const [pid, span] of sorted) {
        if (x.t > span.first + 5 && x.t < span.last - 5 && x.pid !== pid) bad.push(`the lock named pid ${x.pid} at ${x.t}, while ${span.op} ${pid} applied`);
      }
    }
    figures.lockSamples = (Number(figures.lockSamples) || 0) + samples.length;
    figures.applyingWorkers = (Number(figures.applyingWorkers) || 0) + spans.size;
    return bad;
  }

  /**
   * Nothing half-written: every status file, daemon.json and the certificates parse whole. Only
   * the `<seq>.status` files the agent reads: a worker still reporting (a superseded one writes its
   * last status as it exits) may have its atomic write's hidden temporary file open at this moment.
   */
  function wellFormed(): void {
    for (const f of readdirSync(path.join(t.extDir, 'status')).filter((n) => /^\d+\.status$/.test(n))) {
      const text = readFileSync(path.join(t.extDir, 'status', f), 'utf8');
      expect(() => JSON.parse(text)).not.toThrow();
    }
    expect(() => JSON.parse(readFileSync(DAEMON_JSON, 'utf8'))).not.toThrow();
    for (const f of ['ca.pem', 'cert.pem', 'key.pem']) expect(readFileSync(path.join(ETC_DOCKER, f), 'utf8')).toMatch(/-----END [A-Z ]+-----\n?$/);
    expect(readdirSync(ETC_DOCKER).filter((f) => f.startsWith('.') || /\.tmp|~$/.test(f))).toEqual([]);
  }

  /** The machine serves configuration `seq`: its status success, daemon.json its label, one dockerd, one monitor. */
  async function servesConfiguration(seq: number): Promise<void> {
    const [st] = await t.readStatus(seq);
    expect({ seq, status: st.status.status, operation: st.status.operation }).toEqual({ seq, status: 'success', operation: expect.stringMatching(/^(Enable|Disable)$/) });
    const daemon = JSON.parse(readFileSync(DAEMON_JSON, 'utf8'));
    expect(daemon.labels).toEqual([label(seq)]);
    expect(daemon).toMatchObject({ tlsverify: true, tlscacert: '/etc/docker/ca.pem', tlscert: '/etc/docker/cert.pem', tlskey: '/etc/docker/key.pem' });
    expect(daemon.hosts).toEqual(expect.arrayContaining([`tcp://0.0.0.0:${port}`]));
    expect(readFileSync(path.join(ETC_DOCKER, 'cert.pem'), 'utf8').trim()).toBe(certs.cert.trim());
    // what runs: the one dockerd of the pid file (and the containerd it supervises), one monitor
    const pid = Number(readFileSync(PID_FILE, 'utf8'));
    expect(hostDockerdPids().filter((p) => !dockerdBefore.has(p))).toEqual([pid]);
    const info = execFileSync('docker', ['-H', 'unix:///var/run/docker.sock', 'info', '--format', '{{json .Labels}}'], { encoding: 'utf8' });
    expect(JSON.parse(info)).toEqual([label(seq)]);
    expect(ours('monitor.cjs')).toHaveLength(1);
    expect(ours('handler.cjs')).toEqual([]);
    wellFormed();
  }

  beforeAll(async () => {
    release = await lockHostDocker();
    dockerdBefore = new Set(hostDockerdPids());
    containerdBefore = new Set(procs().filter((p) => p.comm === 'containerd').map((p) => p.pid));
    if (existsSync(PID_FILE) && dockerdBefore.size > 0) {
      throw new Error(
        `a dockerd is already running here (pid ${[...dockerdBefore].join(', ')}, ${PID_FILE}): this suite only runs where it starts dockerd itself. ` +
          'Stop that dockerd, or set ADX_HOST_DOCKER=0 to skip the suite.',
      );
    }
    // The extension's own files there at the start would be someone else's: the cases below
    // check what uninstall gives back, which is only meaningful from a machine without them.
    const found = ['daemon.json', 'ca.pem', 'cert.pem', 'key.pem'].filter((f) => existsSync(path.join(ETC_DOCKER, f)));
    if (found.length > 0) {
      throw new Error(`${ETC_DOCKER} already holds ${found.join(', ')} (left by another run?): this suite starts from a machine without them. Put ${ETC_DOCKER} back as it was, or set ADX_HOST_DOCKER=0 to skip the suite.`);
    }
    etcBefore = snapshotTree(ETC_DOCKER);
    hostFilesBefore = Object.fromEntries(HOST_FILES.map((f) => [f, existsSync(f)]));

    work = mkdtempSync(path.join(tmpdir(), 'packaged-races-'));
    const cert = await makeWaagentCertificate(work);
    t = await makeAgentTree({ cert });
    cpSync(cert.crtPath, path.join(t.libDir, path.basename(cert.crtPath)));
    cpSync(cert.prvPath, path.join(t.libDir, path.basename(cert.prvPath)));
    // The package as the agent leaves it, in the extension directory beside config/ and status/.
    const { zipPath } = await buildPackage({ outDir: path.join(work, 'out'), arch: 'x64', build: false });
    cpSync(unpackLikeAgent(zipPath, path.join(work, 'unpacked')), t.extDir, { recursive: true });
    const ca = makeCa(path.join(work, 'pki'), 'races-ca', 30);
    const leaf = makeLeaf(path.join(work, 'pki'), ca, 'server', { cn: 'localhost', san: 'IP:127.0.0.1,DNS:localhost', eku: 'serverAuth', days: 30 });
    certs = { ca: pem(ca.ca), cert: pem(leaf.cert), key: pem(leaf.key) };
    port = await freePort();
    expect((await shim('install')).code).toBe(0);
  }, 35 * 60_000); // the host-Docker lock waits up to 30 minutes for another suite

  afterAll(async () => {
    try {
      if (t && !uninstalled) await shim('uninstall', undefined).catch(() => undefined);
      // Whatever of ours still runs (a failed case): the handler's processes for this extension.
      if (t) for (const p of [...ours('handler.cjs'), ...ours('monitor.cjs')]) await stopPid(p.pid, 5_000);
      // The dockerd this suite had the handler start, and the containerd it supervises.
      for (const p of hostDockerdPids().filter((x) => !dockerdBefore?.has(x))) await stopPid(p, 30_000);
      for (const p of procs().filter((x) => x.comm === 'containerd' && !containerdBefore?.has(x.pid) && x.args.includes('/var/run/docker/containerd'))) await stopPid(p.pid, 10_000);
      if (etcBefore) restoreTree(ETC_DOCKER, etcBefore);
      for (const [f, existed] of Object.entries(hostFilesBefore ?? {})) if (!existed) rmSync(f, { force: true });
      if (etcBefore) expect(snapshotTree(ETC_DOCKER)).toEqual(etcBefore);
    } finally {
      await t?.cleanup();
      if (work) rmSync(work, { recursive: true, force: true });
      await release?.();
      figures.wallSeconds = ((Date.now() - started) / 1000).toFixed(1);
      console.log(`packaged concurrency figures: ${JSON.stringify(figures)}`);
    }
  }, 180_000);

  test.each([
    ['0-7 in mixed order', [3, 7, 0, 5, 1, 6, 2, 4], 7],
    ['8-13 mixed with the stale 2 and 5', [10, 2, 13, 8, 5, 12, 9, 11], 13],
    ['20-27 in mixed order', [22, 27, 20, 25, 21, 24, 26, 23], 27],
    ['30-35 mixed with the stale 13 and 27', [33, 13, 30, 35, 27, 31, 34, 32], 35],
  ])('8 enables at once, sequence numbers %s: one worker at a time, the newest configuration applied', async (_what, seqs, newest) => {
    for (const s of seqs) if (s > Number(figures.lastApplied ?? -1)) await writeSettings(s);
    const fromLine = log().length;
    const { result: runs, samples, torn } = await sampled(async () => {
      const r = await Promise.all(seqs.map((s) => shim('enable', s)));
      await quiescent();
      return r;
    });
    figures.enableProcesses = (Number(figures.enableProcesses) || 0) + runs.length;
    figures.enableRounds = (Number(figures.enableRounds) || 0) + 1;
    figures.lockHolders = (Number(figures.lockHolders) || 0) + new Set(samples.map((x) => x.pid)).size;
    for (const r of runs) expect({ seq: r.seq, code: r.code, stderr: r.stderr }).toEqual({ seq: r.seq, code: 0, stderr: '' });
    // a number older than the one applied is ignored without touching anything
    for (const r of runs.filter((x) => x.seq! <= Number(figures.lastApplied ?? -1))) expect(r.stdout).toMatch(/older|stale|already/i);
    expect(torn).toEqual([]);
    expect(overlappingAppliers(fromLine, samples)).toEqual([]);
    await servesConfiguration(newest);
    figures.lastApplied = newest;
  }, 240_000);

  test.each([
    ['disable right after enable', 40, 0],
    ['disable and enable at the same moment', 41, -1],
    ['disable 300 ms into the apply', 42, 300],
  ])('enable racing disable (%s): dockerd keeps the new configuration, one monitor, nothing half-written', async (_what, seq, delayMs) => {
    await writeSettings(seq);
    const fromLine = log().length;
    const { result: runs, samples, torn } = await sampled(async () => {
      const enable = shim('enable', seq);
      if (delayMs >= 0) await (delayMs === 0 ? enable : new Promise((r) => setTimeout(r, delayMs)));
      const r = await Promise.all([enable, shim('disable', seq)]);
      await quiescent();
      return r;
    });
    figures.disableRaces = (Number(figures.disableRaces) || 0) + 1;
    for (const r of runs) expect({ cmd: r.cmd, code: r.code, stderr: r.stderr }).toEqual({ cmd: r.cmd, code: 0, stderr: '' });
    expect(torn).toEqual([]);
    expect(overlappingAppliers(fromLine, samples)).toEqual([]);
    await servesConfiguration(seq);
  }, 240_000);

  // The agent runs uninstall after enable has returned, while the enable's worker may still be
  // starting or applying; here also while enable's own process still runs. Each case installs
  // again first (the agent would unpack the extension anew).
  test.each([
    ['issued together with enable', 50, 'with', 0],
    ['issued 50 ms after enable started', 51, 'with', 50],
    ['right after enable returned', 52, 'after', 0],
    ['100 ms after enable returned', 53, 'after', 100],
    ['600 ms after enable returned', 54, 'after', 600],
  ] as const)('uninstall %s: uninstall wins, no monitor, no TLS listener; dockerd serves the local socket', async (_what, seq, mode, delayMs) => {
    if (uninstalled) expect((await shim('install')).code).toBe(0);
    await writeSettings(seq);
    const fromLine = log().length;
    const { result: runs, samples, torn } = await sampled(async () => {
      const enable = shim('enable', seq);
      if (mode === 'after') await enable;
      await new Promise((r) => setTimeout(r, delayMs));
      const r = await Promise.all([enable, shim('uninstall', seq)]);
      await quiescent();
      return r;
    });
    uninstalled = true;
    figures.uninstallRaces = (Number(figures.uninstallRaces) || 0) + 1;
    const [enable, uninstall] = runs;
    expect({ code: enable!.code, stderr: enable!.stderr }).toEqual({ code: 0, stderr: '' });
    expect({ code: uninstall!.code, stdout: uninstall!.stdout, stderr: uninstall!.stderr }).toEqual({ code: 0, stdout: expect.stringMatching(/^uninstall: /), stderr: '' });
    expect(torn).toEqual([]);
    expect(overlappingAppliers(fromLine, samples)).toEqual([]);
    // nothing of the extension's is left running or configured
    expect(ours('monitor.cjs')).toEqual([]);
    expect(ours('handler.cjs')).toEqual([]);
    expect(existsSync(dataDir())).toBe(false);
    for (const f of ['ca.pem', 'cert.pem', 'key.pem']) expect(existsSync(path.join(ETC_DOCKER, f))).toBe(false);
    if (existsSync(DAEMON_JSON)) expect(JSON.parse(readFileSync(DAEMON_JSON, 'utf8'))).not.toHaveProperty('tlsverify');
    // what each case met: the lock holders in order (enable>uninstall: uninstall waited for the
    // applying worker, or stopped it), and what uninstall left and said
    const holders = samples.map((x) => x.kind).filter((k, i, a) => i === 0 || a[i - 1] !== k).join('>');
    const superseded = log().slice(fromLine).some((l) => l.op === 'enable-worker' && l.event === 'enable superseded');
    const cases = (figures.uninstallCases as unknown as unknown[] | undefined) ?? [];
    cases.push({ mode, delayMs, lockHolders: holders || 'none seen', workerSuperseded: superseded, daemonJson: existsSync(DAEMON_JSON) ? 'kept' : 'absent', said: uninstall!.stdout.trim().slice(0, 160) });
    (figures as Record<string, unknown>).uninstallCases = cases;
    // the dockerd the handler keeps: one, serving the local socket, no TLS listener any more
    const pid = Number(readFileSync(PID_FILE, 'utf8'));
    expect(hostDockerdPids().filter((p) => !dockerdBefore.has(p))).toEqual([pid]);
    expect(execFileSync('docker', ['-H', 'unix:///var/run/docker.sock', 'version', '--format', '{{.Server.Version}}'], { encoding: 'utf8' }).trim()).toMatch(/^\d+\./);
    expect(execFileSync('ss', ['-Htln', `sport = :${port}`], { encoding: 'utf8' }).trim()).toBe('');
  }, 300_000);
});
