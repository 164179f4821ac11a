import type { HandlerEnvironment } from '../agent/handler-env.js';
import { readSettingsFile, settingsFilePath } from '../agent/settings-file.js';
import { parseSettings, type HandlerSettings } from '../agent/settings.js';
import { protectedSecrets, registerSecrets } from '../agent/sanitise.js';
import { secretValues } from '../agent/settings-summary.js';
import { loadCertificatePair } from '../crypto/certificate-pair.js';
import { decryptProtectedSettings } from '../crypto/protected-settings.js';
import { AgentContractError, ConfigError } from '../errors.js';
import { jsonWhere } from '../agent/json-where.js';
import type { ReadFileSystem } from '../system/ports.js';

export interface LoadedSettings {
  settings: HandlerSettings;
  /** Protected values to scrub from anything published. */
  secrets: string[];
}

/**
 * config/<seq>.settings → decrypted, validated settings. Returns undefined when the file does
 * not exist (the old version's disable during an update runs with a number it has no file for).
 */
/** How the two halves become settings: parseSettings, or enable's preflight that also checks options and certificates. */
export type SettingsCheck = (rawPublic: unknown, rawProtected: unknown) => HandlerSettings;

export async function loadSettings(fs: ReadFileSystem, env: HandlerEnvironment, seq: number, check: SettingsCheck = parseSettings): Promise<LoadedSettings | undefined> {
  const raw = await readSettingsFile(fs, env.configFolder, seq);
  if (!raw) return undefined;
  let prot: unknown = null;
  if (raw.protectedSettings !== undefined && raw.thumbprint !== undefined) {
    const pair = await loadCertificatePair(fs, env.libDir, raw.thumbprint);
    const text = decryptProtectedSettings(raw.protectedSettings, pair.certPem, pair.keyPem);
    // Known from here on, before validation: a secret pasted as a key name or into the wrong
    // field is scrubbed from every output as well as one in its right place.
    registerSecrets([text]);
    try {
      prot = JSON.parse(text);
      registerSecrets(protectedSecrets(prot));
    } catch {
      // Never quote the text: it is the secret.
      throw new ConfigError(`The protected settings decrypted, but they are not valid JSON${jsonWhere(text)}; re-apply them as a JSON object.`, 'EPROTECTEDJSON');
    }
  }
  const settings = check(raw.publicSettings, prot);
  const secrets = secretValues(settings);
  registerSecrets(secrets);
  return { settings, secrets };
}

export async function requireSettings(fs: ReadFileSystem, env: HandlerEnvironment, seq: number, check?: SettingsCheck): Promise<LoadedSettings> {
  const loaded = await loadSettings(fs, env, seq, check);
  if (!loaded) {
    throw new AgentContractError(
      `${settingsFilePath(env.configFolder, seq)} does not exist although the agent asked for sequence number ${seq}; ` +
        `re-apply the extension so that the agent writes it.`,
      'ENOSETTINGSFILE',
    );
  }
  return loaded;
}
