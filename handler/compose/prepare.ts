// Observe and plan the compose part of an enable or an uninstall: what engine.ts appends to its
// plan after dockerd's proof. Reads only; the steps are run by the applier.
import type { HandlerSettings } from '../agent/settings.js';
import { StepFailedError } from '../errors.js';
import type { DistroInfo } from '../distro/detect.js';
import type { CommandRunner, FileSystem } from '../system/ports.js';
import { COMPOSE_FILE, desiredCompose, planCompose, type ComposeDesired, type ComposePlan } from './desired.js';
import { newSalt } from '../crypto/keyed-fingerprint.js';
import { composePackage, composeRecordPath, findCompose, projectContainers, readComposeRecord } from './observe.js';

export interface ComposePrepared {
  desired?: ComposeDesired;
  plan: ComposePlan;
  warnings: string[];
  /** For the status: which compose runs the project. */
  tool?: string;
}

export async function prepareCompose(
  settings: HandlerSettings | undefined,
  io: { fs: FileSystem; cmd: CommandRunner; distro: DistroInfo; stateDir: string; socketPath: string; dockerdRunning: boolean },
): Promise<ComposePrepared> {
  const { fs, cmd, distro, stateDir } = io;
  const desired = settings ? desiredCompose(settings) : undefined;
  const record = await readComposeRecord(fs, stateDir);
  const warnings: string[] = [];
  if (!desired && !record) {
    // DockerExtension 1.x's project, with no "compose" in the settings: the admin's now.
    if (await fs.exists(COMPOSE_FILE)) warnings.push(`${COMPOSE_FILE}, the compose file DockerExtension 1.x wrote, is kept as it is and its containers keep running; put its document in the "compose" setting for the extension to run it again`);
    return { plan: { steps: [], why: 'no compose project' }, warnings };
  }
  const tool = await findCompose(cmd, fs);
  const observed: Parameters<typeof planCompose>[1] = { containers: {} };
  if (record) observed.record = record;
  if (desired) {
    const text = await fs.readText(desired.file);
    const st = text !== undefined ? await fs.stat(desired.file) : undefined;
    if (text !== undefined && st) observed.file = { content: text, mode: st.mode & 0o7777 };
    if (io.dockerdRunning) observed.containers = await projectContainers(io.socketPath, desired.project);
    if (!record && text !== undefined) warnings.push(`${COMPOSE_FILE}, the compose file DockerExtension 1.x wrote, is replaced by the "compose" setting; its project "${desired.project}" is adopted (compose recreates only the containers whose configuration changed)`);
    warnings.push(...desired.notes);
  } else if (record) {
    // The removal: whether a killed run's `down` already took the project and its file away.
    observed.recordFileExists = await fs.exists(record.file);
    if (!observed.recordFileExists && io.dockerdRunning) observed.containers = await projectContainers(io.socketPath, record.project);
  }
  if (tool) observed.tool = tool;
  else if (desired) {
    const pkg = composePackage(distro, settings!.public.docker.engine.source);
    if (!pkg) throw new StepFailedError(`No compose is installed and ${distro.name} packages none: put the compose plugin in /usr/local/lib/docker/cli-plugins (or remove "compose" from the settings) and enable again`, 'ENOCOMPOSE');
    observed.install = { manager: distro.packageManager, packages: [pkg], reason: `neither "docker compose" nor "docker-compose" is installed; ${pkg} is ${distro.name}'s compose` };
  }
  const plan = planCompose(desired, observed, newSalt(), composeRecordPath(stateDir));
  return { ...(desired ? { desired } : {}), plan, warnings, ...(tool ? { tool: `${tool.label} ${tool.version}` } : {}) };
}
