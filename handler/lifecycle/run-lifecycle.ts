import { describeError, HandlerError } from '../errors.js';
import type { LifecycleCommand } from './commands.js';
import type { RunContext } from './context.js';
import { reportEvent, reportHeartbeat, reportStatus } from './report.js';
import type { CommandResult } from './types.js';

/**
 * Runs one agent command: preCheck, run, and on failure the error status (for commands that
 * report it), a NotReady heartbeat and an event, all before the non-zero exit. Returns the
 * result; only main.ts exits the process.
 */
export async function runLifecycle(cmd: LifecycleCommand, ctx: RunContext): Promise<CommandResult> {
  const log = ctx.log;
  log.info({ event: 'command started' });
  try {
    const early = cmd.preCheck ? await cmd.preCheck(ctx) : undefined;
    const result = early ?? (await cmd.run(ctx));
    log.info({ event: 'command finished', exitCode: result.exitCode });
    return result;
  } catch (e) {
    const message = describeError(e);
    const code = e instanceof HandlerError ? e.code : 'EINTERNAL';
    log.error({ event: 'command failed', code, err: message, stack: e instanceof HandlerError ? undefined : (e as Error)?.stack });
    const text = `${cmd.operation} failed: ${message}`;
    let unreported = '';
    if (cmd.reportsStatus && ctx.seq !== undefined) {
      try {
        await reportStatus(ctx, ctx.seq, { operation: cmd.operation, status: 'error', message: text });
      } catch (we) {
        log.error({ event: 'status write failed', err: (we as Error).message });
        // A full or read-only status folder: stdout is then the only place the agent shows it.
        unreported = `; the status could not be written: ${describeError(we)}`;
      }
    }
    await reportHeartbeat(ctx, 'NotReady', text);
    await reportEvent(ctx, cmd.operation, 'Error', text);
    // stdout is published by the agent: the message is already secret-free (no settings value
    // is ever quoted), and it tells the admin where the details are.
    return { exitCode: cmd.failExitCode, stdout: `${text}${unreported} (details: ${ctx.env.logFolder}/handler.log)` };
  }
}
