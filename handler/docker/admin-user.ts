// The VM's admin user and the `docker` group. The user name comes from the provisioning file the
// Azure Linux Agent keeps in its lib directory (ovf-env.xml, <UserName> of the
// LinuxProvisioningConfigurationSet), as DockerExtension 1.x read it. Parsing and planning are
// pure; the reads (the file, getent) are in observeAdminUser.
import { READ_LIMITS, type CommandRunner, type ReadFileSystem } from '../system/ports.js';

export const DOCKER_GROUP = 'docker';

/** What useradd accepts on every supported distribution (and nothing a shell or usermod would read as an option). */
const USER_NAME_RE = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;

export type OvfUser = { kind: 'name'; name: string } | { kind: 'missing'; why: string };

/**
 * The <UserName> of ovf-env.xml (any namespace prefix, as the agent's own parser accepts). Only
 * that element is read: the file also holds CustomData, which may be secret, and is never quoted.
 */
export function parseOvfUserName(xml: string): OvfUser {
  const set = /<(?:[A-Za-z_][\w.-]*:)?LinuxProvisioningConfigurationSet\b[\s\S]*?<\/(?:[A-Za-z_][\w.-]*:)?LinuxProvisioningConfigurationSet>/.exec(xml)?.[0];
  if (!set) return { kind: 'missing', why: 'it has no LinuxProvisioningConfigurationSet' };
  const m = /<((?:[A-Za-z_][\w.-]*:)?)UserName(?:\s[^>]*)?>([^<]*)<\/\1UserName>/.exec(set);
  if (!m) return { kind: 'missing', why: 'it names no UserName' };
  // No entity decoding: no character a Linux user name may hold needs one.
  const name = m[2]!.trim();
  if (!USER_NAME_RE.test(name)) return { kind: 'missing', why: 'its UserName is not a valid Linux user name' };
  return { kind: 'name', name };
}

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** One line of `getent passwd <name>`. */
export function parsePasswd(line: string): PasswdEntry | undefined {
  const f = line.trim().split(':');
  if (f.length < 7 || !/^\d+$/.test(f[2]!) || !/^\d+$/.test(f[3]!)) return undefined;
  return { name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5]! };
}

/** One line of `getent group docker`: its gid and its members. */
export function parseGroup(line: string): { gid: number; members: string[] } | undefined {
  const f = line.trim().split(':');
  if (f.length < 4 || !/^\d+$/.test(f[2]!)) return undefined;
  return { gid: Number(f[2]), members: f[3]!.split(',').filter((m) => m !== '') };
}

export type AdminUser =
  | { kind: 'user'; user: PasswdEntry; inGroup: boolean; groupExists: boolean }
  | { kind: 'none'; warning: string };

/** The record of a membership the extension added: uninstall takes back only that one. */
export interface GroupRecord {
  version: 1;
  user: string;
  group: string;
  addedAt: string;
}

export const GROUP_RECORD_FILE = 'docker-group.json';

export async function observeAdminUser(fs: ReadFileSystem, cmd: CommandRunner, ovfEnvFile: string): Promise<AdminUser> {
  let xml: string | undefined;
  try {
    xml = await fs.readText(ovfEnvFile, { maxBytes: READ_LIMITS.small });
  } catch (e) {
    return { kind: 'none', warning: `the VM's admin user is not added to the docker group: ${ovfEnvFile} cannot be read (${(e as Error).message})` };
  }
  if (xml === undefined) {
    return { kind: 'none', warning: `the VM's admin user is not added to the docker group: the agent's provisioning file ${ovfEnvFile} does not exist (a VM not provisioned by the Azure Linux Agent); add the user yourself with usermod -aG docker <user>` };
  }
  const ovf = parseOvfUserName(xml);
  if (ovf.kind === 'missing') return { kind: 'none', warning: `the VM's admin user is not added to the docker group: ${ovfEnvFile} ${ovf.why}; add the user yourself with usermod -aG docker <user>` };
  const pw = await cmd.run('getent', ['passwd', ovf.name]);
  const user = pw.exitCode === 0 ? parsePasswd(pw.stdout.split('\n')[0] ?? '') : undefined;
  if (!user) return { kind: 'none', warning: `the VM's admin user "${ovf.name}" (from ${ovfEnvFile}) does not exist on this VM, so it is not added to the docker group; create it, or add another user yourself with usermod -aG docker <user>` };
  const gr = await cmd.run('getent', ['group', DOCKER_GROUP]);
  const group = gr.exitCode === 0 ? parseGroup(gr.stdout) : undefined;
  return { kind: 'user', user, groupExists: group !== undefined, inGroup: group !== undefined && (group.members.includes(user.name) || group.gid === user.gid) };
}

export function parseGroupRecord(text: string | undefined): GroupRecord | undefined {
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text) as GroupRecord;
    return v?.version === 1 && typeof v.user === 'string' && USER_NAME_RE.test(v.user) && v.group === DOCKER_GROUP ? v : undefined;
  } catch {
    return undefined;
  }
}
