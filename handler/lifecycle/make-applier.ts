import type { Logger } from '../log/logger.js';
import { realClock } from '../system/clock.js';
import { RootedFileSystem } from '../system/fs.js';
import { offApplier } from './appliers.js';
import type { Applier } from './context.js';

export interface ApplierOptions {
  /** Machine root for the engine's files (`/`, or `--root` in a dry run). */
  root: string;
  log: Logger;
  dryRun: boolean;
  /** Non-versioned data directory: what the engine owns, rollback snapshots. */
  stateDir: string;
}

/**
 * The Docker engine behind the Applier seam. Loaded lazily: the no-op re-enable and the
 * commands that never touch Docker do not pay for execa, the option tables or the probes.
 */
export function makeApplier(o: ApplierOptions): Applier {
  if (process.env.DOCKER_EXTENSION_ENGINE === 'off') return offApplier;
  const ports = async () => {
    const { ExecaCommandRunner } = await import('../system/exec.js');
    return { fs: new RootedFileSystem(o.root), cmd: new ExecaCommandRunner(o.log), clock: realClock };
  };
  return {
    async apply(settings, { log, onProgress, signal }) {
      const { reconcileEngine } = await import('../docker/engine.js');
      const out = await reconcileEngine(settings, await ports(), { log, stateDir: o.stateDir, onProgress, signal });
      return { message: out.summary, steps: out.steps, warnings: out.warnings };
    },
    async plan(settings, log) {
      const { planEngine } = await import('../docker/engine.js');
      const p = await planEngine(settings, await ports(), { log, stateDir: o.stateDir, dryRun: true });
      return [...p.lines, ...p.warnings.map((w) => `warning: ${w}`)];
    },
    async remove({ log, removeEngine }) {
      const { removeEngineConfig } = await import('../docker/engine.js');
      const out = await removeEngineConfig(await ports(), { log, stateDir: o.stateDir, removeEngine });
      return { message: out.summary, steps: out.steps, warnings: out.warnings };
    },
  };
}
