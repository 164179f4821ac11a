import { readFileSync } from 'node:fs';
import * as path from 'node:path';

/** The handler's version: the agent says it; outside the agent the package's VERSION file does. */
export function handlerVersion(env: NodeJS.ProcessEnv, codeDir: string): string {
  const fromAgent = env.AZURE_GUEST_AGENT_EXTENSION_VERSION;
  if (fromAgent) return fromAgent;
  try {
    return readFileSync(path.join(path.dirname(codeDir), 'VERSION'), 'utf8').trim() || 'dev';
  } catch {
    return 'dev';
  }
}
