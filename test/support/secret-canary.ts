// Secret canaries: unique strings put into every secret field of a run's settings, then looked
// for in everything the run could have leaked them to. Zero hits is the only passing result.
//
//  - files: handler.log and the whole log folder, the status folder, the heartbeat, the events
//    folder, the extension's and data directory's own files (scanCanaryPaths);
//  - captured stdout/stderr of every command (scanCanaryText);
//  - the argv and environment of every process on the machine, sampled on an interval during the
//    run by a separate process (startProcessSampler): a sampler in the test's own event loop would
//    not run while a test waits for a child synchronously. It also records the core-dump limit of
//    every handler process it sees (/proc/<pid>/limits), since a core would hold the secrets.
//
// A canary is found in any form a leak takes: as is, JSON-escaped, base64, and as the sha256 hex
// (full or a 12-character prefix: the handler once published exactly that of the password).
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

export interface CanaryHit {
  canary: string;
  form: string;
  where: string;
}

export interface CanaryForm {
  canary: string;
  form: string;
  needle: string;
}

/** Every needle one canary is searched as. */
export function canaryForms(canary: string): CanaryForm[] {
  const sha = createHash('sha256').update(canary).digest('hex');
  const forms: CanaryForm[] = [
    { canary, form: 'as is', needle: canary },
    { canary, form: 'JSON-escaped', needle: JSON.stringify(canary).slice(1, -1) },
    { canary, form: 'sha256', needle: sha.slice(0, 12) },
  ];
  // base64 of the canary at each of the three alignments a surrounding text may give it; only
  // the middle characters are stable, so search those.
  for (let pad = 0; pad < 3; pad++) {
    const b64 = Buffer.from('x'.repeat(pad) + canary).toString('base64');
    const stable = b64.slice(Math.ceil((pad * 4) / 3) + 1, -4);
    if (stable.length >= 12) forms.push({ canary, form: `base64 (offset ${pad})`, needle: stable });
  }
  return forms.filter((f, i, all) => all.findIndex((g) => g.needle === f.needle) === i);
}

export function scanCanaryText(text: string | Buffer, canaries: readonly string[], where: string): CanaryHit[] {
  const s = typeof text === 'string' ? text : text.toString('latin1');
  const hits: CanaryHit[] = [];
  for (const c of canaries) for (const f of canaryForms(c)) if (s.includes(f.needle)) hits.push({ canary: c, form: f.form, where });
  return hits;
}

/** Every regular file under each path (a file or a folder, recursively; links are not followed). */
export function scanCanaryPaths(paths: readonly string[], canaries: readonly string[], opts: { skip?: (file: string) => boolean } = {}): { hits: CanaryHit[]; files: number } {
  const hits: CanaryHit[] = [];
  let files = 0;
  const visit = (p: string): void => {
    if (opts.skip?.(p)) return;
    let st;
    try {
      st = lstatSync(p);
    } catch {
      return;
    }
    if (st.isDirectory()) {
      for (const name of readdirSync(p)) visit(path.join(p, name));
    } else if (st.isFile()) {
      files++;
      // utf8 and latin1: a multi-byte canary is found either way.
      const buf = readFileSync(p);
      hits.push(...scanCanaryText(buf.toString('utf8'), canaries, p));
    }
  };
  for (const p of paths) visit(p);
  return { hits, files };
}

export interface SamplerReport {
  samples: number;
  /** Distinct processes whose argv and environment were read at least once. */
  processes: number;
  hits: CanaryHit[];
  /** Every process whose argv matched `watch`: its argv and its "Max core file size" limits. */
  watched: Array<{ pid: number; argv: string; coreSoft: string; coreHard: string }>;
}

export interface ProcessSampler {
  stop(): Promise<SamplerReport>;
}

// The sampler itself: plain JavaScript run by `node -e`. The canaries come on stdin, so that they
// are in neither its argv nor its environment; it skips its own pid.
const SAMPLER = String.raw`
const fs = require('node:fs');
let input = '';
process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', () => {
  const { needles, intervalMs, watch } = JSON.parse(input);
  const watchRe = new RegExp(watch);
  const seen = new Set();
  const hits = new Map();
  const watched = new Map();
  // The text each process's argv and environment had when last scanned: an unchanged one is not
  // scanned again, so a sampling round costs little more than reading /proc and short-lived
  // processes (a worker) are not missed while a round scans hundreds of needles.
  const scanned = new Map();
  let samples = 0;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const read = (f) => { try { return fs.readFileSync(f); } catch { return undefined; } };
  const sample = () => {
    samples++;
    let pids;
    try { pids = fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n)); } catch { return; }
    for (const pid of pids) {
      if (Number(pid) === process.pid) continue;
      // argv, environment, argv again, until both argv reads agree and argv is not empty: a process
      // caught in execve shows an empty argv (or its old one) while its environment is already the new
      // program's, and a hit must name the program that holds the value (at most 5 tries).
      let cmd, env;
      for (let tries = 0; tries < 5; tries++) {
        cmd = read('/proc/' + pid + '/cmdline');
        env = read('/proc/' + pid + '/environ');
        const again = read('/proc/' + pid + '/cmdline');
        if (cmd === undefined || again === undefined) { cmd = undefined; break; }
        // (A kernel thread has neither argv nor environment: nothing to wait for.)
        if ((cmd.length > 0 || !env || env.length === 0) && cmd.equals(again)) break;
        Atomics.wait(pause, 0, 0, 2);
      }
      if (cmd === undefined) continue;
      const argv = cmd.toString('utf8').split('\0').filter(Boolean).join(' ');
      seen.add(pid + ' ' + argv.slice(0, 200));
      for (const [what, buf] of [['argv', cmd], ['environment', env]]) {
        if (!buf) continue;
        const text = buf.toString('utf8');
        if (scanned.get(pid + what) === text) continue;
        scanned.set(pid + what, text);
        for (const n of needles) if (text.includes(n.needle)) hits.set(pid + what + n.needle, { canary: n.canary, form: n.form, where: 'the ' + what + ' of pid ' + pid + ' (' + argv.slice(0, 120) + ')' });
      }
      // Keyed by pid and argv: a child between fork and exec still shows its parent's command
      // line, and the same pid must be recorded again once it runs its own.
      const key = pid + ' ' + argv;
      if (watchRe.test(argv) && !watched.has(key)) {
        const limits = read('/proc/' + pid + '/limits');
        const m = limits && /^Max core file size\s+(\S+)\s+(\S+)/m.exec(limits.toString());
        if (m) watched.set(key, { pid: Number(pid), argv: argv.slice(0, 600), coreSoft: m[1], coreHard: m[2] });
      }
    }
  };
  const timer = setInterval(sample, intervalMs);
  sample();
  process.on('SIGTERM', () => {
    clearInterval(timer);
    sample();
    process.stdout.write(JSON.stringify({ samples, processes: seen.size, hits: [...hits.values()], watched: [...watched.values()] }), () => process.exit(0));
  });
  process.stdout.write('ready\n');
});
`;

/**
 * Starts sampling every process's argv and environment for the canaries (every `intervalMs`),
 * and the core-dump limit of every process whose argv matches `watch`. Resolves once sampling runs.
 */
export async function startProcessSampler(canaries: readonly string[], opts: { intervalMs?: number; watch?: RegExp } = {}): Promise<ProcessSampler> {
  const child: ChildProcess = spawn(process.execPath, ['-e', SAMPLER], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.setEncoding('utf8');
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: string) => {
      out += d;
      if (out.startsWith('ready\n')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the process sampler exited (${code}) before it started`)));
  });
  child.stdin!.end(JSON.stringify({ needles: canaries.flatMap(canaryForms), intervalMs: opts.intervalMs ?? 20, watch: (opts.watch ?? /(?!)/).source }));
  await ready;
  return {
    stop: () =>
      new Promise<SamplerReport>((resolve, reject) => {
        child.once('exit', () => {
          try {
            resolve(JSON.parse(out.slice('ready\n'.length)) as SamplerReport);
          } catch (e) {
            reject(new Error(`the process sampler's report is unreadable: ${(e as Error).message}`));
          }
        });
        child.kill('SIGTERM');
      }),
  };
}

/** One line per hit, for an assertion message. */
export function describeHits(hits: readonly CanaryHit[]): string {
  return hits.map((h) => `${h.canary} (${h.form}) in ${h.where}`).join('\n');
}
