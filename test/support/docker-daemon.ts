// An isolated real dockerd for integration tests: its own data-root, exec-root, pid file, unix
// socket and TCP port under one temp dir; engine files in a RootedFileSystem under that dir.
// Nothing touches /etc/docker, /var/run/docker.sock or /var/lib/docker.
//
// It starts from the state users have: no daemon.json. dockerd runs in a mount namespace of its
// own (util-linux unshare) where the sandbox's etc/docker is /etc/docker and the sandbox's run/ is
// /run, so dockerd's own defaults (the config file at /etc/docker/daemon.json, the socket at
// /var/run/docker.sock) are the sandbox's files exactly as they are a VM's: a dockerd started
// without --config-file, or with a daemon.json that names no hosts, behaves here as it does there.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { ExecaCommandRunner } from '../../handler/system/exec.js';
import { realClock } from '../../handler/system/clock.js';
import { RootedFileSystem } from '../../handler/system/fs.js';
import type { CommandRunner } from '../../handler/system/ports.js';
import { DirectServiceManager } from '../../handler/system/direct-manager.js';
import type { EngineLayout } from '../../handler/docker/desired.js';
import type { EnginePorts } from '../../handler/docker/engine.js';

export const DOCKERD = '/usr/sbin/dockerd';

/** Why the real-dockerd suite cannot run here, or undefined when it can. */
export function dockerUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'not root';
  if (!existsSync(DOCKERD)) return `${DOCKERD} missing`;
  if (!existsSync('/usr/bin/unshare')) return 'unshare (util-linux) missing';
  if (!existsSync('/etc/docker')) return '/etc/docker missing (the sandbox mounts over it in its own namespace)';
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
  } catch {
    return 'openssl missing';
  }
  return undefined;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address() as net.AddressInfo;
      s.close(() => resolve(a.port));
    });
  });
}

/**
 * Real commands, but only the read-only probes the engine needs on an installed Debian
 * (dpkg-query, dpkg --print-architecture): an install attempt fails the test instead of running apt.
 */
export class ProbeOnlyCommandRunner implements CommandRunner {
  readonly calls: string[][] = [];
  private readonly real = new ExecaCommandRunner();
  /** `also`: programs a suite runs for real besides the probes (the compose suite's docker-compose). */
  constructor(private readonly also: readonly string[] = []) {}
  async run(file: string, args: readonly string[], opts?: Parameters<CommandRunner['run']>[2]) {
    this.calls.push([file, ...args]);
    const ok = file === 'dpkg-query' || (file === 'dpkg' && args[0] === '--print-architecture') || this.also.includes(file);
    if (!ok) throw new Error(`integration test refused to run: ${file} ${args.join(' ')}`);
    return this.real.run(file, args, opts);
  }
}

export interface Sandbox {
  dir: string;
  root: string;
  fs: RootedFileSystem;
  socket: string;
  pidFile: string;
  logFile: string;
  dataRoot: string;
  execRoot: string;
  stateDir: string;
  layout: Partial<EngineLayout>;
  cmd: ProbeOnlyCommandRunner;
  services: DirectServiceManager;
  ports(): EnginePorts;
  pid(): number | undefined;
  /** Lines saying dockerd finished starting, so a test can count starts. */
  starts(): number;
  daemonJson(): string;
  cleanup(): Promise<void>;
}

/** Flags that keep the sandbox dockerd off the host's network; they stay on its command line. */
export const SANDBOX_NETWORK_ARGS = ['--bridge', 'none', '--iptables=false', '--ip-masq=false'];

export function createSandbox(): Sandbox {
  // Short path: unix socket paths are limited to 108 bytes.
  const dir = mkdtempSync('/tmp/ade-');
  const root = path.join(dir, 'root');
  const dataRoot = path.join(dir, 'data');
  const execRoot = path.join(dir, 'exec');
  const run = path.join(dir, 'run');
  // dockerd's default socket (/var/run/docker.sock) as its namespace sees it.
  const socket = path.join(run, 'docker.sock');
  const pidFile = path.join(dir, 'docker.pid');
  const logFile = path.join(dir, 'dockerd.log');
  const wrapper = path.join(dir, 'dockerd');
  try {
    mkdirSync(path.join(root, 'etc/docker'), { recursive: true });
    mkdirSync(run, { recursive: true });
    // The host's own os-release: the engine's package probes (dpkg-query) run on the host too.
    copyFileSync('/etc/os-release', path.join(root, 'etc/os-release'));
    // exec keeps the pid (the pid file names it as on a VM), and every program in the chain runs
    // under the name dockerd (symlinks called dockerd): the direct manager, like the monitor, takes
    // a pid whose /proc/<pid>/comm is not dockerd for a dockerd that exited.
    mkdirSync(path.join(dir, 'ns'));
    mkdirSync(path.join(dir, 'sh'));
    symlinkSync('/usr/bin/unshare', path.join(dir, 'ns/dockerd'));
    symlinkSync('/bin/sh', path.join(dir, 'sh/dockerd'));
    writeFileSync(
      wrapper,
      `#!/bin/sh\n# test sandbox: dockerd with this sandbox's /etc/docker and /run\nexec '${dir}/ns/dockerd' --mount --propagation private '${dir}/sh/dockerd' -c 'mount --bind "$0/root/etc/docker" /etc/docker && mount --bind "$0/run" /run && exec ${DOCKERD} "$@"' '${dir}' "$@"\n`,
      { mode: 0o755 },
    );
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return sandboxAt(dir);
}

/** The sandbox made in `dir` by createSandbox, as another process (a test's child) sees it. */
export function sandboxAt(dir: string): Sandbox {
  const root = path.join(dir, 'root');
  const dataRoot = path.join(dir, 'data');
  const execRoot = path.join(dir, 'exec');
  const socket = path.join(dir, 'run', 'docker.sock');
  const pidFile = path.join(dir, 'docker.pid');
  const logFile = path.join(dir, 'dockerd.log');
  const wrapper = path.join(dir, 'dockerd');
  const fs = new RootedFileSystem(root);
  const services = new DirectServiceManager({
    clock: realClock,
    dockerdPath: wrapper,
    configFile: fs.resolve('/etc/docker/daemon.json'),
    pidFile,
    logFile,
    socketPath: socket,
    extraArgs: ['--data-root', dataRoot, '--exec-root', execRoot, ...SANDBOX_NETWORK_ARGS],
  });
  const cmd = new ProbeOnlyCommandRunner();
  const layout: Partial<EngineLayout> = {
    tcpAddress: '127.0.0.1',
    daemonView: (p) => fs.resolve(p),
    readyTimeoutMs: 20_000,
  };
  const readPid = () => {
    try {
      const n = Number.parseInt(readFileSync(pidFile, 'utf8').trim(), 10);
      return n > 0 ? n : undefined;
    } catch {
      return undefined;
    }
  };
  return {
    dir,
    root,
    fs,
    socket,
    pidFile,
    logFile,
    dataRoot,
    execRoot,
    stateDir: '/var/lib/azure-docker-extension',
    layout,
    cmd,
    services,
    ports: () => ({ fs, cmd, clock: realClock, services }),
    pid: readPid,
    starts: () => {
      try {
        return (readFileSync(logFile, 'utf8').match(/Daemon has completed initialization/g) ?? []).length;
      } catch {
        return 0;
      }
    },
    daemonJson: () => readFileSync(path.join(root, 'etc/docker/daemon.json'), 'utf8'),
    cleanup: async () => {
      await killByPidFile(pidFile, 20_000);
      await killByPidFile(path.join(execRoot, 'containerd/containerd.pid'), 5_000);
      // live-restore keeps containers running after dockerd is gone: their shims name the sandbox.
      killProcessTrees((cmdline) => cmdline.includes(dir));
      unmountUnder(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function killByPidFile(file: string, ms: number): Promise<void> {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
  } catch {
    return;
  }
  if (!(pid > 0)) return;
  const alive = () => {
    try {
      process.kill(pid, 0);
      const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return !/\) [ZX] /.test(st);
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + ms;
  while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (alive()) process.kill(pid, 'SIGKILL');
}

/** SIGKILLs every process whose command line matches, with all of its descendants. */
export function killProcessTrees(match: (cmdline: string) => boolean): void {
  const procs = readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .map((p) => {
      try {
        const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
        return { pid: Number(p), ppid: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]), cmdline: readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ') };
      } catch {
        return undefined;
      }
    })
    .filter((p): p is { pid: number; ppid: number; cmdline: string } => p !== undefined);
  const doomed = new Set(procs.filter((p) => p.pid !== process.pid && match(p.cmdline)).map((p) => p.pid));
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of procs) {
      if (!doomed.has(p.pid) && doomed.has(p.ppid)) {
        doomed.add(p.pid);
        grew = true;
      }
    }
  }
  for (const pid of doomed) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/** dockerd 20.10 leaves its data-root bind-mounted after exit. */
export function unmountUnder(dir: string): void {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => m !== undefined && (m === dir || m.startsWith(`${dir}/`)))
    .reverse();
  for (const m of mounts) {
    try {
      execFileSync('umount', [m], { stdio: 'ignore' });
    } catch {
      try {
        execFileSync('umount', ['-l', m], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
  }
}

export interface TlsAttempt {
  ok: boolean;
  status?: number;
  error?: string;
}

/** GET `p` on a dockerd's unix socket; the response body. */
export function socketGet(socketPath: string, p: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.createConnection(socketPath, () => c.write(`GET ${p} HTTP/1.0\r\nHost: docker\r\n\r\n`));
    let data = '';
    c.on('data', (b) => (data += b.toString()));
    c.on('end', () => resolve(data.slice(data.indexOf('\r\n\r\n') + 4)));
    c.on('error', reject);
  });
}

/** Polls GET /_ping on the socket every 100 ms, `tries` times at most: 'OK', or 'no answer'. */
export async function waitPing(socketPath: string, tries = 200): Promise<string> {
  for (let i = 0; i < tries; i++) {
    const r = await socketGet(socketPath, '/_ping').catch(() => '');
    if (r === 'OK') return r;
    await new Promise((res) => setTimeout(res, 100));
  }
  return 'no answer';
}

/** GET /_ping over TLS, optionally presenting a client certificate. */
export function tlsPing(port: number, opts: { ca: string; cert?: string; key?: string }): Promise<TlsAttempt> {
  return new Promise((resolve) => {
    let data = '';
    const s = tls.connect({ host: '127.0.0.1', port, ca: opts.ca, cert: opts.cert, key: opts.key, servername: 'localhost' }, () => {
      s.write('GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n');
    });
    s.setTimeout(5000, () => s.destroy(new Error('timeout')));
    s.on('data', (c: Buffer) => (data += c.toString()));
    s.on('error', (e: NodeJS.ErrnoException) => resolve({ ok: false, error: e.code ?? e.message }));
    s.on('close', () => {
      const m = /^HTTP\/1\.1 (\d+)/.exec(data);
      if (m) resolve({ ok: m[1] === '200', status: Number(m[1]) });
      else resolve({ ok: false, error: 'closed without an HTTP answer' });
    });
  });
}

/** One mutual-TLS GET /_ping over 127.0.0.1, trusting only `ca`; the fingerprint of the certificate the port presented, when dockerd answered 200. */
export function presentedFingerprint(port: number, c: { ca: string; cert: string; key: string }): Promise<string | undefined> {
  return new Promise((resolve) => {
    let fp: string | undefined;
    let data = '';
    const s = tls.connect({ host: '127.0.0.1', port, ...c, servername: 'localhost' }, () => {
      fp = s.getPeerCertificate().fingerprint256;
      s.write('GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n');
    });
    s.setTimeout(2000, () => s.destroy());
    s.on('data', (b: Buffer) => (data += b.toString()));
    s.on('error', () => resolve(undefined));
    s.on('close', () => resolve(/^HTTP\/1\.1 200/.test(data) ? fp : undefined));
  });
}
