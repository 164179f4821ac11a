import { execa } from 'execa';
import type { CommandResult, CommandRunner, RunOptions } from './ports.js';

import { BASE_ENV } from './base-env.js';

export { BASE_ENV };

export interface CommandLog {
  debug(obj: object, msg?: string): void;
}

export class ExecaCommandRunner implements CommandRunner {
  constructor(private readonly log?: CommandLog) {}

  async run(file: string, args: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
    const started = Date.now();
    const r = await execa(file, args, {
      reject: false,
      input: opts.input,
      timeout: opts.timeoutMs,
      env: { ...BASE_ENV, ...opts.env },
      extendEnv: false,
      stdin: opts.input === undefined ? 'ignore' : 'pipe',
      stripFinalNewline: true,
      maxBuffer: 16 * 1024 * 1024,
    });
    const result: CommandResult = {
      exitCode: typeof r.exitCode === 'number' ? r.exitCode : r.failed ? 127 : 0,
      stdout: typeof r.stdout === 'string' ? r.stdout : '',
      stderr: typeof r.stderr === 'string' ? r.stderr : (r.failed && !r.timedOut ? r.shortMessage ?? '' : ''),
      timedOut: r.timedOut === true,
    };
    // argv is logged, never stdin: secrets travel only there.
    this.log?.debug({ event: 'command', file, args, exitCode: result.exitCode, ms: Date.now() - started, timedOut: result.timedOut });
    return result;
  }
}
