import * as path from 'node:path';
import * as z from 'zod/mini';
import { nonEmpty } from '../schema-mini.js';
import { AgentContractError } from '../errors.js';
import { jsonWhere } from './json-where.js';
import { decodeUtf8, UnsafePathError } from '../system/fs.js';
import { READ_LIMITS, type ReadFileSystem } from '../system/ports.js';

// The Linux agent writes exactly these keys (create_handler_env). Windows-only keys
// (deploymentid, rolename, instance, hostResolverAddress) and the old samples' seqNo are
// tolerated and ignored: the object schemas are not strict.
const HandlerEnvironmentEntrySchema = z.object({
  name: nonEmpty(),
  version: z.optional(z.union([z.number(), z.string()])),
  handlerEnvironment: z.object({
    logFolder: nonEmpty(),
    configFolder: nonEmpty(),
    statusFolder: nonEmpty(),
    heartbeatFile: nonEmpty(),
    eventsFolder: z.optional(nonEmpty()),
    eventsFolder_preview: z.optional(nonEmpty()),
  }),
});

export const HandlerEnvironmentFileSchema = z.array(HandlerEnvironmentEntrySchema).check(z.minLength(1));

export interface HandlerEnvironment {
  name: string;
  /** The versioned extension directory: cwd of every command, home of mrseq. */
  extensionDir: string;
  logFolder: string;
  configFolder: string;
  statusFolder: string;
  heartbeatFile: string;
  eventsFolder?: string;
  /** The agent's lib directory (`configFolder/../..`): tenant certificates live here. */
  libDir: string;
  /** Non-versioned data directory `<libDir>/<name>`: survives updates (Microsoft's GetDataFolder). */
  dataDir: string;
}

export const HANDLER_ENV_FILE = 'HandlerEnvironment.json';

/**
 * Candidate directories, best first: the agent's AZURE_GUEST_AGENT_EXTENSION_PATH, then next to
 * and one level above the directory holding the shim/bundle (Microsoft handlers' rule).
 */
export function handlerEnvCandidates(envPath: string | undefined, codeDir: string): string[] {
  const dirs = [envPath, codeDir, path.dirname(codeDir)].filter((d): d is string => !!d);
  return [...new Set(dirs.map((d) => path.resolve(d)))];
}

export async function loadHandlerEnvironment(fs: ReadFileSystem, candidates: readonly string[]): Promise<HandlerEnvironment> {
  for (const dir of candidates) {
    const file = path.join(dir, HANDLER_ENV_FILE);
    let text: string;
    try {
      const bytes = await fs.readBytes(file, { maxBytes: READ_LIMITS.small });
      if (bytes === undefined) continue;
      text = decodeUtf8(bytes, file);
    } catch (e) {
      // A candidate that cannot be a directory (a file on the way, an absurd path) holds nothing.
      const code = (e as { code?: string }).code;
      if (code === 'ENOTDIR' || code === 'ENAMETOOLONG') continue;
      if (e instanceof UnsafePathError) {
        throw new AgentContractError(
          `${e.problem}. The agent writes it as a small regular JSON file: remove it and restart the agent (systemctl restart walinuxagent) so that it rewrites the file.`,
          'EBADHANDLERENV',
          e,
        );
      }
      throw e;
    }
    return parseHandlerEnvironment(text, dir, file);
  }
  throw new AgentContractError(
    `${HANDLER_ENV_FILE} was not found in ${candidates.join(' or ')}. The Azure Linux Agent writes it when it installs ` +
      `the extension; reinstall the extension, or restart the agent (systemctl restart walinuxagent) so that it rewrites the file.`,
    'ENOHANDLERENV',
  );
}

export function parseHandlerEnvironment(text: string, extensionDir: string, file = HANDLER_ENV_FILE): HandlerEnvironment {
  let json: unknown;
  const body = text.replace(/^\uFEFF/, '');
  try {
    json = JSON.parse(body);
  } catch {
    throw new AgentContractError(`${file} is not valid JSON${jsonWhere(body)}; restart the agent (systemctl restart walinuxagent) so that it rewrites the file.`, 'EBADHANDLERENV');
  }
  const parsed = HandlerEnvironmentFileSchema.safeParse(json);
  if (!parsed.success) {
    const what = parsed.error.issues.map((i) => i.path.join('.') || '(top level)').join(', ');
    throw new AgentContractError(
      `${file} does not have the agent's layout (problem at: ${what}); restart the agent (systemctl restart walinuxagent) so that it rewrites the file.`,
      'EBADHANDLERENV',
    );
  }
  const entry = parsed.data[0]!;
  const h = entry.handlerEnvironment;
  const libDir = path.dirname(path.dirname(h.configFolder));
  return {
    name: entry.name,
    extensionDir,
    logFolder: h.logFolder,
    configFolder: h.configFolder,
    statusFolder: h.statusFolder,
    heartbeatFile: h.heartbeatFile,
    ...(h.eventsFolder ? { eventsFolder: h.eventsFolder } : {}),
    libDir,
    dataDir: path.join(libDir, entry.name),
  };
}
