// Uninstall as a plan. planRemoval is pure: from what was observed (the configuration diff, whether
// dockerd runs, the extension's record, the data roots and what they hold) to the typed steps that
// the applier (apply.ts) runs and records one by one in the progress record. A run killed at any
// step leaves a record and a machine from which the next uninstall plans what is left.
import { deepEqual } from './options.js';
import type { EngineLayout, EngineState } from './desired.js';
import type { ConfigPlan, PlannedStep } from './plan.js';
import { inFlightState } from './state.js';

export const DEFAULT_DATA_ROOT = '/var/lib/docker';

export interface DataRootFact {
  path: string;
  /** Why it is kept, when it is not Docker's to empty. */
  keep?: string;
}

export interface RemovalFacts {
  config: ConfigPlan;
  layout: EngineLayout;
  statePath: string;
  /** The extension's record as found. */
  previous: EngineState | undefined;
  /** The record once the configuration is given back. */
  newState: EngineState;
  /** Nothing is left for the extension to own once the removal (and its hand-over) is done. */
  nothingOwned: boolean;
  running: boolean;
  /** Set when removeOnUninstall asks for the engine to go and the extension installed it. */
  removeEngine?: { manager: string; packages: string[] };
  /** The data roots an engine removal empties (dockerd's, daemon.json's, the package default). */
  dataRoots: DataRootFact[];
  /** The live-restore hand-over (see planLiveRestoreHandover in engine.ts): after the proof. */
  handover: PlannedStep[];
  /** The other entries of the drop-in's directory; undefined when it does not exist. */
  dropInDirOthers?: string[];
  /** The compose project's removal (down, its file, its record): first, while dockerd serves. */
  compose?: PlannedStep[];
}

export type RemovalPlan =
  /** dockerd runs and stays: the configuration is given back, dockerd restarted and proved (applyConfig), then `after`. */
  | { mode: 'restart'; config: ConfigPlan; after: PlannedStep[] }
  /** dockerd was stopped by the admin: the files are given back and it stays stopped. */
  | { mode: 'left-stopped'; steps: PlannedStep[] }
  /** removeOnUninstall: dockerd stopped, files given back, packages purged, data roots emptied. */
  | { mode: 'engine'; steps: PlannedStep[]; packages: string[]; emptied: string[]; kept: DataRootFact[] };

export function planRemoval(f: RemovalFacts): RemovalPlan {
  const compose = f.compose ?? [];
  // A stopped dockerd cannot take the project down: its file and record go, its stopped containers stay.
  const composeStopped = compose.filter((s) => s.step.kind !== 'compose-down');
  const forget: PlannedStep[] = f.nothingOwned ? [{ step: { kind: 'forget-state', path: f.statePath, reason: 'the extension owns nothing any more' } }] : [];
  const dropInDir = f.layout.dropIn.slice(0, f.layout.dropIn.lastIndexOf('/'));
  const removeDir: PlannedStep[] =
    f.config.removals.includes(f.layout.dropIn) && f.dropInDirOthers !== undefined && f.dropInDirOthers.length === 0
      ? [{ step: { kind: 'remove-empty-dir', path: dropInDir, reason: 'it was made for the extension\'s drop-in' } }]
      : [];

  if (f.removeEngine) {
    const names = f.removeEngine.packages.map((p) => p.replace(/[=].*$/, '').replace(/-\d[\w.:~+-]*$/, ''));
    const emptied = f.dataRoots.filter((r) => r.keep === undefined).map((r) => r.path);
    const steps: PlannedStep[] = [
      ...(f.running ? compose : composeStopped),
      ...(f.running ? [{ step: { kind: 'stop-service', reason: 'the engine is removed' } } as PlannedStep] : []),
      ...configSteps(f, true),
      { step: { kind: 'purge-engine', manager: f.removeEngine.manager, packages: names, argv: purgeArgv(f.removeEngine.manager, names), reason: '"docker.engine.removeOnUninstall" is set and the extension installed the engine' } },
      ...emptied.map((path): PlannedStep => ({ step: { kind: 'empty-data-root', path, reason: 'the engine\'s images, containers and volumes go with it' } })),
      { step: { kind: 'forget-state', path: f.statePath, reason: 'the engine is gone' } },
    ];
    return { mode: 'engine', steps, packages: names, emptied, kept: f.dataRoots.filter((r) => r.keep !== undefined) };
  }
  if (!f.running) return { mode: 'left-stopped', steps: [...composeStopped, ...configSteps(f, f.nothingOwned), ...removeDir, ...forget] };
  return { mode: 'restart', config: f.config, after: [...compose, ...f.handover, ...removeDir, ...forget] };
}

/** The package manager's removal of the engine's packages (configuration files included where it can). */
export function purgeArgv(manager: string, names: string[]): string[] {
  if (manager === 'apt') return ['apt-get', '-q', '-y', '-o', 'DPkg::Lock::Timeout=300', 'purge', ...names];
  if (manager === 'zypper') return ['zypper', '--non-interactive', 'remove', ...names];
  return [manager, '-y', 'remove', ...names];
}

/**
 * The diff's file steps with what they write: the in-flight record first (it claims what was and
 * what will be owned), the final record last unless it is to be forgotten anyway. No service step:
 * a removal without proof starts nothing.
 */
function configSteps(f: RemovalFacts, forgetting: boolean): PlannedStep[] {
  const out: PlannedStep[] = [];
  const inFlight = inFlightState(f.previous, f.newState);
  for (const step of f.config.steps) {
    if (step.kind === 'save-state') out.push({ step, state: inFlight });
    else if (step.kind === 'write-file') {
      const c = f.config.contents.get(step.path)!;
      out.push({ step, data: { content: c.data, mode: c.mode } });
    } else if (step.kind === 'remove-file' || step.kind === 'chmod' || step.kind === 'daemon-reload') out.push({ step });
  }
  const saved = out.some((s) => s.step.kind === 'save-state');
  if (saved && !forgetting && !deepEqual(JSON.parse(JSON.stringify(inFlight)), JSON.parse(JSON.stringify(f.newState)))) {
    out.push({ step: { kind: 'save-state', path: f.statePath, reason: 'the record of what the extension still owns' }, state: f.newState });
  }
  return out;
}
