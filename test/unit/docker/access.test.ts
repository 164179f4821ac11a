// The admin user's name from ovf-env.xml (checked against the real agent's own parser), the login
// record, and the access plan: what is logged in, out, added and taken back, and when nothing is.
import { describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { parseSettings, type HandlerSettings } from '../../../handler/agent/settings.js';
import { planAccess, type AccessObserved } from '../../../handler/docker/access.js';
import { parseGroup, parseOvfUserName, parsePasswd } from '../../../handler/docker/admin-user.js';
import { describeSteps } from '../../../handler/docker/plan.js';
import { asUser, authEntry, credentialHmac, DOCKER_HUB_KEY, newRecord, parseLoginRecord, recordMatches, registryHost, usesCredentialHelper, withAuth, WRITE_CONFIG_SCRIPT, type LoginAccount } from '../../../handler/docker/registry-login.js';
import { ovfEnvXml } from '../../support/ovf-env.js';

const AGENT_PYTHON = '/usr/bin/python3';
const agentParses = (xml: string): string | undefined => {
  const r = spawnSync(AGENT_PYTHON, ['-c', 'import sys\nfrom azurelinuxagent.common.protocol.ovfenv import OvfEnv\nprint(OvfEnv(sys.stdin.read()).username)'], { input: xml, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
};
const haveAgent = existsSync('/usr/lib/python3/dist-packages/azurelinuxagent');

describe('ovf-env.xml', () => {
  test('the UserName of the file as the agent keeps it; the same name the agent itself reads', () => {
    const xml = ovfEnvXml('azureuser');
    expect(parseOvfUserName(xml)).toEqual({ kind: 'name', name: 'azureuser' });
    if (haveAgent) expect(agentParses(xml)).toBe('azureuser');
  });

  test('any namespace prefix; an entity is no character a user name holds', () => {
    expect(parseOvfUserName('<a:LinuxProvisioningConfigurationSet><a:UserName>ad&#x5f;min</a:UserName></a:LinuxProvisioningConfigurationSet>').kind).toBe('missing');
    expect(parseOvfUserName('<ns:LinuxProvisioningConfigurationSet x="1"><ns:UserName>admin</ns:UserName></ns:LinuxProvisioningConfigurationSet>')).toEqual({ kind: 'name', name: 'admin' });
  });

  test('no configuration set, no UserName, or a name no Linux user has: missing, with why (never the value)', () => {
    expect(parseOvfUserName('<Environment/>')).toEqual({ kind: 'missing', why: 'it has no LinuxProvisioningConfigurationSet' });
    expect(parseOvfUserName('<LinuxProvisioningConfigurationSet><HostName>x</HostName></LinuxProvisioningConfigurationSet>')).toEqual({ kind: 'missing', why: 'it names no UserName' });
    for (const bad of ['-oroot', 'a b', 'x;rm -rf /', '$(id)', '../../etc', 'a'.repeat(40), '']) {
      const r = parseOvfUserName(ovfEnvXml(bad.replace(/&/g, '&amp;').replace(/</g, '&lt;')));
      expect(r).toEqual({ kind: 'missing', why: 'its UserName is not a valid Linux user name' });
    }
  });

  test('getent lines', () => {
    expect(parsePasswd('azureuser:x:1000:1000:,,,:/home/azureuser:/bin/bash')).toEqual({ name: 'azureuser', uid: 1000, gid: 1000, home: '/home/azureuser' });
    expect(parsePasswd('broken')).toBeUndefined();
    expect(parseGroup('docker:x:105:alice,bob\n')).toEqual({ gid: 105, members: ['alice', 'bob'] });
    expect(parseGroup('docker:x:105:')).toEqual({ gid: 105, members: [] });
  });
});

describe('login fields that reach docker login', () => {
  const err = (login: Record<string, unknown>) => {
    try {
      parseSettings({}, { login });
      return '';
    } catch (e) {
      return (e as Error).message;
    }
  };
  test('a user name with ":" or a line break, a password with a line break: refused, never echoed', () => {
    const u = err({ username: 'bob:evil', password: 'pa55word' });
    expect(u).toContain('protected setting "login.username" must be a user name without ":", line breaks or other control characters');
    expect(u).not.toContain('bob');
    const p = err({ username: 'bob', password: 'first\nsecond' });
    expect(p).toContain('protected setting "login.password" must not contain line breaks or other control characters');
    expect(p).not.toContain('first');
    // An e-mail address as user name (ACR tokens, Docker Hub accounts) and a password with spaces are fine.
    expect(err({ username: 'bob@example.com', password: 'correct horse battery staple' })).toBe('');
  });
});

describe('login record', () => {
  test('an HMAC under a random salt: matches the same credentials only; never the password itself', () => {
    const r = newRecord('reg.example:5000', 'bob', 'pa55word', []);
    expect(recordMatches(r, 'reg.example:5000', 'bob', 'pa55word')).toBe(true);
    expect(recordMatches(r, 'reg.example:5000', 'bob', 'other')).toBe(false);
    expect(recordMatches(r, 'reg.example:5000', 'eve', 'pa55word')).toBe(false);
    expect(recordMatches(r, 'other.example', 'bob', 'pa55word')).toBe(false);
    expect(recordMatches(r, undefined, 'bob', 'pa55word')).toBe(false);
    const text = JSON.stringify(r);
    expect(text).not.toContain('pa55word');
    expect(text).not.toContain(Buffer.from('bob:pa55word').toString('base64'));
    // Two records of the same credentials share nothing an offline guess could be checked against without the salt.
    const again = newRecord('reg.example:5000', 'bob', 'pa55word', []);
    expect(again.hmac).not.toBe(r.hmac);
    expect(credentialHmac(again.salt, 'reg.example:5000', 'bob', 'pa55word')).toBe(again.hmac);
  });

  test('an unreadable record is none', () => {
    expect(parseLoginRecord('{')).toBeUndefined();
    expect(parseLoginRecord(JSON.stringify({ version: 1, accounts: [{ name: 'x', configDir: 'relative' }], salt: '', hmac: '' }))).toBeUndefined();
    expect(parseLoginRecord(undefined)).toBeUndefined();
  });

  test('https:// is taken off the server; Docker Hub when none', () => {
    expect(registryHost('https://reg.example:5000')).toBe('reg.example:5000');
    expect(registryHost(undefined)).toBeUndefined();
  });

  test("the admin user's file is read and written by the user's own processes; the content only on stdin", () => {
    const a: LoginAccount = { name: 'azureuser', configDir: '/home/azureuser/.docker', as: { uid: 1000, gid: 1000, home: '/home/azureuser' } };
    expect(asUser(a, ['sh', '-c', WRITE_CONFIG_SCRIPT, 'sh', a.configDir])).toEqual({
      file: 'setpriv',
      args: ['--reuid=1000', '--regid=1000', '--init-groups', '--', 'sh', '-c', WRITE_CONFIG_SCRIPT, 'sh', '/home/azureuser/.docker'],
      env: { HOME: '/home/azureuser' },
    });
    expect(asUser({ name: 'root', configDir: '/root/.docker' }, ['cat', 'x'])).toEqual({ file: 'cat', args: ['x'], env: {} });
  });

  test("docker's config.json: the entry set or removed, everything else kept; a file that is not an object is never replaced", () => {
    const before = JSON.stringify({ auths: { 'other.example': { auth: 'eA==' } }, credHelpers: { 'x.azurecr.io': 'acr' }, detachKeys: 'ctrl-e' });
    const set = JSON.parse(withAuth(before, 'reg.example:5000', authEntry('bob', 'pa55word'), 'f'));
    expect(set).toEqual({ auths: { 'other.example': { auth: 'eA==' }, 'reg.example:5000': { auth: Buffer.from('bob:pa55word').toString('base64') } }, credHelpers: { 'x.azurecr.io': 'acr' }, detachKeys: 'ctrl-e' });
    expect(JSON.parse(withAuth(JSON.stringify(set), 'reg.example:5000', undefined, 'f')).auths).toEqual({ 'other.example': { auth: 'eA==' } });
    expect(authEntry('bob', 'pa55word', 'tok')).toEqual({ auth: Buffer.from('bob:').toString('base64'), identitytoken: 'tok' });
    expect(JSON.parse(withAuth(undefined, DOCKER_HUB_KEY, authEntry('bob', 'p'), 'f')).auths[DOCKER_HUB_KEY]).toBeDefined();
    expect(() => withAuth('[1]', 'k', undefined, "root's /root/.docker/config.json")).toThrow(
      "root's /root/.docker/config.json is not a JSON object, so the registry login cannot be stored in it; fix or remove it and run enable again",
    );
    expect(usesCredentialHelper(before, 'x.azurecr.io')).toBe(true);
    expect(usesCredentialHelper(before, 'reg.example:5000')).toBe(false);
    expect(usesCredentialHelper(JSON.stringify({ credsStore: 'pass' }), 'reg.example:5000')).toBe(true);
  });
});

describe('planAccess', () => {
  const layout = { ovfEnvFile: '/var/lib/waagent/ovf-env.xml', rootDockerConfig: '/root/.docker', view: (p: string) => p };
  const user = { name: 'azureuser', uid: 1000, gid: 1000, home: '/home/azureuser' };
  const now = new Date('2026-12-01T00:00:00Z');
  const withLogin = (login?: Record<string, unknown>): HandlerSettings => parseSettings({}, login ? { login } : {});
  const LOGIN = { server: 'https://reg.example:5000', username: 'bob', password: 'pa55word' };
  const observed = (o: Partial<AccessObserved> = {}): AccessObserved => ({ admin: { kind: 'user', user, inGroup: false, groupExists: true }, loginRecord: undefined, groupRecord: undefined, rootLoggedIn: false, ...o });
  const plan = (settings: HandlerSettings | undefined, o: AccessObserved) => planAccess({ settings, observed: o, stateDir: '/var/lib/waagent/X', socketPath: '/run/docker.sock', layout, now });
  const accounts: LoginAccount[] = [{ name: 'root', configDir: '/root/.docker' }, { name: 'azureuser', configDir: '/home/azureuser/.docker', as: { uid: 1000, gid: 1000, home: '/home/azureuser' } }];

  test('first enable: group record, usermod, then root and the user logged in, then the record; the password only in the credentials', () => {
    const p = plan(withLogin(LOGIN), observed());
    expect(p.steps.map((s) => s.step.kind)).toEqual(['write-file', 'add-to-docker-group', 'registry-login', 'registry-login', 'write-file']);
    const lines = describeSteps(p.steps.map((s) => s.step));
    expect(lines[1]).toBe("add azureuser to the docker group (usermod -aG docker azureuser): the VM's admin user (from the agent's provisioning file)");
    expect(lines[2]).toBe('log in to reg.example:5000 for root (credentials checked by dockerd, stored in /root/.docker/config.json): not logged in by the extension yet');
    expect(lines[3]).toMatch(/^log in to reg.example:5000 for azureuser \(credentials checked by dockerd, stored in \/home\/azureuser\/.docker\/config.json\)/);
    expect(JSON.stringify(p.steps.map((s) => s.step))).not.toContain('pa55word');
    expect(JSON.stringify(lines)).not.toContain('bob');
    expect(p.steps[2]!.credentials).toEqual({ username: 'bob', password: 'pa55word' });
    expect(p.warnings).toEqual([]);
  });

  test('the same login again, still in root\'s config: nothing to do', () => {
    const rec = newRecord('reg.example:5000', 'bob', 'pa55word', accounts);
    const p = plan(withLogin(LOGIN), observed({ admin: { kind: 'user', user, inGroup: true, groupExists: true }, loginRecord: rec, rootLoggedIn: true }));
    expect(p.steps).toEqual([]);
    expect(p.reports.find((r) => r.name === 'login')!.message).toBe('root and azureuser logged in to reg.example:5000 (unchanged; not logged in again)');
  });

  test('a changed password, or an admin who logged root out, logs in again', () => {
    const rec = newRecord('reg.example:5000', 'bob', 'old', accounts);
    const inGroup = { kind: 'user' as const, user, inGroup: true, groupExists: true };
    expect(plan(withLogin(LOGIN), observed({ admin: inGroup, loginRecord: rec, rootLoggedIn: true })).steps.map((s) => s.step.reason)[0]).toBe('the server, user name or password changed');
    const same = newRecord('reg.example:5000', 'bob', 'pa55word', accounts);
    expect(plan(withLogin(LOGIN), observed({ admin: inGroup, loginRecord: same, rootLoggedIn: false })).steps[0]!.step.reason).toBe("root's docker client no longer holds the credentials");
  });

  test('a changed server logs out of the old one first', () => {
    const rec = newRecord('old.example', 'bob', 'pa55word', accounts);
    const p = plan(withLogin(LOGIN), observed({ admin: { kind: 'user', user, inGroup: true, groupExists: true }, loginRecord: rec, rootLoggedIn: false }));
    expect(describeSteps(p.steps.map((s) => s.step)).slice(0, 2)).toEqual([
      'log out of old.example for root (its entry removed from /root/.docker/config.json): "login.server" changed to reg.example:5000',
      'log out of old.example for azureuser (its entry removed from /home/azureuser/.docker/config.json): "login.server" changed to reg.example:5000',
    ]);
  });

  test('login removed from the settings: logged out and the record forgotten; uninstall also gives back the group', () => {
    const rec = newRecord(undefined, 'bob', 'pa55word', accounts);
    const removed = plan(withLogin(), observed({ admin: { kind: 'user', user, inGroup: true, groupExists: true }, loginRecord: rec }));
    expect(describeSteps(removed.steps.map((s) => s.step))).toEqual([
      'log out of Docker Hub for root (its entry removed from /root/.docker/config.json): "login" was removed from the settings',
      'log out of Docker Hub for azureuser (its entry removed from /home/azureuser/.docker/config.json): "login" was removed from the settings',
      'remove /var/lib/waagent/X/registry-login.json: logged out',
    ]);
    const uninstall = plan(undefined, observed({ loginRecord: rec, groupRecord: { version: 1, user: 'azureuser', group: 'docker', addedAt: '' } }));
    expect(uninstall.steps.map((s) => s.step.kind)).toEqual(['remove-from-docker-group', 'forget-state', 'registry-logout', 'registry-logout', 'forget-state']);
    // A membership the extension did not add is never taken back.
    expect(plan(undefined, observed()).steps).toEqual([]);
  });

  test("a new admin user: the membership the extension added for the previous one goes back", () => {
    const rec = { version: 1 as const, user: 'olduser', group: 'docker', addedAt: '' };
    const p = plan(withLogin(), observed({ groupRecord: rec }));
    expect(p.steps.map((s) => `${s.step.kind}${'user' in s.step ? ` ${s.step.user}` : ''}`)).toEqual(['remove-from-docker-group olduser', 'write-file', 'add-to-docker-group azureuser']);
    const already = plan(withLogin(), observed({ groupRecord: rec, admin: { kind: 'user', user, inGroup: true, groupExists: true } }));
    expect(already.steps.map((s) => s.step.kind)).toEqual(['remove-from-docker-group', 'forget-state']);
  });

  test('no admin user: a warning, root still logged in', () => {
    const p = plan(withLogin(LOGIN), observed({ admin: { kind: 'none', warning: 'no ovf' } }));
    expect(p.warnings).toEqual(['no ovf']);
    expect(p.steps.map((s) => `${s.step.kind}${'account' in s.step ? ` ${s.step.account.name}` : ''}`)).toEqual(['registry-login root', 'write-file']);
  });

  test('no docker group on the VM: a warning (planned when the engine is still to be installed, whose package makes it)', () => {
    const noGroup = observed({ admin: { kind: 'user', user, inGroup: false, groupExists: false } });
    const p = plan(withLogin(), noGroup);
    expect(p.steps).toEqual([]);
    expect(p.warnings).toEqual(["the VM's admin user azureuser is not added to the docker group: this VM has no group named docker (the engine's package did not create one); create it (groupadd docker) and run enable again"]);
    const before = planAccess({ settings: withLogin(), observed: noGroup, stateDir: '/s', socketPath: '/run/docker.sock', layout, now, engineToInstall: true });
    expect(describeSteps(before.steps.map((s) => s.step))[1]).toBe("add azureuser to the docker group (usermod -aG docker azureuser): the VM's admin user (from the agent's provisioning file); the group comes with the engine package");
  });

  test('login.email: accepted, ignored, said once', () => {
    const p = plan(withLogin({ ...LOGIN, email: 'bob@example.com' }), observed());
    expect(p.warnings).toEqual(['protected setting "login.email" is ignored: Docker removed `docker login --email` in 17.06; remove it']);
  });
});
