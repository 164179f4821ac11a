// Engine benchmark against the real dockerd (isolated sandbox, as the integration tests):
//  - a configuration-change enable (one restart, full verification) against a raw dockerd restart
//    waited on with the same readiness criterion, in the same run, as a ratio;
//  - the no-op reconcile with dockerd running.
// Call engineBench() from scripts/bench/main.ts, or run `node scripts/bench-engine.mjs`.
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseSettings } from '../../handler/agent/settings.js';
import { reconcileEngine } from '../../handler/docker/engine.js';
import { NodeDaemonProbe } from '../../handler/docker/health.js';
import { silentLogger } from '../../handler/log/logger.js';
import { createSandbox, dockerUnavailable, freePort } from './docker-daemon.js';
import { busyboxUnavailable, containerState, removeContainer, startSleeper } from './busybox-container.js';
import { median } from './bench-stats.js';
import { certsSetting, makeCertSet, pem } from './tls-certs.js';

const ms = (x: number) => `${x.toFixed(0)} ms`;

export async function engineBench(opts: { restarts?: number; noops?: number } = {}): Promise<string[]> {
  const skip = dockerUnavailable();
  if (skip) return [`skipped: ${skip}`];
  const restarts = opts.restarts ?? 5;
  const noops = opts.noops ?? 20;
  const sb = createSandbox();
  const log = silentLogger();
  try {
    const certs = makeCertSet(path.join(sb.dir, 'certs'));
    const port = await freePort();
    const prot = { certs: certsSetting(certs) };
    const run = (maxSize: string) =>
      reconcileEngine(parseSettings({ docker: { port, options: [`--log-opt max-size=${maxSize}`] } }, prot), sb.ports(), { log, stateDir: sb.stateDir, layout: sb.layout });

    const t0 = performance.now();
    const first = await run('10m');
    const firstMs = performance.now() - t0;

    // A container with no restart policy: it shows what each dockerd restart does to containers.
    const sleeper = busyboxUnavailable() === undefined;
    if (sleeper) startSleeper(sb.socket, 'bench-sleeper');
    const containerBefore = sleeper ? containerState(sb.socket, 'bench-sleeper') : undefined;

    const enable: number[] = [];
    const raw: number[] = [];
    const probe = new NodeDaemonProbe();
    const ca = pem(certs.ca);
    for (let i = 0; i < restarts; i++) {
      // Interleaved so both see the same machine state.
      let t = performance.now();
      const out = await run(i % 2 === 0 ? '20m' : '10m');
      enable.push(performance.now() - t);
      if (out.restarted !== 'restart') throw new Error(`expected one restart, got ${out.restarted}`);

      t = performance.now();
      await sb.services.restart();
      for (;;) {
        if ((await probe.pingSocket(sb.socket, 2000)).ok && (await probe.probeTls('127.0.0.1', port, ca, 2000)).reachable) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      raw.push(performance.now() - t);
    }

    const containerAfter = sleeper ? containerState(sb.socket, 'bench-sleeper') : undefined;
    if (sleeper) removeContainer(sb.socket, 'bench-sleeper');
    const containerLine =
      containerBefore && containerAfter
        ? `containers restarted by the ${restarts * 2} dockerd restarts above (live-restore, the default): ${containerAfter.startedAt === containerBefore.startedAt && containerAfter.running ? 0 : 1} of 1 (a container with no restart policy${containerAfter.running ? ', still running' : ', STOPPED'})`
        : `containers: not measured (${busyboxUnavailable()})`;

    const noop: number[] = [];
    for (let i = 0; i < noops; i++) {
      const t = performance.now();
      const out = await run(restarts % 2 === 1 ? '20m' : '10m');
      noop.push(performance.now() - t);
      if (out.restarted !== 'none') throw new Error(`no-op reconcile restarted (${out.restarted})`);
    }
    const sortedNoop = [...noop].sort((a, b) => a - b);
    return [
      `first enable (start + TLS proof): ${ms(firstMs)} (${first.restarted})`,
      `configuration-change enable (1 restart, verified): median ${ms(median(enable))} over ${restarts}`,
      `raw dockerd restart (stop + start + socket and TLS port answer): median ${ms(median(raw))} over ${restarts}`,
      `ratio enable / raw restart: ${(median(enable) / median(raw)).toFixed(2)}`,
      containerLine,
      `no-op reconcile (dockerd running, verified, nothing restarted): median ${ms(median(noop))}, p95 ${ms(sortedNoop[Math.floor(sortedNoop.length * 0.95) - 1] ?? sortedNoop.at(-1)!)} over ${noops}`,
    ];
  } finally {
    await sb.cleanup();
  }
}
