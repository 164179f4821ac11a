import type { CommandRunner } from './ports.js';

/** execa is loaded on the first command only: most runs of the handler and the monitor never need it. */
export function lazyCommandRunner(log?: { debug(obj: object, msg?: string): void }): () => Promise<CommandRunner> {
  let runner: CommandRunner | undefined;
  return async () => {
    if (!runner) {
      const { ExecaCommandRunner } = await import('./exec.js');
      runner = new ExecaCommandRunner(log);
    }
    return runner;
  };
}
