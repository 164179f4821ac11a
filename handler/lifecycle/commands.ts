import { EXIT } from '../agent/exit-codes.js';
import type { Operation } from '../agent/status.js';
import type { RunContext } from './context.js';
import { enable, enablePreCheck, requireSeq } from './enable.js';
import { disable, install, uninstall, update } from './other-commands.js';
import type { CommandResult } from './types.js';

export const COMMAND_NAMES = ['install', 'enable', 'disable', 'uninstall', 'update'] as const;
export type CommandName = (typeof COMMAND_NAMES)[number];
/** The detached halves of enable and uninstall: verbs only the handler passes to itself. */
export type WorkerName = 'worker' | 'uninstall-worker';

export interface LifecycleCommand {
  name: CommandName | WorkerName;
  operation: Operation;
  /**
   * Writes status/<seq>.status on failure (enable also on its way). Install, update and
   * uninstall never do: the agent reads no status for them, and during an update the file
   * would be carried to the new version as the new configuration's result.
   */
  reportsStatus: boolean;
  failExitCode: number;
  /** A result ends the command before `run` (the cheap re-enable); undefined proceeds. */
  preCheck?: (ctx: RunContext) => Promise<CommandResult | undefined>;
  run: (ctx: RunContext) => Promise<CommandResult>;
}

export const COMMANDS: Readonly<Record<CommandName, LifecycleCommand>> = {
  install: { name: 'install', operation: 'Install', reportsStatus: false, failExitCode: EXIT.installFailure, run: install },
  enable: { name: 'enable', operation: 'Enable', reportsStatus: true, failExitCode: EXIT.failure, preCheck: enablePreCheck, run: enable },
  disable: { name: 'disable', operation: 'Disable', reportsStatus: false, failExitCode: EXIT.failure, run: disable },
  uninstall: { name: 'uninstall', operation: 'Uninstall', reportsStatus: false, failExitCode: EXIT.failure, run: uninstall },
  update: { name: 'update', operation: 'Update', reportsStatus: false, failExitCode: EXIT.failure, run: update },
};

/**
 * Rows for the detached work, run through the same runLifecycle as the agent's commands. They
 * load lazily: the worker's settings schemas and engine must not weigh on the no-op re-enable.
 * The enable worker reports status itself; a failure it did not catch still ends in an error
 * status instead of a `transitioning` that never ends.
 */
export const WORKER_COMMANDS: Readonly<Record<WorkerName, LifecycleCommand>> = {
  worker: {
    name: 'worker',
    operation: 'Enable',
    reportsStatus: true,
    failExitCode: EXIT.failure,
    run: async (ctx) => (await import('./worker.js')).runWorker(ctx, requireSeq(ctx), ctx.signal ?? new AbortController().signal),
  },
  'uninstall-worker': {
    name: 'uninstall-worker',
    operation: 'Uninstall',
    reportsStatus: false,
    failExitCode: EXIT.failure,
    run: async (ctx) => (await import('./other-commands.js')).runUninstallWork(ctx),
  },
};

export const isCommandName = (s: string): s is CommandName => (COMMAND_NAMES as readonly string[]).includes(s);
