import { runApp, type AppDeps } from '../../handler/app.js';
import { UNINSTALL_WORKER_VERB, WORKER_VERB } from '../../handler/cli/args.js';

/**
 * The enable worker and uninstall's background part run in this process, through the same hidden
 * verbs their detached jobs run: their work is the applier's, which the caller's deps supply.
 */
export function inProcessWork(deps: () => AppDeps): Pick<AppDeps, 'spawnWorker' | 'runUninstallWorker'> {
  return {
    spawnWorker: async ({ seq }) => {
      await runApp([WORKER_VERB, String(seq)], { ...deps(), signal: new AbortController().signal });
      return 'in-process worker';
    },
    runUninstallWorker: async () => {
      const r = await runApp([UNINSTALL_WORKER_VERB], deps());
      return { finished: true, exitCode: r.exitCode, label: 'in-process' };
    },
  };
}
