// A whole extension on this machine without systemd: an agent tree (HandlerEnvironment.json,
// settings with CMS protected settings), the engine pointed at an isolated real dockerd (the
// direct manager), enable and uninstall through runApp, and the REAL monitor as a detached
// process of the built bundle (dist/handler.cjs), exactly as enable starts it where there is no
// systemd. Only the agent itself is missing; the harness and VM suites add it.
import { cp, readFile } from 'node:fs/promises';
import { readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runApp, type AppDeps } from '../../handler/app.js';
import { engineApplier } from '../../handler/lifecycle/make-applier.js';
import { liveMonitor, type MonitorOwner } from '../../handler/monitor/lock.js';
import { stopProcess } from '../../handler/monitor/lock.js';
import { realClock } from '../../handler/system/clock.js';
import { makeAgentTree, type AgentTree } from './agent-tree.js';
import { inProcessWork } from './in-process-work.js';
import { createSandbox, type Sandbox } from './docker-daemon.js';
import type { WaagentCertificate } from './openssl-vectors.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BUNDLE = path.join(ROOT, 'dist', 'handler.cjs');

export interface Heartbeat {
  status: string;
  message: string;
  mtimeMs: number;
}

export interface MonitorRig {
  sb: Sandbox;
  tree: AgentTree;
  deps(seq: number, extra?: Partial<AppDeps>): AppDeps;
  enable(seq: number, pub: unknown, prot?: unknown): Promise<{ exitCode: number; stdout?: string }>;
  heartbeat(): Heartbeat | undefined;
  /** Polls the heartbeat file every 20 ms; resolves with it and the ms it took, or rejects with the last one seen. */
  waitHeartbeat(pred: (h: Heartbeat) => boolean, timeoutMs: number, what: string): Promise<{ hb: Heartbeat; ms: number }>;
  monitor(): Promise<MonitorOwner | undefined>;
  monitorLog(): Promise<string>;
  cleanup(): Promise<void>;
}

/** `env`: more of the handler's environment; the monitor that enable starts inherits its DOCKER_EXTENSION_* part. */
export async function makeMonitorRig(cert: WaagentCertificate, opts: { version?: string; env?: Record<string, string> } = {}): Promise<MonitorRig> {
  const sb = createSandbox();
  const tree = await makeAgentTree({ cert, ...(opts.version ? { version: opts.version } : {}) });
  await cp(cert.crtPath, path.join(tree.libDir, path.basename(cert.crtPath)));
  await cp(cert.prvPath, path.join(tree.libDir, path.basename(cert.prvPath)));
  const dataDir = path.join(tree.libDir, tree.name);
  const applier = engineApplier(async () => sb.ports(), { stateDir: sb.stateDir, layout: { ...sb.layout, readyTimeoutMs: 20_000 } });

  const deps = (seq: number, extra: Partial<AppDeps> = {}): AppDeps => {
    const d: AppDeps = {
      env: { ...tree.env(seq), DOCKER_EXTENSION_LOG_LEVEL: 'debug', ...opts.env },
      codeDir: path.join(tree.extDir, 'dist'),
      entryScript: BUNDLE,
      nodePath: process.execPath,
      makeApplier: () => applier,
      // The worker in-process (its work is the engine's); the monitor it starts is a real process.
      ...inProcessWork(() => d),
      ...extra,
    };
    return d;
  };

  const heartbeat = (): Heartbeat | undefined => {
    try {
      const file = path.join(tree.extDir, 'heartbeat.log');
      const text = readFileSync(file, 'utf8');
      const hb = JSON.parse(text)[0].heartbeat;
      return { status: hb.status, message: hb.formattedMessage.message, mtimeMs: statSync(file).mtimeMs };
    } catch {
      return undefined;
    }
  };

  return {
    sb,
    tree,
    deps,
    async enable(seq, pub, prot) {
      await tree.writeSettings(seq, pub, prot);
      return runApp(['enable'], deps(seq));
    },
    heartbeat,
    async waitHeartbeat(pred, timeoutMs, what) {
      const t0 = Date.now();
      let last: Heartbeat | undefined;
      while (Date.now() - t0 < timeoutMs) {
        last = heartbeat();
        if (last && pred(last)) return { hb: last, ms: Date.now() - t0 };
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`heartbeat did not become ${what} within ${timeoutMs} ms; last: ${JSON.stringify(last)}\n--- monitor.log\n${(await readFile(path.join(tree.logDir, 'monitor.log'), 'utf8').catch(() => '')).slice(-4000)}`);
    },
    monitor: () => liveMonitor(dataDir),
    monitorLog: () => readFile(path.join(tree.logDir, 'monitor.log'), 'utf8').catch(() => ''),
    async cleanup() {
      const m = await liveMonitor(dataDir);
      if (m) await stopProcess(m, 5_000, realClock);
      await sb.cleanup();
      await tree.cleanup();
    },
  };
}
