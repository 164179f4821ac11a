// Reads what the compose plan depends on: the record of the last apply, the file, which compose
// the machine has (or which package provides it), and the project's containers. Reads only.
import type { DistroInfo } from '../distro/detect.js';
import { httpGet } from '../docker/http-get.js';
import type { EngineSource } from '../docker/install.js';
import { READ_LIMITS, type CommandRunner, type ReadFileSystem } from '../system/ports.js';
import { isSalt } from '../crypto/keyed-fingerprint.js';
import { COMPOSE_RECORD_FILE, type ComposeRecord, type ComposeTool } from './desired.js';

export const composeRecordPath = (stateDir: string) => `${stateDir.replace(/\/+$/, '')}/${COMPOSE_RECORD_FILE}`;

export async function readComposeRecord(fs: ReadFileSystem, stateDir: string): Promise<ComposeRecord | undefined> {
  const text = await fs.readText(composeRecordPath(stateDir), { maxBytes: READ_LIMITS.small });
  if (text === undefined) return undefined;
  try {
    const r = JSON.parse(text) as ComposeRecord;
    if (r?.version === 1 && typeof r.project === 'string' && typeof r.file === 'string' && isSalt(r.salt) && typeof r.envFingerprint === 'string') return r;
  } catch {
    // unreadable: as if nothing were recorded (the next `up` records it again)
  }
  return undefined;
}

/** Where the docker CLI looks for its plugins (docker/cli's defaultSystemPluginDirs), in its order. */
export const CLI_PLUGIN_DIRS = ['/usr/local/lib/docker/cli-plugins', '/usr/local/libexec/docker/cli-plugins', '/usr/lib/docker/cli-plugins', '/usr/libexec/docker/cli-plugins'];

/**
 * The compose the machine has: the v2 plugin first (what Docker's, Microsoft's and Debian 13's
 * packages ship), then a `docker-compose` binary (Debian 12's 1.29.2, a hand-installed one).
 * Never through the docker CLI: it pings dockerd first, and a ping on a stopped dockerd's socket
 * starts it by socket activation, with the unit's flags, before the plan has written its drop-in.
 * The plugin binary runs standalone as well, so it is run directly.
 */
export async function findCompose(cmd: CommandRunner, fs: ReadFileSystem): Promise<ComposeTool | undefined> {
  const candidates: { file: string; label: string }[] = [];
  for (const dir of CLI_PLUGIN_DIRS) if (await fs.exists(`${dir}/docker-compose`)) candidates.push({ file: `${dir}/docker-compose`, label: 'docker compose' });
  candidates.push({ file: 'docker-compose', label: 'docker-compose' });
  for (const c of candidates) {
    const r = await cmd.run(c.file, ['version', '--short'], { timeoutMs: 60_000 }).catch(() => undefined);
    const v = r?.exitCode === 0 ? /\bv?(\d+\.\d+\.\d+)/.exec(r.stdout)?.[1] : undefined;
    if (v) return { file: c.file, label: c.label, version: v };
  }
  return undefined;
}

/** The package that provides compose with this engine source, where the engine's repository is already set up. */
export function composePackage(distro: DistroInfo, source: EngineSource): string | undefined {
  switch (distro.family) {
    case 'debian':
      return source === 'docker-ce' ? 'docker-compose-plugin' : source === 'moby' ? 'moby-compose' : 'docker-compose';
    case 'rhel':
      return source === 'moby' ? 'moby-compose' : 'docker-compose-plugin';
    case 'azurelinux':
      return distro.id === 'mariner' ? 'moby-compose' : 'docker-compose';
    case 'suse':
      return 'docker-compose';
    case 'flatcar':
      return undefined;
  }
}

/** The project's containers per service, from dockerd's own labels (all states). */
export async function projectContainers(socketPath: string, project: string): Promise<Record<string, { total: number; running: number }>> {
  const filters = encodeURIComponent(JSON.stringify({ label: [`com.docker.compose.project=${project}`] }));
  const r = await httpGet({ socketPath, path: `/containers/json?all=1&filters=${filters}` }, 10_000);
  const out: Record<string, { total: number; running: number }> = {};
  if (r.status !== 200) return out;
  try {
    for (const c of JSON.parse(r.body) as { Labels?: Record<string, string>; State?: string }[]) {
      const svc = c.Labels?.['com.docker.compose.service'];
      if (!svc) continue;
      const e = (out[svc] ??= { total: 0, running: 0 });
      e.total++;
      if (c.State === 'running') e.running++;
    }
  } catch {
    // an unreadable answer: nothing seen running, so `up -d` runs (it recreates nothing unchanged)
  }
  return out;
}
