// The effects of the access steps (access.ts), run by the applier: usermod/gpasswd for the docker
// group; for the login, dockerd's check of the credentials (POST /auth) and docker's config.json
// of each account. The credentials never reach a child process's argv or environment: root's
// file is written by the handler itself, a user's by `sh` run as that user with the content on
// its stdin. Nothing here logs them (the runner logs argv and exit code only).
import { StepFailedError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { READ_LIMITS, type CommandResult, type CommandRunner, type FileSystem } from '../system/ports.js';
import { DOCKER_GROUP } from './admin-user.js';
import { httpPostJson } from './http-get.js';
import type { PlannedStep } from './plan.js';
import { asUser, authEntry, configKey, usesCredentialHelper, withAuth, WRITE_CONFIG_SCRIPT, type AuthEntry, type LoginAccount } from './registry-login.js';

const TIMEOUT_MS = 2 * 60_000;

export interface AccessStepContext {
  fs: FileSystem;
  cmd: CommandRunner;
  log: Logger;
}

export async function runAccessStep(p: PlannedStep, ctx: AccessStepContext): Promise<void> {
  const { cmd, log } = ctx;
  const s = p.step;
  switch (s.kind) {
    case 'add-to-docker-group': {
      const r = await cmd.run('usermod', ['-aG', DOCKER_GROUP, s.user], { timeoutMs: TIMEOUT_MS });
      if (r.exitCode !== 0) {
        throw new StepFailedError(`Could not add the VM's admin user ${s.user} to the docker group (usermod exit ${r.exitCode}: ${lastLine(r)}); add it yourself with usermod -aG docker ${s.user}, or check /etc/group, and run enable again`, 'EDOCKERGROUP');
      }
      return;
    }
    case 'remove-from-docker-group': {
      const r = await cmd.run('gpasswd', ['-d', s.user, DOCKER_GROUP], { timeoutMs: TIMEOUT_MS });
      // Already gone (the admin took it back, or the user or group was removed): nothing to give back.
      if (r.exitCode !== 0 && !/not a member|does not exist|unknown/i.test(`${r.stderr} ${r.stdout}`)) {
        throw new StepFailedError(`Could not remove ${s.user} from the docker group (gpasswd exit ${r.exitCode}: ${lastLine(r)}); remove it yourself with gpasswd -d ${s.user} docker`, 'EDOCKERGROUP');
      }
      return;
    }
    case 'registry-login': {
      if (!p.credentials) throw new Error('no credentials planned for the registry login');
      const { username, password } = p.credentials;
      // What `docker login` asks dockerd: the registry answers dockerd, which uses its certs.d.
      const r = await httpPostJson({ socketPath: s.socketPath, path: '/auth' }, { username, password, serveraddress: configKey(s.host) }, TIMEOUT_MS);
      let answer: { message?: unknown; IdentityToken?: unknown } = {};
      try {
        answer = JSON.parse(r.body) as typeof answer;
      } catch {
        // not JSON: the status says it
      }
      log.debug({ event: 'registry login', server: s.server, account: s.account.name, status: r.status, error: r.error });
      if (r.status !== 200) {
        const why = typeof answer.message === 'string' ? answer.message : r.error ?? `HTTP ${r.status}`;
        throw new StepFailedError(
          `protected setting "login": logging in to ${s.server} failed (dockerd: ${why.slice(0, 300)}). ` +
            `dockerd keeps serving; no credentials were stored. Check "login.server", "login.username" and "login.password" (and that the registry is reachable from this VM), then run enable again.`,
          'ELOGIN',
        );
      }
      await storeAuth(s.account, configKey(s.host), authEntry(username, password, typeof answer.IdentityToken === 'string' ? answer.IdentityToken : undefined), ctx);
      return;
    }
    case 'registry-logout':
      await storeAuth(s.account, configKey(s.host), undefined, ctx);
      return;
    default:
      throw new Error(`${s.kind} is not an access step`);
  }
}

function lastLine(r: CommandResult): string {
  const text = (r.stderr || r.stdout).trim();
  return text.split('\n').filter((l) => l.trim() !== '').slice(-1)[0]?.slice(0, 300) || (r.timedOut ? 'timed out' : 'no output');
}

/** Sets (or removes) the account's entry for `key` in its config.json, every other entry kept. */
async function storeAuth(account: LoginAccount, key: string, entry: AuthEntry | undefined, ctx: AccessStepContext): Promise<void> {
  const file = `${account.configDir.replace(/\/+$/, '')}/config.json`;
  const shown = `${account.name}'s ${file}`;
  if (!account.as) {
    const text = await ctx.fs.readText(file, { maxBytes: READ_LIMITS.small });
    if (entry === undefined && text === undefined) return;
    if (usesCredentialHelper(text, key)) ctx.log.warn({ event: `${shown} names a credential helper (credsStore/credHelpers); docker asks it, not "auths", for this registry` });
    const next = withAuth(text, key, entry, shown);
    await ctx.fs.mkdirp(account.configDir, 0o700);
    await ctx.fs.writeAtomic(file, next, 0o600);
    return;
  }
  // The user's home is the user's: read and written by the user's own processes, so that a link
  // the user planted there leads nowhere the user could not write anyway.
  const read = asUser(account, ['cat', '--', file]);
  const r = await ctx.cmd.run(read.file, read.args, { env: read.env, timeoutMs: TIMEOUT_MS });
  const missing = r.exitCode !== 0 && /No such file/i.test(r.stderr);
  if (r.exitCode !== 0 && !missing) throw new StepFailedError(`Could not read ${shown} as ${account.name} (${lastLine(r)}); check its home directory and run enable again`, 'ELOGINCONFIG');
  if (entry === undefined && missing) return;
  const next = withAuth(missing ? undefined : r.stdout, key, entry, shown);
  const write = asUser(account, ['sh', '-c', WRITE_CONFIG_SCRIPT, 'sh', account.configDir]);
  const w = await ctx.cmd.run(write.file, write.args, { input: next, env: write.env, timeoutMs: TIMEOUT_MS });
  if (w.exitCode !== 0) throw new StepFailedError(`Could not write ${shown} as ${account.name} (${lastLine(w)}); check its home directory and run enable again`, 'ELOGINCONFIG');
}
