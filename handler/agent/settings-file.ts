import * as path from 'node:path';
import * as z from 'zod/mini';
import { AgentContractError, ConfigError } from '../errors.js';
import { jsonWhere } from './json-where.js';
import { decodeUtf8, UnsafePathError } from '../system/fs.js';
import { READ_LIMITS, type ReadFileSystem } from '../system/ports.js';

// config/N.settings as ExtHandlerInstance.update_settings writes it: one runtimeSettings entry,
// all three keys present but each may be null; an extension without settings gets a 0-byte file.
const HandlerSettingsEnvelopeSchema = z.object({
  runtimeSettings: z
    .array(
      z.object({
        handlerSettings: z.object({
          publicSettings: z.optional(z.unknown()),
          protectedSettings: z.optional(z.nullable(z.string())),
          protectedSettingsCertThumbprint: z.optional(z.nullable(z.string())),
        }),
      }),
    )
    .check(z.length(1)),
});

export interface RawHandlerSettings {
  publicSettings: unknown;
  /** base64 CMS, or undefined when the agent sent none. */
  protectedSettings?: string;
  thumbprint?: string;
}

export function settingsFilePath(configFolder: string, seq: number): string {
  return path.join(configFolder, `${seq}.settings`);
}

export async function readSettingsFile(fs: ReadFileSystem, configFolder: string, seq: number): Promise<RawHandlerSettings | undefined> {
  const file = settingsFilePath(configFolder, seq);
  let text: string;
  try {
    // A regular file of at most 4 MiB, not followed through a link: a settings file that is
    // /dev/zero or a FIFO must not exhaust memory or hang the command.
    const bytes = await fs.readBytes(file, { maxBytes: READ_LIMITS.settings });
    if (bytes === undefined) return undefined;
    text = decodeUtf8(bytes, file);
  } catch (e) {
    if (e instanceof UnsafePathError) throw new AgentContractError(`${e.problem}. ${REWRITE}`, 'EBADSETTINGSFILE', e);
    throw e;
  }
  return parseSettingsFile(text, file);
}

const REWRITE =
  'The guest agent writes this file as a regular JSON file; remove it and re-apply the extension (or restart the agent: systemctl restart walinuxagent) so that the agent writes it again';

export function parseSettingsFile(text: string, file: string): RawHandlerSettings {
  const body = text.replace(/^\uFEFF/, '').trim();
  if (body === '') return { publicSettings: null };
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new AgentContractError(`${file} is not valid JSON${jsonWhere(body)}; the agent rewrites it on the next goal state (re-apply the extension).`, 'EBADSETTINGSFILE');
  }
  const parsed = HandlerSettingsEnvelopeSchema.safeParse(json);
  if (!parsed.success) {
    throw new AgentContractError(
      `${file} does not have the agent's layout (expected {"runtimeSettings":[{"handlerSettings":{…}}]} with exactly one entry).`,
      'EBADSETTINGSFILE',
    );
  }
  const hs = parsed.data.runtimeSettings[0]!.handlerSettings;
  const prot = hs.protectedSettings?.trim();
  const thumb = hs.protectedSettingsCertThumbprint?.trim();
  if (prot && !thumb) {
    throw new ConfigError(
      `${file} has protected settings but no protectedSettingsCertThumbprint, so they cannot be decrypted; ` +
        `re-apply the extension with its protected settings (the platform adds the thumbprint).`,
      'ENOTHUMBPRINT',
    );
  }
  return {
    publicSettings: hs.publicSettings ?? null,
    ...(prot ? { protectedSettings: prot } : {}),
    ...(prot && thumb ? { thumbprint: thumb } : {}),
  };
}
