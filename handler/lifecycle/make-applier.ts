import type { Logger } from '../log/logger.js';
import { offApplier } from './appliers.js';
import type { Applier } from './context.js';

export function makeApplier(o: { root: string; log: Logger; dryRun: boolean }): Applier {
  void o;
  if (process.env.DOCKER_EXTENSION_ENGINE === 'off') return offApplier;
  return offApplier; // replaced by the engine applier once handler/docker lands
}
