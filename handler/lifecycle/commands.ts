import { EXIT } from '../agent/exit-codes.js';
import type { Operation } from '../agent/status.js';
import type { RunContext } from './context.js';
import { enable, enablePreCheck } from './enable.js';
import { disable, install, uninstall, update } from './other-commands.js';
import type { CommandResult } from './types.js';

export const COMMAND_NAMES = ['install', 'enable', 'disable', 'uninstall', 'update'] as const;
export type CommandName = (typeof COMMAND_NAMES)[number];

export interface LifecycleCommand {
  name: CommandName;
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

export const isCommandName = (s: string): s is CommandName => (COMMAND_NAMES as readonly string[]).includes(s);
