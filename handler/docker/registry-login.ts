// The protected "login", for root's docker client and the VM's admin user's. dockerd checks the
// credentials (POST /auth, what `docker login` asks it), and the handler stores them where each
// client reads them, in docker's own config.json form. No child process ever holds them: not on
// an argument (where `docker login --username` would put the user name), nor in an environment.
// What decides whether a re-enable logs in again is a record in the handler's data directory
// (0600, root only): the server, the accounts logged in, and an HMAC of (server, user name,
// password) under a random salt kept beside it. Not a plain hash: an unsalted hash of a
// human-chosen password is recovered offline in milliseconds; the salted HMAC in a file only root
// reads tells root nothing root could not read in /root/.docker/config.json anyway.
import { isSalt, keyedFingerprint, matchesFingerprint, newSalt } from '../crypto/keyed-fingerprint.js';
import { StepFailedError } from '../errors.js';
import { READ_LIMITS, type ReadFileSystem } from '../system/ports.js';

export const LOGIN_RECORD_FILE = 'registry-login.json';
/** The key docker's config.json files Docker Hub's credentials under. */
export const DOCKER_HUB_KEY = 'https://index.docker.io/v1/';

export interface LoginAccount {
  /** "root", or the admin user's name. */
  name: string;
  /**
   * The docker client's configuration directory. Root's is in the fs port's namespace (written
   * with its link-safe writers); a user's as the machine sees it, read and written by commands
   * run as that user (setpriv), so that root never writes in a directory the user owns.
   */
  configDir: string;
  /** Absent for root. */
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
  return keyedFingerprint(salt, [host ?? DOCKER_HUB_KEY, username, password]);
}

export function newRecord(host: string | undefined, username: string, password: string, accounts: LoginAccount[]): LoginRecord {
  const salt = newSalt();
  return { version: 1, ...(host !== undefined ? { server: host } : {}), accounts, salt, hmac: credentialHmac(salt, host, username, password) };
}

/** The record still describes these credentials for this server. */
export function recordMatches(r: LoginRecord, host: string | undefined, username: string, password: string): boolean {
  return r.server === host && matchesFingerprint(r.salt, [host ?? DOCKER_HUB_KEY, username, password], r.hmac);
}

export function parseLoginRecord(text: string | undefined): LoginRecord | undefined {
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text) as LoginRecord;
    const okAs = (u: LoginAccount['as']) => u === undefined || (Number.isInteger(u.uid) && Number.isInteger(u.gid) && typeof u.home === 'string');
    const okAccount = (a: LoginAccount) => typeof a?.name === 'string' && typeof a.configDir === 'string' && a.configDir.startsWith('/') && okAs(a.as);
    if (v?.version === 1 && Array.isArray(v.accounts) && v.accounts.every(okAccount) && isSalt(v.salt) && typeof v.hmac === 'string' && (v.server === undefined || typeof v.server === 'string')) return v;
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
 * the admin configured): an admin's `docker logout` is seen. Read from root's own directory,
 * without following a link at config.json; anything unreadable counts as not logged in.
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

export interface AuthEntry {
  auth: string;
  identitytoken?: string;
}

/**
 * docker's own form of a stored login: base64 of "user:password", or, when the registry answered
 * with an identity token (an OAuth refresh token), "user:" and the token (docker keeps no password then).
 */
export function authEntry(username: string, password: string, identityToken?: string): AuthEntry {
  if (identityToken) return { auth: Buffer.from(`${username}:`).toString('base64'), identitytoken: identityToken };
  return { auth: Buffer.from(`${username}:${password}`).toString('base64') };
}

export function configKey(host: string | undefined): string {
  return host ?? DOCKER_HUB_KEY;
}

/**
 * config.json with the entry for `key` set (or removed, `entry` undefined), every other key as it
 * was. Tab-indented, as docker writes it. A file that is not a JSON object is never replaced:
 * it may hold what the admin wrote by hand.
 */
export function withAuth(text: string | undefined, key: string, entry: AuthEntry | undefined, shown: string): string {
  let cfg: Record<string, unknown> = {};
  if (text !== undefined && text.trim() !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new StepFailedError(`${shown} is not a JSON object, so the registry login cannot be stored in it; fix or remove it and run enable again`, 'ELOGINCONFIG');
    }
    cfg = parsed as Record<string, unknown>;
  }
  const auths = cfg.auths && typeof cfg.auths === 'object' && !Array.isArray(cfg.auths) ? { ...(cfg.auths as Record<string, unknown>) } : {};
  if (entry) auths[key] = entry;
  else {
    delete auths[key];
    delete auths[`https://${key}`];
  }
  return `${JSON.stringify({ ...cfg, auths }, null, '\t')}\n`;
}

/** Credentials in "credsStore"/"credHelpers" are the helper's: docker does not read "auths" for that server then. */
export function usesCredentialHelper(text: string | undefined, key: string): boolean {
  try {
    const c = JSON.parse(text ?? '{}') as { credsStore?: unknown; credHelpers?: Record<string, unknown> };
    return (typeof c.credsStore === 'string' && c.credsStore !== '') || (!!c.credHelpers && typeof c.credHelpers === 'object' && key in c.credHelpers);
  } catch {
    return false;
  }
}

/** argv that runs `argv` as the account's user (its own ids and groups), HOME set to its home. */
export function asUser(account: LoginAccount, argv: readonly string[]): { file: string; args: string[]; env: Record<string, string> } {
  if (!account.as) return { file: argv[0]!, args: argv.slice(1), env: {} };
  const { uid, gid, home } = account.as;
  return { file: 'setpriv', args: [`--reuid=${uid}`, `--regid=${gid}`, '--init-groups', '--', ...argv], env: { HOME: home } };
}

/**
 * Replaces <dir>/config.json with stdin, as the user: the directory made 0700 and the file 0600
 * (umask), written beside and renamed over. The script is constant; the directory is its argument.
 */
export const WRITE_CONFIG_SCRIPT = 'umask 077 && mkdir -p -- "$1" && t="$1/.config.json.adx-$$" && cat > "$t" && mv -f -- "$t" "$1/config.json"';
