import type { Applier } from './context.js';

/**
 * DOCKER_EXTENSION_ENGINE=off: everything of the agent contract runs, the machine is left
 * alone. For exercising the handler under the agent on a host whose Docker must not be
 * touched; the status says so, so it can never pass for a real configuration.
 */
export const offApplier: Applier = {
  async apply(settings) {
    const { summariseSettings } = await import('../agent/settings-summary.js');
    return {
      message: `Settings applied with the engine step switched off (DOCKER_EXTENSION_ENGINE=off): ${summariseSettings(settings)}`,
      steps: [{ name: 'engine', status: 'success', message: 'skipped: DOCKER_EXTENSION_ENGINE=off' }],
      warnings: [],
    };
  },
  async plan(settings) {
    const { summariseSettings } = await import('../agent/settings-summary.js');
    return { lines: [`engine step switched off (DOCKER_EXTENSION_ENGINE=off); would configure: ${summariseSettings(settings)}`] };
  },
  async remove() {
    return { message: 'engine step switched off (DOCKER_EXTENSION_ENGINE=off); nothing removed', steps: [], warnings: [] };
  },
};
