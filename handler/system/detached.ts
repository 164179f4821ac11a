import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { CommandRunner } from './ports.js';

// Work that must outlive the agent command that starts it (the enable worker, the long part of
// uninstall). The agent SIGKILLs a command's process group at its timeout, and where it runs
// commands without cgroups (Debian, SLES, RHEL 10, Alma, Rocky) every process left behind sits in
// walinuxagent.service's cgroup, which an agent restart (self-update, package upgrade) kills,
// possibly mid-dpkg. Under systemd the work therefore runs as a transient service of its own
// (systemd-run): no agent restart or timeout reaches it, and the journal keeps its output.
// Without systemd a new session (setsid) escapes the process-group kill, which is all there is.

export interface DetachedJob {
  /** Unique, systemd-safe: "azure-docker-extension-enable-3-1a2b3c". */
  name: string;
  argv: string[];
  cwd: string;
  /** Passed explicitly: a transient unit inherits nothing from its caller. */
  env: Record<string, string>;
}

export interface Launched {
  how: 'systemd-run' | 'setsid';
  /** What to name in messages: the unit, or the pid. */
  label: string;
  /** setsid only: resolves with the exit code (or null) when the process ends. */
  exited?: Promise<number | null>;
}

export const systemdAvailable = (): boolean => existsSync('/run/systemd/system');

function systemdRunArgs(job: DetachedJob, extra: string[]): string[] {
  return [
    '--unit',
    job.name,
    '--collect',
    '--quiet',
    // A crashed worker's core would hold the decrypted TLS key, the registry password and the
    // agent's tenant key. A transient unit inherits no rlimit from us (handler.sh sets ours), so
    // it says so itself; systemd-coredump and apport honour it. A setsid child inherits ours.
    '--property=LimitCORE=0',
    ...extra,
    `--working-directory=${job.cwd}`,
    ...Object.entries(job.env).flatMap(([k, v]) => ['--setenv', `${k}=${v}`]),
    '--',
    ...job.argv,
  ];
}

/** Starts the job and returns once it runs; never waits for it to finish. */
export async function launchDetached(job: DetachedJob, deps: { cmd?: () => Promise<CommandRunner>; useSystemd?: boolean; onFallback?: (why: string) => void }): Promise<Launched> {
  if ((deps.useSystemd ?? systemdAvailable()) && deps.cmd) {
    // Without --no-block: systemd-run returns once the service started (about 10 ms), so a unit
    // that cannot start is seen here and the work falls back to setsid instead of never running.
    const r = await (await deps.cmd()).run('systemd-run', systemdRunArgs(job, []), { timeoutMs: 30_000 });
    if (r.exitCode === 0) return { how: 'systemd-run', label: `${job.name}.service` };
    deps.onFallback?.(`systemd-run failed (exit ${r.exitCode}: ${(r.stderr || r.stdout).trim().split('\n').pop() ?? ''})`);
  }
  return spawnSetsid(job);
}

/**
 * Runs the job detached and waits for it up to `waitMs`: its exit code when it finished in time,
 * undefined when it goes on in the background (the caller reports where its log is).
 */
export async function runDetachedAndWait(
  job: DetachedJob,
  waitMs: number,
  deps: { cmd?: () => Promise<CommandRunner>; useSystemd?: boolean; onFallback?: (why: string) => void },
): Promise<{ launched: Launched; exitCode: number | null | undefined }> {
  if ((deps.useSystemd ?? systemdAvailable()) && deps.cmd) {
    const runner = await deps.cmd();
    // --wait: systemd-run returns with the service's exit code. Killed at the timeout, only the
    // client dies; the service goes on.
    const r = await runner.run('systemd-run', systemdRunArgs(job, ['--wait']), { timeoutMs: waitMs });
    const launched: Launched = { how: 'systemd-run', label: `${job.name}.service` };
    if (r.timedOut) return { launched, exitCode: undefined };
    // 127: systemd-run itself could not be run. Any other code is the job's own (it ran).
    if (r.exitCode !== 127) return { launched, exitCode: r.exitCode };
    deps.onFallback?.(`systemd-run could not be run: ${r.stderr.trim().split('\n').pop() ?? ''}`);
  }
  const launched = await spawnSetsid(job);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), waitMs)));
  const exitCode = await Promise.race([launched.exited!, timeout]);
  clearTimeout(timer);
  return { launched, exitCode };
}

/** A new session (setsid): the caller's exit and its process-group kill miss it. */
export async function spawnSetsid(job: Omit<DetachedJob, 'name'>): Promise<Launched> {
  const [file, ...args] = job.argv;
  const child = spawn(file!, args, { cwd: job.cwd, detached: true, stdio: 'ignore', env: job.env });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.unref();
  return { how: 'setsid', label: `pid ${child.pid}`, exited };
}
