// The effects of the access steps (access.ts), run by the applier: usermod/gpasswd for the docker
// group, the docker client for login and logout. The password reaches docker on stdin only: never
// argv, never an environment variable, never a log line (the runner logs argv and exit code only).
import { StepFailedError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { CommandResult, CommandRunner } from '../system/ports.js';
import { DOCKER_GROUP } from './admin-user.js';
import type { PlannedStep } from './plan.js';
import { dockerArgv } from './registry-login.js';

const TIMEOUT_MS = 2 * 60_000;

export async function runAccessStep(p: PlannedStep, cmd: CommandRunner, log: Logger): Promise<void> {
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
      const argv = dockerArgv(s.account, s.socketPath, ['login', `--username=${p.credentials.username}`, '--password-stdin', ...(s.host !== undefined ? [s.host] : [])]);
      const r = await cmd.run(argv.file, argv.args, { input: p.credentials.password, env: argv.env, timeoutMs: TIMEOUT_MS });
      log.debug({ event: 'registry login', server: s.server, account: s.account.name, exitCode: r.exitCode });
      if (r.exitCode !== 0) {
        throw new StepFailedError(
          `protected setting "login": logging in to ${s.server} for ${s.account.name} failed (docker login: ${lastLine(r)}). ` +
            `dockerd keeps serving; no credentials were stored${s.account.name === 'root' ? '' : ' for this user'}. Check "login.server", "login.username" and "login.password" (and that the registry is reachable from this VM), then run enable again.`,
          'ELOGIN',
        );
      }
      return;
    }
    case 'registry-logout': {
      const argv = dockerArgv(s.account, s.socketPath, ['logout', ...(s.host !== undefined ? [s.host] : [])]);
      const r = await cmd.run(argv.file, argv.args, { env: argv.env, timeoutMs: TIMEOUT_MS });
      if (r.exitCode !== 0) {
        throw new StepFailedError(`Could not log ${s.account.name} out of ${s.server} (docker logout: ${lastLine(r)}); run docker logout ${s.host ?? ''} as ${s.account.name} yourself`.trimEnd(), 'ELOGOUT');
      }
      return;
    }
    default:
      throw new Error(`${s.kind} is not an access step`);
  }
}

function lastLine(r: CommandResult): string {
  const text = (r.stderr || r.stdout).trim();
  return text.split('\n').filter((l) => l.trim() !== '').slice(-1)[0]?.slice(0, 300) || (r.timedOut ? 'timed out' : 'no output');
}
