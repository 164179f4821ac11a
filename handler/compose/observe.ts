// Reads what the compose plan depends on: the record of the last apply, the file, which compose
// the machine has (or which package provides it), and the project's containers. Reads only.
import { randomBytes } from 'node:crypto';
import type { DistroInfo } from '../distro/detect.js';
import { httpGet } from '../docker/http-get.js';
import type { EngineSource } from '../docker/install.js';
import { READ_LIMITS, type CommandRunner, type ReadFileSystem } from '../system/ports.js';
import { COMPOSE_RECORD_FILE, FINGERPRINT_KEY_FILE, type ComposeRecord, type ComposeTool } from './desired.js';

export const composeRecordPath = (stateDir: string) => `${stateDir.replace(/\/+$/, '')}/${COMPOSE_RECORD_FILE}`;
export const fingerprintKeyPath = (stateDir: string) => `${stateDir.replace(/\/+$/, '')}/${FINGERPRINT_KEY_FILE}`;

export async function readComposeRecord(fs: ReadFileSystem, stateDir: string): Promise<ComposeRecord | undefined> {
  const text = await fs.readText(composeRecordPath(stateDir), { maxBytes: READ_LIMITS.small });
  if (text === undefined) return undefined;
  try {
    const r = JSON.parse(text) as ComposeRecord;
    if (r?.version === 1 && typeof r.project === 'string' && typeof r.file === 'string') return r;
  } catch {
    // unreadable: as if nothing were recorded (the next `up` records it again)
  }
  return undefined;
}

/** The fingerprint key, or a new one (written by the record's save step, beside the record). */
export async function readFingerprintKey(fs: ReadFileSystem, stateDir: string): Promise<Buffer> {
  const hex = (await fs.readText(fingerprintKeyPath(stateDir), { maxBytes: 1024 }))?.trim();
  return hex && /^[0-9a-f]{64}$/.test(hex) ? Buffer.from(hex, 'hex') : randomBytes(32);
}

/**
 * The compose the machine has: the v2 plugin first (what Docker's and Microsoft's packages ship),
 * then a `docker-compose` binary (Debian's 1.29.2 or 2.x, a hand-installed one).
 */
export async function findCompose(cmd: CommandRunner): Promise<ComposeTool | undefined> {
  const tries: string[][] = [['docker', 'compose'], ['docker-compose']];
  for (const argv of tries) {
    const r = await cmd.run(argv[0]!, [...argv.slice(1), 'version', '--short'], { timeoutMs: 60_000 }).catch(() => undefined);
    const v = r?.exitCode === 0 ? /\bv?(\d+\.\d+\.\d+)/.exec(r.stdout)?.[1] : undefined;
    if (v) return { argv, version: v };
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
