// The monitor's figures, on the shipped runtime (the packaged Node), against a real dockerd:
//  - resident memory after start and after 10,000 file events, against a bare idle `node` of the
//    same runtime;
//  - CPU used over an idle minute, next to the bare idle node over the same minute;
//  - the delay from dockerd's death (kill -9) to a NotReady heartbeat, against the 10 s promised.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { buildPackage, unpackLikeAgent } from '../../scripts/package-lib.mjs';
import { median } from './bench-stats.js';
import { dockerUnavailable, freePort } from './docker-daemon.js';
import { makeMonitorRig } from './monitor-rig.js';
import { makeWaagentCertificate } from './openssl-vectors.js';
import { certsSetting, makeCertSet } from './tls-certs.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const CLK_TCK = 100;

function rssKiB(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN);
  return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
}

function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
}

const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;

export async function monitorBench(opts: { idleMs?: number; deaths?: number; events?: number } = {}): Promise<string[]> {
  const skip = dockerUnavailable();
  if (skip) return [`skipped: ${skip}`];
  const idleMs = opts.idleMs ?? 60_000;
  const deaths = opts.deaths ?? 5;
  const events = opts.events ?? 10_000;
  const work = mkdtempSync(path.join(tmpdir(), 'monitor-bench-'));
  const out: string[] = [];
  let bare: ReturnType<typeof spawn> | undefined;
  const rig = await makeMonitorRig(await makeWaagentCertificate(work));
  try {
    const { zipPath } = await buildPackage({ outDir: path.join(work, 'out'), arch: 'x64', build: false });
    const pkg = unpackLikeAgent(zipPath, path.join(work, 'pkg'));
    const node = path.join(pkg, 'runtime/linux-x64/node');
    const shipped = { nodePath: node, entryScript: path.join(pkg, 'dist/handler.cjs') };
    const certs = makeCertSet(path.join(work, 'pki'));
    const port = await freePort();
    await rig.tree.writeSettings(0, { docker: { port } }, { certs: certsSetting(certs) });
    const { runApp } = await import('../../handler/app.js');
    if ((await runApp(['enable'], rig.deps(0, shipped))).exitCode !== 0) throw new Error('enable failed');
    await rig.waitHeartbeat((h) => h.status === 'Ready' && /Checked/.test(h.message), 30_000, 'Ready');
    const m = (await rig.monitor())!;
    bare = spawn(node, ['-e', 'setInterval(() => {}, 1e9)'], { stdio: 'ignore' });
    await sleep(1500);
    const start = rssKiB(m.pid);
    const bareRss = rssKiB(bare.pid!);

    // 10,000 file events: daemon.json rewritten with the same bytes (a change event each, no drift).
    const dj = rig.sb.fs.resolve('/etc/docker/daemon.json');
    const same = readFileSync(dj);
    const cpu0 = cpuMs(m.pid);
    for (let i = 0; i < events; i++) {
      writeFileSync(dj, same);
      if (i % 500 === 0) await sleep(1);
    }
    await sleep(2000);
    const afterEvents = rssKiB(m.pid);
    const eventsCpu = cpuMs(m.pid) - cpu0;
    out.push(
      `resident memory (shipped Node): ${mib(start.rss)} after start, ${mib(afterEvents.rss)} after ${events} file events (peak ${mib(afterEvents.hwm)}); bare idle node: ${mib(bareRss.rss)}; ratio ${(afterEvents.rss / bareRss.rss).toFixed(2)}x; the ${events} events cost ${eventsCpu.toFixed(0)} ms CPU`,
    );

    // An idle minute: nothing changes; the monitor's timer judges once (socket ping, files, port).
    const mc = cpuMs(m.pid);
    const bc = cpuMs(bare.pid!);
    await sleep(idleMs);
    const monitorIdle = cpuMs(m.pid) - mc;
    const bareIdle = cpuMs(bare.pid!) - bc;
    out.push(
      `CPU over an idle ${idleMs / 1000} s: monitor ${monitorIdle.toFixed(0)} ms (${((monitorIdle / idleMs) * 100).toFixed(3)} % of one core), bare idle node ${bareIdle.toFixed(0)} ms`,
    );

    // dockerd's death to NotReady, each time after the monitor brought it back.
    const delays: number[] = [];
    for (let i = 0; i < deaths; i++) {
      await rig.waitHeartbeat((h) => h.status === 'Ready' && /serves/.test(h.message), 30_000, 'Ready');
      const pid = rig.sb.pid()!;
      const t0 = Date.now();
      process.kill(pid, 'SIGKILL');
      await rig.waitHeartbeat((h) => h.status === 'NotReady', 10_000, 'NotReady');
      delays.push(Date.now() - t0);
    }
    await rig.waitHeartbeat((h) => h.status === 'Ready' && /serves/.test(h.message), 30_000, 'Ready');
    const afterRestarts = rssKiB(m.pid);
    out.push(`resident memory after ${deaths} deaths of dockerd and restarts by the monitor: ${mib(afterRestarts.rss)} (peak ${mib(afterRestarts.hwm)})`);
    out.push(
      `dockerd killed (-9) to a NotReady heartbeat: median ${median(delays)} ms over ${deaths} (max ${Math.max(...delays)} ms); promised: within 10,000 ms (median is ${((median(delays) / 10_000) * 100).toFixed(2)} % of it); a 60 s timer alone would average 30,000 ms`,
    );
    await runApp(['uninstall'], rig.deps(0, shipped));
  } finally {
    bare?.kill('SIGKILL');
    await rig.cleanup();
    rmSync(work, { recursive: true, force: true });
  }
  return out;
}
