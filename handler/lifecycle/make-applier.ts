import type { EngineLayout, EnginePorts } from '../docker/engine.js';
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
  return engineApplier(
    async () => {
      const { ExecaCommandRunner } = await import('../system/exec.js');
      const fs = new RootedFileSystem(o.root);
      const cmd = new ExecaCommandRunner(o.log);
      if (o.root === '/') return { fs, cmd, clock: realClock };
      // --root: everything is read from the tree, nothing from the machine the dry run runs on.
      const { TreePackageQueries, treeServiceManager } = await import('../system/tree.js');
      const queries = new TreePackageQueries(fs, o.root, cmd);
      return { fs, cmd: queries, clock: realClock, services: await treeServiceManager(fs, o.root, queries) };
    },
    { stateDir: o.stateDir },
  );
}

/** The engine with the given ports and layout (the VM's by default; an isolated dockerd in tests). */
export function engineApplier(ports: () => Promise<EnginePorts>, o: { stateDir: string; layout?: Partial<EngineLayout> }): Applier {
  const layout = o.layout ? { layout: o.layout } : {};
  return {
    async apply(settings, { log, onProgress, signal }) {
      const { reconcileEngine } = await import('../docker/engine.js');
      const out = await reconcileEngine(settings, await ports(), { log, stateDir: o.stateDir, onProgress, signal, ...layout });
      return { message: out.summary, steps: out.steps, warnings: out.warnings, ...(out.monitor ? { monitor: out.monitor } : {}) };
    },
    async plan(settings, log) {
      const { planEngine } = await import('../docker/engine.js');
      const p = await planEngine(settings, await ports(), { log, stateDir: o.stateDir, ...layout });
      return { lines: [...p.lines, ...p.warnings.map((w) => `warning: ${w}`)], engine: p.dryRun };
    },
    async remove({ log, removeEngine }) {
      const { removeEngineConfig } = await import('../docker/engine.js');
      const out = await removeEngineConfig(await ports(), { log, stateDir: o.stateDir, removeEngine, ...layout });
      return { message: out.summary, steps: out.steps, warnings: out.warnings };
    },
  };
}
