// The VM suites' dedicated dockerd and containerd (test/support/vm/vmctl.sh) outlive the suites on
// purpose: the next suite, or a person after `scripts/vm.sh up`, reuses them. `npm test` must
// still leave nothing running that it started, so the global setup notes which of the two already
// ran before the run, and the global teardown stops them (`vmctl.sh down`) only when this run
// started them. A dockerd someone started before the run (`scripts/vm.sh up`) is left alone, and
// so is everything else: only the processes vmctl.sh's own pid files name, checked the way
// vmctl.sh checks them (alive, and its command line names vmctl.sh's own config file).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const VMCTL = path.join(path.dirname(fileURLToPath(import.meta.url)), 'support', 'vm', 'vmctl.sh');

/** vmctl.sh's state and run folders, from the same variables and defaults it uses. */
function folders(env) {
  return { state: env.ADX_E2E_STATE || '/var/lib/adx-e2e', run: env.ADX_E2E_RUN || '/run/adx-e2e' };
}

/** pid and start time (field 22 of /proc/<pid>/stat) of a live, non-zombie process; else undefined. */
function identity(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
    return { pid, start: fields[19] };
  } catch {
    return undefined;
  }
}

/** The process a vmctl.sh pid file names, when it is alive and its command line names both words. */
function ours(pidFile, words) {
  let pid;
  try {
    pid = Number.parseInt(readFileSync(pidFile, 'utf8').trim(), 10);
  } catch {
    return undefined;
  }
  if (!(pid > 0)) return undefined;
  const id = identity(pid);
  if (!id) return undefined;
  let cmdline = '';
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return undefined;
  }
  return words.every((w) => cmdline.includes(w)) ? id : undefined;
}

/** The VM suites' dockerd and containerd that run now: `{ dockerd?, containerd? }`, each `{ pid, start }`. */
export function vmInfraProcesses(env = process.env) {
  const { state, run } = folders(env);
  const found = {};
  const dockerd = ours(path.join(run, 'dockerd.pid'), ['dockerd', path.join(state, 'daemon.json')]);
  const containerd = ours(path.join(run, 'containerd.pid'), ['containerd', path.join(state, 'containerd.toml')]);
  if (dockerd) found.dockerd = dockerd;
  if (containerd) found.containerd = containerd;
  return found;
}

/** Which of `now` were not running (as the same process) in `before`. */
export function startedSince(before, now) {
  return Object.entries(now)
    .filter(([name, id]) => before[name]?.pid !== id.pid || before[name]?.start !== id.start)
    .map(([name, id]) => `${name} ${id.pid}`);
}

/**
 * Stops the VM suites' dockerd and containerd when they were started since `before` (and removes
 * the VMs on that dockerd, all of this run's). Returns a line saying what was done, or undefined
 * when nothing of it runs that this run started.
 */
export function stopVmInfraStartedSince(before, env = process.env) {
  const started = startedSince(before, vmInfraProcesses(env));
  if (started.length === 0) return undefined;
  if (env.ADX_E2E_KEEP === '1') return `ADX_E2E_KEEP=1: the VM suites' ${started.join(' and ')} keep running (scripts/vm.sh down stops them)`;
  const r = spawnSync('bash', [VMCTL, 'down'], { env, encoding: 'utf8', timeout: 5 * 60_000 });
  const left = startedSince(before, vmInfraProcesses(env));
  if (r.status !== 0 || left.length > 0) {
    return `could not stop the VM suites' ${started.join(' and ')} (vmctl.sh down exited ${r.status}${left.length ? `; still running: ${left.join(', ')}` : ''}): run scripts/vm.sh down\n${(r.stderr ?? '').slice(-2000)}`;
  }
  return `stopped the VM suites' ${started.join(' and ')}, started by this run`;
}
