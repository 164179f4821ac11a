// The protected "login": `docker login --password-stdin` for root's docker client and the VM's
// admin user's. What decides whether a re-enable logs in again is a record in the handler's data
// directory (0600, root only): the server, the accounts logged in, and an HMAC of (server, user
// name, password) under a random salt kept beside it. Not a plain hash: an unsalted hash of a
// human-chosen password is recovered offline in milliseconds; the salted HMAC in a file only root
// reads tells root nothing root could not read in /root/.docker/config.json anyway.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { READ_LIMITS, type ReadFileSystem } from '../system/ports.js';

export const LOGIN_RECORD_FILE = 'registry-login.json';
/** The key docker's config.json files Docker Hub's credentials under. */
export const DOCKER_HUB_KEY = 'https://index.docker.io/v1/';

export interface LoginAccount {
  /** "root", or the admin user's name. */
  name: string;
  /** The docker client's configuration directory (as the processes on the machine see it). */
  configDir: string;
  /** Absent for root: the docker client runs as this uid/gid (setpriv) to write in the user's own home. */
  as?: { uid: number; gid: number; home: string };
}

export interface LoginRecord {
  version: 1;
  /** The host (without https://), or absent for Docker Hub. */
  server?: string;
  accounts: LoginAccount[];
  salt: string;
  hmac: string;
}

/** The host `docker login` is given: the validated setting without its optional https://. */
export function registryHost(server: string | undefined): string | undefined {
  return server === undefined ? undefined : server.replace(/^https:\/\//, '');
}

export function shownServer(host: string | undefined): string {
  return host ?? 'Docker Hub';
}

export function credentialHmac(salt: string, host: string | undefined, username: string, password: string): string {
  return createHmac('sha256', Buffer.from(salt, 'hex')).update(JSON.stringify([host ?? DOCKER_HUB_KEY, username, password])).digest('hex');
}

export function newRecord(host: string | undefined, username: string, password: string, accounts: LoginAccount[]): LoginRecord {
  const salt = randomBytes(32).toString('hex');
  return { version: 1, ...(host !== undefined ? { server: host } : {}), accounts, salt, hmac: credentialHmac(salt, host, username, password) };
}

/** The record still describes these credentials for this server. */
export function recordMatches(r: LoginRecord, host: string | undefined, username: string, password: string): boolean {
  if (r.server !== host) return false;
  const want = Buffer.from(credentialHmac(r.salt, host, username, password), 'hex');
  const have = Buffer.from(r.hmac, 'hex');
  return want.length === have.length && timingSafeEqual(want, have);
}

export function parseLoginRecord(text: string | undefined): LoginRecord | undefined {
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text) as LoginRecord;
    const okAccount = (a: LoginAccount) => typeof a?.name === 'string' && typeof a.configDir === 'string' && a.configDir.startsWith('/');
    if (v?.version === 1 && Array.isArray(v.accounts) && v.accounts.every(okAccount) && typeof v.salt === 'string' && typeof v.hmac === 'string' && (v.server === undefined || typeof v.server === 'string')) return v;
  } catch {
    // unreadable: logged in again (and what it names is not logged out)
  }
  return undefined;
}

export function renderLoginRecord(r: LoginRecord): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}

/**
 * Root's docker client holds credentials for `host` (in "auths", or through a credential helper
 * the admin configured, which docker login uses instead): an admin's `docker logout` is seen. Read from root's own directory, without
 * following a link at config.json; anything unreadable counts as not logged in.
 */
export async function rootHasCredentials(fs: ReadFileSystem, configDir: string, host: string | undefined): Promise<boolean> {
  let parsed: unknown;
  try {
    const text = await fs.readText(`${configDir}/config.json`, { maxBytes: READ_LIMITS.small });
    if (text === undefined) return false;
    parsed = JSON.parse(text);
  } catch {
    return false;
  }
  if (!parsed || typeof parsed !== 'object') return false;
  const key = host ?? DOCKER_HUB_KEY;
  const c = parsed as { auths?: Record<string, unknown>; credHelpers?: Record<string, unknown> };
  const has = (o: Record<string, unknown> | undefined) => !!o && typeof o === 'object' && (key in o || `https://${key}` in o);
  // With a credential store docker keeps an empty entry in "auths" for each server it holds.
  return has(c.auths) || has(c.credHelpers);
}

/** argv of the docker client for an account: `setpriv` to the user's own ids when it is not root. */
export function dockerArgv(account: LoginAccount, socketPath: string, args: readonly string[]): { file: string; args: string[]; env: Record<string, string> } {
  const docker = ['docker', '--config', account.configDir, '-H', `unix://${socketPath}`, ...args];
  if (!account.as) return { file: docker[0]!, args: docker.slice(1), env: {} };
  const { uid, gid, home } = account.as;
  // The user's own ids: whatever links the user planted under their home lead only where they may write anyway.
  return { file: 'setpriv', args: [`--reuid=${uid}`, `--regid=${gid}`, '--init-groups', '--', ...docker], env: { HOME: home } };
}
