import type { FileSystem } from '../system/ports.js';
import { sanitise } from './sanitise.js';
import { capMessage } from './status.js';

// Read by collect_heartbeat only because the manifest sets reportHeartbeat: the status string
// is published verbatim as the handler status, so use the agent's own spelling. A missing file
// would overwrite the real error in the portal with "Failed to get heart beat file", so every
// command writes it.
export type HeartbeatStatus = 'Ready' | 'NotReady';

export function buildHeartbeat(status: HeartbeatStatus, message: string): string {
  return JSON.stringify([
    { version: 1.0, heartbeat: { status, code: status === 'Ready' ? 0 : 1, formattedMessage: { lang: 'en-US', message: capMessage(sanitise(message)) } } },
  ]);
}

export async function writeHeartbeat(fs: FileSystem, file: string, status: HeartbeatStatus, message: string): Promise<void> {
  await fs.writeAtomic(file, buildHeartbeat(status, message), 0o644);
}
