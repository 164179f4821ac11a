// The compose steps' effects, run by the applier (apply.ts) after dockerd is proven serving.
// Environment values reach compose through its own process environment only: never argv, a file
// or a log line (the log gets the argv and compose's output, which the sanitiser scrubs).
import { StepFailedError } from '../errors.js';
import type { DistroInfo } from '../distro/detect.js';
import { executeInstall, packageInstallPlan, type InstallContext } from '../docker/install.js';
import type { PlannedStep } from '../docker/plan.js';
import type { Logger } from '../log/logger.js';
import type { Clock, CommandRunner, FileSystem } from '../system/ports.js';
import { DEFAULT_HTTP_TIMEOUT } from './desired.js';
import { findCompose } from './observe.js';

export interface ComposeRuntime {
  fs: FileSystem;
  cmd: CommandRunner;
  clock: Clock;
  log: Logger;
  distro: DistroInfo;
  /** dockerd's local socket, proven serving: compose talks to this one only. */
  socketPath: string;
  stateDir: string;
  /** How compose (a process on the machine) sees a path of the fs port (layout.daemonView). */
  view: (fsPath: string) => string;
  /**
   * Root's docker client configuration (layout.rootDockerConfig, a path of the fs port), where the
   * registry login stored its credentials: compose is pointed at it, so that it pulls a private
   * image whatever HOME the agent gave the handler.
   */
  dockerConfig: string;
  onProgress?: (message: string) => void;
}

const UP_TIMEOUT_MS = 30 * 60_000;

export async function runComposeStep(p: PlannedStep, rt: ComposeRuntime): Promise<void> {
  const s = p.step;
  switch (s.kind) {
    case 'install-compose': {
      rt.onProgress?.(`installing ${s.packages.join(' ')} (${s.reason})`);
      const ictx: InstallContext = { fs: rt.fs, cmd: rt.cmd, clock: rt.clock, log: rt.log, distro: rt.distro, ...(rt.onProgress ? { onProgress: rt.onProgress } : {}) };
      await executeInstall(packageInstallPlan(rt.distro, s.packages, s.reason), ictx);
      if (!(await findCompose(rt.cmd, rt.fs))) throw new StepFailedError(`${s.packages.join(' ')} installed, but neither "docker compose" nor "docker-compose" runs; install compose yourself and enable again`, 'ENOCOMPOSE');
      return;
    }
    case 'save-compose-state': {
      if (!p.compose?.record) throw new Error('no compose record planned');
      await rt.fs.mkdirp(rt.stateDir, 0o700);
      await rt.fs.writeAtomic(s.path, `${JSON.stringify(p.compose.record, null, 2)}\n`, 0o600);
      return;
    }
    case 'compose-up':
    case 'compose-down': {
      const tool = await findCompose(rt.cmd, rt.fs);
      if (!tool) throw new StepFailedError(`No compose found ("docker compose" or "docker-compose") to ${s.kind === 'compose-up' ? 'start' : 'take down'} project ${s.project}; install one and enable again`, 'ENOCOMPOSE');
      const verb = s.kind === 'compose-up' ? ['up', '-d', '--remove-orphans'] : ['down', '--remove-orphans'];
      const args = ['-p', s.project, '-f', rt.view(s.file), ...verb];
      const shown = `${tool.label} ${args.join(' ')}`;
      rt.onProgress?.(`${shown} (compose ${tool.version}): ${s.reason}`);
      // `down` after "compose" left the settings has no environment of its own: the defaults.
      const env: Record<string, string> = { COMPOSE_HTTP_TIMEOUT: DEFAULT_HTTP_TIMEOUT, ...(p.compose?.env ?? {}), COMPOSE_PROJECT_NAME: s.project, DOCKER_HOST: `unix://${rt.socketPath}`, DOCKER_CONFIG: rt.view(rt.dockerConfig) };
      const r = await rt.cmd.run(tool.file, args, { env, timeoutMs: UP_TIMEOUT_MS });
      const output = `${r.stdout}\n${r.stderr}`.trim();
      rt.log.info({ event: `compose ${verb[0]}`, argv: [tool.file, ...args], composeVersion: tool.version, exitCode: r.exitCode, timedOut: r.timedOut, output: output.slice(-16_000) });
      if (r.exitCode !== 0) {
        throw new StepFailedError(
          `${shown} failed${r.timedOut ? ' (timed out)' : ` (exit ${r.exitCode})`}: ${shortError(output)}. ` +
            `Compose's full output is in the handler log (handler.log in the extension's log folder). dockerd keeps serving; fix the "compose" settings and enable again`,
          'ECOMPOSE',
        );
      }
      return;
    }
    default:
      throw new Error(`not a compose step: ${s.kind}`);
  }
}

/** compose's own error: its last meaningful lines, without the progress noise. */
function shortError(output: string): string {
  const lines = output
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^(Creating|Starting|Pulling|Container|Network|Volume)\b.*\b(done|Created|Started|Running|Pulled)\s*$/i.test(l));
  const shown = lines.slice(-3).join(' | ');
  return shown.length > 500 ? `…${shown.slice(-500)}` : shown || 'no output';
}
