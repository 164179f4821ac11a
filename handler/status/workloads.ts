// The part of `handler.sh status` about what the extension set up beside the engine: the compose
// project, the registry login and the admin user's docker group membership. Read from the
// extension's own records and the files and containers they name; nothing here is a secret (the
// login record's user name and password are only in its keyed hash, which is not read out).
import { createHash } from 'node:crypto';
import * as z from 'zod/mini';
import { readComposeRecord, projectContainers } from '../compose/observe.js';
import { startedServiceNames, type ComposeRecord } from '../compose/desired.js';
import { DOCKER_GROUP, GROUP_RECORD_FILE, parseGroup, parseGroupRecord, parsePasswd, type GroupRecord } from '../docker/admin-user.js';
import { DEFAULT_LAYOUT } from '../docker/desired.js';
import { LOGIN_RECORD_FILE, parseLoginRecord, rootHasCredentials, shownServer, type LoginRecord } from '../docker/registry-login.js';
import { describeError } from '../errors.js';
import { READ_LIMITS, type ReadFileSystem } from '../system/ports.js';

export const ComposeStatusSchema = z.object({
  project: z.string(),
  file: z.string(),
  /** The services compose starts (not those behind a profile), with their containers. */
  services: z.array(z.object({ name: z.string(), running: z.number(), total: z.number() })),
  /** The file holds what the extension wrote (false: changed or removed outside it). */
  fileAsWritten: z.boolean(),
  /** false: the last `up -d` was interrupted before it finished. */
  upFinished: z.boolean(),
  /** The containers could not be listed (dockerd does not answer). */
  containersUnknown: z.boolean(),
});
export const LoginStatusSchema = z.object({
  /** host[:port], or "Docker Hub". */
  server: z.string(),
  /** Whose docker clients the extension logged in: "root", and the admin user's name. */
  accounts: z.array(z.string()),
  /** Root's client still holds credentials for the server (false: logged out outside the extension). */
  rootHasCredentials: z.boolean(),
});
export const DockerGroupStatusSchema = z.object({
  user: z.string(),
  addedAt: z.string(),
  /** Still a member of the docker group. */
  member: z.boolean(),
});

export interface WorkloadFacts {
  compose?: { record: ComposeRecord; file: { sha256: string; startedServices: string[] } | { missing: true } | { problem: string }; containers?: Record<string, { total: number; running: number }> };
  login?: { record: LoginRecord; rootHasCredentials: boolean };
  group?: { record: GroupRecord; member: boolean };
}

export interface WorkloadStatus {
  compose: z.infer<typeof ComposeStatusSchema> | null;
  login: z.infer<typeof LoginStatusSchema> | null;
  dockerGroup: z.infer<typeof DockerGroupStatusSchema> | null;
  problems: string[];
}

const join = (dir: string, file: string) => `${dir.replace(/\/+$/, '')}/${file}`;

export interface WorkloadReadOptions {
  dataDir: string;
  socketPath: string;
  /** The containers are listed only when dockerd answers. */
  dockerAnswers: boolean;
  rootDockerConfig?: string;
  /** Where /etc/group and /etc/passwd are read (default: `fs`); a test's rooted tree has none of its own. */
  accounts?: ReadFileSystem;
}

/** Reads the records and what they name. */
export async function readWorkloadFacts(fs: ReadFileSystem, o: WorkloadReadOptions): Promise<WorkloadFacts> {
  const { dataDir, socketPath } = o;
  const [composeRecord, loginText, groupText] = await Promise.all([
    readComposeRecord(fs, dataDir).catch(() => undefined),
    fs.readText(join(dataDir, LOGIN_RECORD_FILE), { maxBytes: 64 * 1024 }).catch(() => undefined),
    fs.readText(join(dataDir, GROUP_RECORD_FILE), { maxBytes: 64 * 1024 }).catch(() => undefined),
  ]);
  const out: WorkloadFacts = {};
  if (composeRecord) {
    out.compose = {
      record: composeRecord,
      file: await readComposeFile(fs, composeRecord.file),
      ...(o.dockerAnswers ? { containers: await projectContainers(socketPath, composeRecord.project).catch(() => undefined) } : {}),
    };
    if (out.compose.containers === undefined) delete out.compose.containers;
  }
  const login = parseLoginRecord(loginText);
  if (login) out.login = { record: login, rootHasCredentials: await rootHasCredentials(fs, o.rootDockerConfig ?? DEFAULT_LAYOUT.rootDockerConfig, login.server) };
  const group = parseGroupRecord(groupText);
  if (group) out.group = { record: group, member: await isMember(o.accounts ?? fs, group.user) };
  return out;
}

async function readComposeFile(fs: ReadFileSystem, file: string): Promise<NonNullable<WorkloadFacts['compose']>['file']> {
  let text: string | undefined;
  try {
    text = await fs.readText(file, { maxBytes: READ_LIMITS.small });
  } catch (e) {
    return { problem: `${file} cannot be read: ${describeError(e)}` };
  }
  if (text === undefined) return { missing: true };
  let startedServices: string[] = [];
  try {
    // The extension writes the document as JSON (valid YAML); a file edited into YAML is "changed" anyway.
    startedServices = startedServiceNames((JSON.parse(text) as { services?: Record<string, unknown> }).services ?? {});
  } catch {
    // not JSON: not what the extension wrote; the sha256 says so
  }
  return { sha256: createHash('sha256').update(text).digest('hex'), startedServices };
}

/**
 * In the docker group by /etc/group's member list or as the user's primary group (/etc/passwd):
 * the files `usermod -aG` changed, read without starting a process.
 */
async function isMember(fs: ReadFileSystem, user: string): Promise<boolean> {
  const [groups, passwd] = await Promise.all([
    fs.readText('/etc/group', { maxBytes: READ_LIMITS.small * 16 }).catch(() => undefined),
    fs.readText('/etc/passwd', { maxBytes: READ_LIMITS.small * 16 }).catch(() => undefined),
  ]);
  const line = groups?.split('\n').find((l) => l.startsWith(`${DOCKER_GROUP}:`));
  const group = line ? parseGroup(line) : undefined;
  if (!group) return false;
  const entry = passwd?.split('\n').map(parsePasswd).find((p) => p?.name === user);
  return group.members.includes(user) || entry?.gid === group.gid;
}

export function workloadStatus(f: WorkloadFacts): WorkloadStatus {
  const problems: string[] = [];
  let compose: WorkloadStatus['compose'] = null;
  if (f.compose) {
    const { record, file, containers } = f.compose;
    const fileAsWritten = 'sha256' in file && file.sha256 === record.documentSha256;
    // From the file as it is now: what compose would start (an edited file is reported as a problem too).
    const started = 'sha256' in file ? file.startedServices : [];
    const services = started.map((name) => ({ name, running: containers?.[name]?.running ?? 0, total: containers?.[name]?.total ?? 0 }));
    compose = { project: record.project, file: record.file, services, fileAsWritten, upFinished: record.pending !== true, containersUnknown: containers === undefined };
    const upAgain = `start it with compose (docker compose -p ${record.project} -f ${record.file} up -d, or docker-compose), or let a new configuration of the extension run up -d`;
    if ('problem' in file) problems.push(`the compose file ${file.problem}`);
    else if ('missing' in file) problems.push(`changed outside the extension: the compose file ${record.file} was removed (a new configuration writes it again and runs up -d)`);
    else if (!fileAsWritten) problems.push(`changed outside the extension: the compose file ${record.file} is not what the extension wrote (a new configuration writes it again and runs up -d)`);
    if (!compose.upFinished) problems.push(`the compose project ${record.project}'s last up -d was interrupted before it finished; the next enable runs it again`);
    if (containers !== undefined) {
      for (const s of services) {
        if (s.total === 0) problems.push(`compose project ${record.project}: service ${s.name} has no container; ${upAgain}`);
        else if (s.running < s.total) problems.push(`compose project ${record.project}: service ${s.name} has ${s.running} of ${s.total} containers running (see docker ps -a --filter label=com.docker.compose.service=${s.name} and docker logs); ${upAgain}`);
      }
    }
  }
  let login: WorkloadStatus['login'] = null;
  if (f.login) {
    const server = shownServer(f.login.record.server);
    login = { server, accounts: f.login.record.accounts.map((a) => a.name), rootHasCredentials: f.login.rootHasCredentials };
    if (!f.login.rootHasCredentials) problems.push(`root's docker client has no credentials for ${server} any more (logged out outside the extension): a new configuration of the extension logs in again`);
  }
  let dockerGroup: WorkloadStatus['dockerGroup'] = null;
  if (f.group) {
    dockerGroup = { user: f.group.record.user, addedAt: f.group.record.addedAt, member: f.group.member };
    if (!f.group.member) problems.push(`${f.group.record.user} is no longer in the ${DOCKER_GROUP} group (removed outside the extension): a new configuration of the extension adds it again`);
  }
  return { compose, login, dockerGroup, problems };
}
