// Who may use the engine once it serves: the VM's admin user in the docker group, and the
// registry login of root's and that user's docker client. Runs after dockerd is proved (dockerd
// checks the credentials, as for `docker login`) and before the compose project, which may pull
// private images. observeAccess reads; planAccess is pure.
import type { HandlerSettings } from '../agent/settings.js';
import type { CommandRunner, ReadFileSystem } from '../system/ports.js';
import { DOCKER_GROUP, GROUP_RECORD_FILE, observeAdminUser, parseGroupRecord, type AdminUser, type GroupRecord } from './admin-user.js';
import { sha256Prefix } from '../digest.js';
import type { PlannedStep } from './plan.js';
import {
  LOGIN_RECORD_FILE,
  newRecord,
  parseLoginRecord,
  recordMatches,
  registryHost,
  renderLoginRecord,
  rootHasCredentials,
  shownServer,
  type LoginAccount,
  type LoginRecord,
} from './registry-login.js';

export interface AccessLayout {
  /** The agent's provisioning file (fs namespace). */
  ovfEnvFile: string;
  /** Root's docker client configuration directory (fs namespace). */
  rootDockerConfig: string;
}

export interface AccessObserved {
  admin: AdminUser;
  loginRecord: LoginRecord | undefined;
  groupRecord: GroupRecord | undefined;
  /** Root's client holds credentials for the server the settings name. */
  rootLoggedIn: boolean;
}

export interface AccessReport {
  name: 'docker group' | 'login';
  status: 'success' | 'warning';
  message: string;
}

export interface AccessPlan {
  steps: PlannedStep[];
  reports: AccessReport[];
  warnings: string[];
}

const path = (dir: string, file: string) => `${dir.replace(/\/+$/, '')}/${file}`;

export async function observeAccess(settings: HandlerSettings | undefined, fs: ReadFileSystem, cmd: CommandRunner, stateDir: string, layout: AccessLayout): Promise<AccessObserved> {
  const login = settings?.protected.login;
  return {
    // Uninstall needs no admin user: it takes back only what the records say.
    admin: settings ? await observeAdminUser(fs, cmd, layout.ovfEnvFile) : { kind: 'none', warning: '' },
    loginRecord: parseLoginRecord(await fs.readText(path(stateDir, LOGIN_RECORD_FILE), { maxBytes: 64 * 1024 }).catch(() => undefined)),
    groupRecord: parseGroupRecord(await fs.readText(path(stateDir, GROUP_RECORD_FILE), { maxBytes: 64 * 1024 }).catch(() => undefined)),
    rootLoggedIn: login ? await rootHasCredentials(fs, layout.rootDockerConfig, registryHost(login.server)) : false,
  };
}

/**
 * The steps, in order: the admin user into the docker group (its record saved first, so that a
 * run killed after usermod still knows the membership is the extension's), then the logins (root
 * first: a wrong password fails there, before anything else changed), then the login record.
 * `settings` undefined: uninstall, which takes back what the records say the extension did.
 */
export function planAccess(inp: { settings: HandlerSettings | undefined; observed: AccessObserved; stateDir: string; socketPath: string; layout: AccessLayout; now: Date; engineToInstall?: boolean }): AccessPlan {
  const { settings, observed: o, stateDir, socketPath, layout } = inp;
  const steps: PlannedStep[] = [];
  const reports: AccessReport[] = [];
  const warnings: string[] = [];
  const groupRecordPath = path(stateDir, GROUP_RECORD_FILE);
  const loginRecordPath = path(stateDir, LOGIN_RECORD_FILE);

  // The docker group.
  let admin: LoginAccount | undefined;
  if (!settings) {
    if (o.groupRecord) {
      steps.push(
        { step: { kind: 'remove-from-docker-group', user: o.groupRecord.user, reason: 'the extension added this membership' } },
        { step: { kind: 'forget-state', path: groupRecordPath, reason: 'the membership is given back' } },
      );
      reports.push({ name: 'docker group', status: 'success', message: `${o.groupRecord.user} removed from the docker group (the extension had added it)` });
    }
  } else if (o.admin.kind === 'none') {
    reports.push({ name: 'docker group', status: 'warning', message: o.admin.warning });
    warnings.push(o.admin.warning);
  } else {
    const u = o.admin.user;
    // A membership the extension added for a user who is no longer the VM's admin user goes back.
    if (o.groupRecord && o.groupRecord.user !== u.name) {
      steps.push({ step: { kind: 'remove-from-docker-group', user: o.groupRecord.user, reason: `the extension added it; the VM's admin user is now ${u.name}` } });
      if (o.admin.inGroup || (!o.admin.groupExists && !inp.engineToInstall)) steps.push({ step: { kind: 'forget-state', path: groupRecordPath, reason: 'the membership is given back' } });
    }
    if (u.uid !== 0) admin = { name: u.name, configDir: `${u.home.replace(/\/+$/, '')}/.docker`, as: { uid: u.uid, gid: u.gid, home: u.home } };
    if (!o.admin.groupExists && !inp.engineToInstall) {
      const w = `the VM's admin user ${u.name} is not added to the docker group: this VM has no group named docker (the engine's package did not create one); create it (groupadd docker) and run enable again`;
      reports.push({ name: 'docker group', status: 'warning', message: w });
      warnings.push(w);
    } else if (o.admin.inGroup) {
      reports.push({ name: 'docker group', status: 'success', message: `the VM's admin user ${u.name} is in the docker group${o.groupRecord?.user === u.name ? ' (added by the extension)' : ''}` });
    } else {
      const record: GroupRecord = { version: 1, user: u.name, group: DOCKER_GROUP, addedAt: inp.now.toISOString() };
      const content = `${JSON.stringify(record, null, 2)}\n`;
      steps.push(
        { step: writeStep(groupRecordPath, content, false, 'record that the extension adds this membership (uninstall takes back only that)'), data: { content, mode: 0o600 } },
        { step: { kind: 'add-to-docker-group', user: u.name, reason: `the VM's admin user (from the agent's provisioning file)${o.admin.groupExists ? '' : '; the group comes with the engine package'}` } },
      );
      reports.push({ name: 'docker group', status: 'success', message: `the VM's admin user ${u.name} added to the docker group (effective at the user's next login)` });
    }
  }

  // The registry login.
  const login = settings?.protected.login;
  const r = o.loginRecord;
  const logoutAll = (rec: LoginRecord, reason: string) => {
    for (const a of rec.accounts) steps.push({ step: { kind: 'registry-logout', server: shownServer(rec.server), ...hostOf(rec.server), account: a, socketPath, reason } });
  };
  if (login) {
    const host = registryHost(login.server);
    const accounts: LoginAccount[] = [{ name: 'root', configDir: layout.rootDockerConfig }, ...(admin ? [admin] : [])];
    const same = r !== undefined && recordMatches(r, host, login.username, login.password) && o.rootLoggedIn && sameAccounts(r.accounts, accounts);
    if (same) {
      reports.push({ name: 'login', status: 'success', message: `${accounts.map((a) => a.name).join(' and ')} logged in to ${shownServer(host)} (unchanged; not logged in again)` });
    } else {
      const why = !r ? 'not logged in by the extension yet' : !recordMatches(r, host, login.username, login.password) ? 'the server, user name or password changed' : !o.rootLoggedIn ? "root's docker client no longer holds the credentials" : 'the accounts to log in changed';
      if (r && r.server !== host) logoutAll(r, `"login.server" changed to ${shownServer(host)}`);
      else if (r) for (const a of r.accounts.filter((x) => !accounts.some((y) => y.name === x.name))) steps.push({ step: { kind: 'registry-logout', server: shownServer(r.server), ...hostOf(r.server), account: a, socketPath, reason: 'no longer the VM\'s admin user' } });
      for (const a of accounts) steps.push({ step: { kind: 'registry-login', server: shownServer(host), ...hostOf(host), account: a, socketPath, reason: why }, credentials: { username: login.username, password: login.password } });
      const content = renderLoginRecord(newRecord(host, login.username, login.password, accounts));
      steps.push({ step: writeStep(loginRecordPath, content, true, 'record the login (a salted HMAC of the credentials, never the password)'), data: { content, mode: 0o600 } });
      reports.push({ name: 'login', status: 'success', message: `${accounts.map((a) => a.name).join(' and ')} logged in to ${shownServer(host)} (credentials checked by dockerd, stored in ${accounts.map((a) => `${a.configDir}/config.json`).join(' and ')})` });
    }
    if (login.email !== undefined) {
      const w = 'protected setting "login.email" is ignored: Docker removed `docker login --email` in 17.06; remove it';
      warnings.push(w);
    }
  } else if (r) {
    logoutAll(r, settings ? '"login" was removed from the settings' : 'the extension logged in');
    steps.push({ step: { kind: 'forget-state', path: loginRecordPath, reason: 'logged out' } });
    reports.push({ name: 'login', status: 'success', message: `${r.accounts.map((a) => a.name).join(' and ')} logged out of ${shownServer(r.server)} (${settings ? '"login" is no longer in the settings' : 'the extension had logged in'})` });
  }
  return { steps, reports, warnings };
}

const hostOf = (host: string | undefined) => (host !== undefined ? { host } : {});

function sameAccounts(a: readonly LoginAccount[], b: readonly LoginAccount[]): boolean {
  const key = (x: LoginAccount) => `${x.name}\0${x.configDir}`;
  return a.length === b.length && a.every((x) => b.some((y) => key(x) === key(y)));
}

function writeStep(p: string, content: string, sensitive: boolean, reason: string): PlannedStep['step'] {
  return { kind: 'write-file', path: p, mode: 0o600, size: Buffer.byteLength(content), sha256: sha256Prefix(content), sensitive, reason };
}
