import { parseSettings } from '../../handler/agent/settings.js';

/** The message parseSettings refuses these settings with; fails the test when it accepts them. */
export function settingsError(pub: unknown, prot: unknown): string {
  try {
    parseSettings(pub, prot);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
}
