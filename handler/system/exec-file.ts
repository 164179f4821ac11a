import { BASE_ENV } from './base-env.js';
import type { CommandResult, CommandRunner, RunOptions } from './ports.js';

// A CommandRunner on node:child_process alone, for the monitor: it runs one kind of command
// (`systemctl show`, when dockerd is down), and execa's module graph would cost it several MiB of
// resident memory for weeks. Same contract as ExecaCommandRunner: resolves whatever the exit code.
export class ExecFileRunner implements CommandRunner {
  async run(file: string, args: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
    // Loaded on the first command (the monitor runs one only when dockerd is down).
    const { execFile } = await import('node:child_process');
    return new Promise((resolve) => {
      const child = execFile(
        file,
        [...args],
        { env: { ...BASE_ENV, ...opts.env }, timeout: opts.timeoutMs ?? 0, maxBuffer: 4 * 1024 * 1024, encoding: 'utf8' },
        (err, stdout, stderr) => {
          const e = err as (NodeJS.ErrnoException & { code?: number | string; killed?: boolean }) | null;
          const timedOut = e?.killed === true && (opts.timeoutMs ?? 0) > 0;
          const exitCode = !e ? 0 : typeof e.code === 'number' ? e.code : e.code === 'ENOENT' ? 127 : 1;
          resolve({ exitCode, stdout: stdout.replace(/\n$/, ''), stderr: stderr.replace(/\n$/, '') || (e && typeof e.code === 'string' ? e.message : ''), timedOut });
        },
      );
      if (opts.input !== undefined) child.stdin?.end(opts.input);
      else child.stdin?.end();
    });
  }
}
