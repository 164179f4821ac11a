import type { HandlerEnvironment } from '../agent/handler-env.js';
import type { HandlerSettings } from '../agent/settings.js';
import type { SubStatus } from '../agent/status.js';
import type { Logger } from '../log/logger.js';
import type { Clock, FileSystem } from '../system/ports.js';

export interface ApplyOutcome {
  /** One sentence for the status message: what now serves, what changed. */
  message: string;
  steps: SubStatus[];
  warnings: string[];
}

export interface ApplyOptions {
  log: Logger;
  /** Progress of a long step (package-lock wait, restart): shown as a transitioning substatus. */
  onProgress: (step: SubStatus) => void;
  signal: AbortSignal;
}

/** The machine-changing part of enable and uninstall, behind one seam (Docker engine today). */
export interface Applier {
  apply(settings: HandlerSettings, opts: ApplyOptions): Promise<ApplyOutcome>;
  /** The same pipeline up to the diff, as lines for a human: never applies anything. */
  plan(settings: HandlerSettings, log: Logger): Promise<string[]>;
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
  /** Starts the background enable worker in its own session; returns its pid. */
  spawnWorker: (seq: number) => Promise<number>;
  operationId: string;
}
