// The test "VM": a Debian 11, 12 or 13 container with systemd as PID 1 (no Node, no Docker; waagent's Python code baked in
// with its unit masked), on a dedicated dockerd that is isolated from every other dockerd on the host.
// The infrastructure itself (outer dockerd, cached image, `docker run` flags, waiting for systemd) lives in
// vmctl.sh, which scripts/vm.sh also uses; this module wraps it and adds exec/copy/restart for tests.
//
//   const vm = await startVm();                       // cold: builds the image once (~1 min), warm: ~1-2 s
//   const r = await vm.exec('systemctl is-system-running');
//   await vm.copyIn('dist/handler.zip', '/root/handler.zip');
//   await vm.restart();                               // "reboot": docker restart + wait for systemd
//   await vm.remove();
//
// Needs root on the host, dockerd (docker.io) and a docker CLI; debootstrap is apt-installed when missing.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** The infrastructure script (also used by scripts/vm.sh). */
export const VMCTL = path.join(HERE, 'vmctl.sh');
/** docker CLI used against the outer dockerd. */
export const DOCKER_BIN = process.env.ADX_E2E_DOCKER ?? 'docker';

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** true when the command was killed because timeoutMs passed (exitCode is then 124 or 137). */
  timedOut: boolean;
}

export interface ExecOptions {
  /** Data for the command's stdin. */
  input?: string | Buffer;
  /** Kill the command (inside the VM, with coreutils `timeout`) after this many ms. */
  timeoutMs?: number;
  /** Extra environment variables for the command. */
  env?: Record<string, string>;
  /** Working directory inside the VM. */
  cwd?: string;
  /** User inside the VM (default root). */
  user?: string;
}

/** The Debian releases the test VM comes in (vmctl.sh's ADX_E2E_SUITE). */
export type VmSuite = 'bullseye' | 'bookworm' | 'trixie';

export interface StartVmOptions {
  /** Container name (default: adx-e2e-<pid>-<random>). An existing container of that name is replaced. */
  name?: string;
  /** Hostname inside the VM (default adx-vm). */
  hostname?: string;
  /**
   * Debian release: bullseye (11: docker.io 20.10.5, bookworm's waagent 2.7.3 code), bookworm (12: waagent 2.7.3,
   * docker.io 20.10.24, the default) or trixie (13: waagent 2.12, docker.io 26.1.5).
   */
  suite?: VmSuite;
  /** Bind mounts "hostPath:vmPath[:ro]". Keep them few: the point of the VM is that it is not the host. */
  volumes?: string[];
  /** Environment of PID 1 (systemd passes little of it on to services). */
  env?: Record<string, string>;
  /** More `docker run` arguments. */
  extraRunArgs?: string[];
  /** Overall limit for infrastructure + boot (default 20 min: a cold image build takes about a minute). */
  timeoutMs?: number;
  /** Progress lines (vmctl.sh's stderr); default: discarded, kept in vm.bootLog. */
  log?: (line: string) => void;
}

/** Run a host command; never rejects for a non-zero exit (only when the command cannot be spawned). */
export function runHost(
  cmd: string,
  args: string[],
  opts: { input?: string | Buffer; timeoutMs?: number; env?: NodeJS.ProcessEnv; onStderr?: (s: string) => void } = {},
): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer =
      opts.timeoutMs !== undefined
        ? setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, opts.timeoutMs)
        : undefined;
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => {
      err.push(b);
      opts.onStderr?.(b.toString());
    });
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({
        exitCode: code ?? (signal ? 128 + 9 : 1),
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
        timedOut,
      });
    });
    child.stdin.on('error', () => undefined); // the command may exit without reading its input
    child.stdin.end(opts.input ?? '');
  });
}

function describeFailure(what: string, r: ExecResult): string {
  const tail = (s: string) => (s.length > 4000 ? '…' + s.slice(-4000) : s);
  return `${what} failed (exit ${r.exitCode}${r.timedOut ? ', timed out' : ''})\n--- stdout\n${tail(r.stdout)}\n--- stderr\n${tail(r.stderr)}`;
}

async function vmctl(args: string[], timeoutMs: number, log?: (line: string) => void): Promise<ExecResult> {
  const r = await runHost(VMCTL, args, { timeoutMs, onStderr: log });
  if (r.exitCode !== 0) throw new Error(describeFailure(`vmctl.sh ${args.join(' ')}`, r));
  return r;
}

let dockerHostPromise: Promise<string> | undefined;
/** DOCKER_HOST of the dedicated outer dockerd (unix socket under /run/adx-e2e). Does not start it. */
export function dockerHost(): Promise<string> {
  dockerHostPromise ??= vmctl(['host'], 30_000).then((r) => r.stdout.trim());
  return dockerHostPromise;
}

/**
 * This machine's address on the VMs' bridge (vmctl.sh's BRIDGE, 10.213.0.1 by default): where a VM reaches a
 * service of the test, e.g. a registry. Starts the outer dockerd (and so the bridge) if it is not running.
 */
export async function vmNetworkHostAddress(): Promise<string> {
  return (await vmctl(['gateway'], 5 * 60_000)).stdout.trim();
}

/** Start the outer dockerd and make sure the VM image exists (build or import when missing). Idempotent. */
export async function ensureVmImage(opts: { timeoutMs?: number; log?: (line: string) => void } = {}): Promise<string> {
  const r = await vmctl(['image'], opts.timeoutMs ?? 20 * 60_000, opts.log);
  return r.stdout.trim().split('\n').pop() ?? '';
}

/** Remove every VM and stop the outer dockerd (what `scripts/vm.sh down` does). */
export async function stopVmInfra(): Promise<void> {
  await vmctl(['down'], 5 * 60_000);
}

export interface RestartResult {
  /** systemd's state after the reboot: running or degraded. */
  state: string;
  /** docker restart (clean systemd halt + start) until systemd reports running/degraded. */
  ms: number;
}

export class Vm {
  /** Output of vmctl.sh while the VM was started (timings, build progress). */
  bootLog = '';
  /** Milliseconds from startVm() to systemd running (includes image build/import and dockerd start). */
  bootMs = 0;

  constructor(
    readonly name: string,
    readonly id: string,
    readonly dockerHost: string,
  ) {}

  /** docker CLI against the outer dockerd. */
  docker(args: string[], opts: { input?: string | Buffer; timeoutMs?: number } = {}): Promise<ExecResult> {
    return runHost(DOCKER_BIN, ['-H', this.dockerHost, ...args], opts);
  }

  /**
   * Run a command inside the VM (as root, in the container's namespaces, not inside a systemd unit).
   * A string is run with `bash -c`; an array is exec'd as is. Resolves for any exit code.
   */
  async exec(cmd: string | string[], opts: ExecOptions = {}): Promise<ExecResult> {
    let argv = typeof cmd === 'string' ? ['bash', '-c', cmd] : cmd;
    if (opts.timeoutMs !== undefined) {
      argv = ['timeout', '-k', '5', `${Math.max(1, Math.ceil(opts.timeoutMs / 1000))}`, ...argv];
    }
    const flags = ['exec', '-i'];
    for (const [k, v] of Object.entries(opts.env ?? {})) flags.push('-e', `${k}=${v}`);
    if (opts.cwd) flags.push('-w', opts.cwd);
    if (opts.user) flags.push('-u', opts.user);
    const r = await this.docker([...flags, this.name, ...argv], {
      input: opts.input,
      // backstop on the client side in case the in-VM timeout cannot act (e.g. the VM hangs)
      timeoutMs: opts.timeoutMs !== undefined ? opts.timeoutMs + 30_000 : undefined,
    });
    if (opts.timeoutMs !== undefined && (r.exitCode === 124 || r.exitCode === 137)) r.timedOut = true;
    return r;
  }

  /** exec() that throws (with stdout/stderr in the message) unless the exit code is 0; returns stdout. */
  async check(cmd: string | string[], opts: ExecOptions = {}): Promise<string> {
    const r = await this.exec(cmd, opts);
    if (r.exitCode !== 0) {
      throw new Error(describeFailure(`in VM ${this.name}: ${typeof cmd === 'string' ? cmd : cmd.join(' ')}`, r));
    }
    return r.stdout;
  }

  /**
   * Copy a host file or directory into the VM, with `docker cp` semantics (if vmPath is an existing directory,
   * hostPath lands inside it), after creating vmPath's parent directory. Owner/mode are preserved.
   */
  async copyIn(hostPath: string, vmPath: string): Promise<void> {
    await this.check(['sh', '-c', 'mkdir -p -- "$(dirname -- "$1")"', 'sh', vmPath]);
    const r = await this.docker(['cp', hostPath, `${this.name}:${vmPath}`], { timeoutMs: 5 * 60_000 });
    if (r.exitCode !== 0) throw new Error(describeFailure(`docker cp ${hostPath} ${this.name}:${vmPath}`, r));
  }

  /** Copy a file or directory out of the VM. */
  async copyOut(vmPath: string, hostPath: string): Promise<void> {
    const r = await this.docker(['cp', `${this.name}:${vmPath}`, hostPath], { timeoutMs: 5 * 60_000 });
    if (r.exitCode !== 0) throw new Error(describeFailure(`docker cp ${this.name}:${vmPath} ${hostPath}`, r));
  }

  /** Write a file inside the VM (parents created). */
  async writeFile(vmPath: string, content: string | Buffer, mode = '0644'): Promise<void> {
    await this.check(['sh', '-c', 'mkdir -p -- "$(dirname -- "$1")" && cat > "$1" && chmod "$2" "$1"', 'sh', vmPath, mode], {
      input: content,
    });
  }

  /** Read a file inside the VM. */
  readFile(vmPath: string): Promise<string> {
    return this.check(['cat', '--', vmPath]);
  }

  /** systemctl is-system-running (without waiting). */
  async systemState(): Promise<string> {
    return (await this.exec(['systemctl', 'is-system-running'])).stdout.trim();
  }

  /** Wait until systemd's boot is complete: `running` or `degraded` (failed units are logged to bootLog). */
  async waitForSystemd(timeoutMs = 180_000): Promise<string> {
    const r = await vmctl(['wait', this.name, `${Math.ceil(timeoutMs / 1000)}`], timeoutMs + 30_000);
    this.bootLog += r.stderr;
    return r.stdout.trim();
  }

  /**
   * "Reboot": `docker restart` (the stop signal SIGRTMIN+3 makes systemd halt cleanly: units stop in order),
   * then wait for systemd. The disk (container layer and the /var/lib/docker volume) persists; /run is a fresh
   * tmpfs and systemd-tmpfiles empties /tmp, as on a real boot. Not rebooted: the kernel (boot_id and
   * /proc/uptime are the host's), so code that detects a reboot from those will not see one.
   */
  async restart(opts: { timeoutMs?: number } = {}): Promise<RestartResult> {
    const t0 = Date.now();
    const timeoutMs = opts.timeoutMs ?? 180_000;
    const r = await this.docker(['restart', '-t', '60', this.name], { timeoutMs });
    if (r.exitCode !== 0) throw new Error(describeFailure(`docker restart ${this.name}`, r));
    const state = await this.waitForSystemd(Math.max(10_000, timeoutMs - (Date.now() - t0)));
    return { state, ms: Date.now() - t0 };
  }

  /** IPv4 address on the adx-e2e network. */
  async ip(): Promise<string> {
    const r = await this.docker(['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', this.name]);
    return r.stdout.trim();
  }

  /** journalctl of the current VM (optionally one unit), for failure messages. */
  async journal(unit?: string, lines = 200): Promise<string> {
    const args = ['journalctl', '--no-pager', '-n', `${lines}`, ...(unit ? ['-u', unit] : [])];
    return (await this.exec(args)).stdout;
  }

  /** Stop the VM (clean systemd halt); remove() it afterwards or start it again with `docker start`. */
  async stop(): Promise<void> {
    await this.docker(['stop', '-t', '60', this.name], { timeoutMs: 120_000 });
  }

  /** Remove the container and its anonymous volumes (/var/lib/docker). The outer dockerd keeps running. */
  async remove(): Promise<void> {
    await vmctl(['rm', this.name], 120_000);
  }
}

/** Boot a new VM (starting the outer dockerd and building/importing the image first when needed). */
export async function startVm(opts: StartVmOptions = {}): Promise<Vm> {
  const t0 = Date.now();
  const name = opts.name ?? `adx-e2e-${process.pid}-${randomBytes(3).toString('hex')}`;
  const args = ['boot', name];
  for (const v of opts.volumes ?? []) args.push('-v', v);
  for (const [k, v] of Object.entries(opts.env ?? {})) args.push('-e', `${k}=${v}`);
  args.push(...(opts.extraRunArgs ?? []));
  const env = { ...process.env, ...(opts.hostname ? { ADX_E2E_HOSTNAME: opts.hostname } : {}), ...(opts.suite ? { ADX_E2E_SUITE: opts.suite } : {}) };
  const r = await runHost(VMCTL, args, { timeoutMs: opts.timeoutMs ?? 20 * 60_000, env, onStderr: opts.log });
  if (r.exitCode !== 0) throw new Error(describeFailure(`vmctl.sh boot ${name}`, r));
  const id = r.stdout.trim().split('\n').pop() ?? '';
  const vm = new Vm(name, id, await dockerHost());
  vm.bootLog = r.stderr;
  vm.bootMs = Date.now() - t0;
  return vm;
}
