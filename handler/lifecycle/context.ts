import type { HandlerEnvironment } from '../agent/handler-env.js';
import type { EngineDryRun } from '../docker/dry-run.js';
import type { HandlerSettings } from '../agent/settings.js';
import type { SubStatus } from '../agent/status.js';
import type { Logger } from '../log/logger.js';
import type { MonitorSupervisor } from '../monitor/supervisor.js';
import type { MonitorTarget } from '../monitor/spec.js';
import type { Clock, FileSystem } from '../system/ports.js';

export interface ApplyOutcome {
  /** One sentence for the status message: what now serves, what changed. */
  message: string;
  steps: SubStatus[];
  warnings: string[];
  /** What the monitor holds dockerd to from now on (apply only; undefined: nothing to watch). */
  monitor?: MonitorTarget;
}

export interface ApplyOptions {
  log: Logger;
  /** Progress of a long step (package-lock wait, restart): shown as a transitioning substatus. */
  onProgress: (step: SubStatus) => void;
  signal: AbortSignal;
}

/** What a dry run shows: one line per step (warnings last), and the engine's part as a value. */
export interface PlanView {
  lines: string[];
  engine?: EngineDryRun;
}

/** The machine-changing part of enable and uninstall, behind one seam (Docker engine today). */
export interface Applier {
  apply(settings: HandlerSettings, opts: ApplyOptions): Promise<ApplyOutcome>;
  /** The same pipeline up to the diff: never applies anything. */
  plan(settings: HandlerSettings, log: Logger): Promise<PlanView>;
  remove(opts: { log: Logger; removeEngine: boolean }): Promise<ApplyOutcome>;
}

export interface RunContext {
  env: HandlerEnvironment;
  /** ConfigSequenceNumber (or the newest settings file); undefined when there is none at all. */
  seq: number | undefined;
  version: string;
  agentFs: FileSystem;
  clock: Clock;
  log: Logger;
  applier: Applier;
  /** Starts the background enable worker outside the agent's reach; returns what to call it ("pid 12", a unit name). */
  spawnWorker: (seq: number) => Promise<string>;
  /** Runs uninstall's work detached and waits for it within the agent's limit. */
  runUninstallWorker: () => Promise<{ finished: boolean; exitCode?: number | null; label: string }>;
  /** Starts, replaces and removes the monitor (loaded only when needed). */
  monitor: () => Promise<MonitorSupervisor>;
  operationId: string;
  /** The enable worker's: aborted by SIGTERM from a newer enable, at the applier's next safe point. */
  signal?: AbortSignal;
}
