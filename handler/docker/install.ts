// Engine installation per distribution. planInstall is pure (distro + request + what is
// installed → commands and repository files); executeInstall runs it through the ports, waiting
// out package-manager locks held by cloud-init, unattended-upgrades or other extensions.
import { ConfigError, StepFailedError } from '../errors.js';
import type { DistroInfo, PackageManagerKind } from '../distro/detect.js';
import type { Clock, CommandResult, CommandRunner, FileSystem } from '../system/ports.js';
import type { Logger } from '../log/logger.js';

export type EngineSource = 'distro' | 'docker-ce' | 'moby';
export type AzureEnvironment = 'AzureCloud' | 'AzureChinaCloud' | 'AzureUSGovernment' | 'AzureGermanCloud';

export interface InstallRequest {
  source: EngineSource;
  version?: string;
  azureEnvironment: AzureEnvironment;
}

export interface InstalledPackage {
  name: string;
  version: string;
}

/**
 * Package repositories per cloud. Docker's repository has an official mirror in Azure China
 * (what get.docker.com's `--mirror AzureChinaCloud` and the Go extension used); Microsoft's
 * packages.microsoft.com is served from every Azure cloud, so moby uses it everywhere.
 */
export const REPOSITORY_BASES: Record<AzureEnvironment, { dockerCe: string; microsoft: string }> = {
  AzureCloud: { dockerCe: 'https://download.docker.com', microsoft: 'https://packages.microsoft.com' },
  AzureChinaCloud: { dockerCe: 'https://mirror.azure.cn/docker-ce', microsoft: 'https://packages.microsoft.com' },
  AzureUSGovernment: { dockerCe: 'https://download.docker.com', microsoft: 'https://packages.microsoft.com' },
  AzureGermanCloud: { dockerCe: 'https://download.docker.com', microsoft: 'https://packages.microsoft.com' },
};

/** Engine package names we recognise as "an engine is installed", per package format. */
const DEB_ENGINES = ['docker.io', 'docker-ce', 'moby-engine'];
const RPM_ENGINES = ['docker-ce', 'moby-engine', 'docker'];

export interface RepoSetup {
  /** The repository's address, as the dry run and the status show it (the cloud's mirror in a sovereign cloud). */
  url: string;
  /** Signing key fetched with curl and written through the fs port (apt only). */
  key?: { url: string; path: string };
  files: { path: string; content: string; mode: number }[];
}

export interface InstallPlan {
  action: 'install' | 'none';
  source: EngineSource;
  manager: PackageManagerKind;
  /** The engine package this source means on this distro (docker.io, docker-ce, moby-engine, docker). */
  enginePackage?: string;
  packages: string[];
  repo?: RepoSetup;
  reason: string;
  warnings: string[];
  /** For --dry-run and the log: what would run, argv per line. */
  commands: string[][];
}

export interface InstallFacts {
  installed: InstalledPackage[];
  /** dockerd binary exists (Flatcar, hand-installed engines). */
  dockerdPresent: boolean;
  /** dpkg --print-architecture / uname -m. */
  arch: string;
}

export const APT_LOCK_TIMEOUT_S = 300;

const APT_INSTALL_OPTS = ['-q', '-y', '-o', `DPkg::Lock::Timeout=${APT_LOCK_TIMEOUT_S}`, '-o', 'Dpkg::Options::=--force-confdef', '-o', 'Dpkg::Options::=--force-confold'];

export function wantedEngine(distro: DistroInfo, source: EngineSource): { pkg: string; packages: (v?: string) => string[] } | { unsupported: string } | { none: string } {
  const pinDeb = (name: string, v?: string) => (v ? `${name}=${v}` : name);
  const pinRpm = (name: string, v?: string) => (v ? `${name}-${v.replace(/^\d+:/, '')}` : name);
  switch (distro.family) {
    case 'debian':
      if (source === 'distro') return { pkg: 'docker.io', packages: () => ['docker.io'] };
      if (source === 'docker-ce') return { pkg: 'docker-ce', packages: (v) => [pinDeb('docker-ce', v), pinDeb('docker-ce-cli', v), 'containerd.io'] };
      return { pkg: 'moby-engine', packages: (v) => [pinDeb('moby-engine', v), 'moby-cli'] };
    case 'rhel':
      // RHEL and its rebuilds ship podman, not Docker: "distro" means Docker's own repository,
      // which is what the Go extension (get.docker.com) installed there too.
      if (source === 'moby') return { pkg: 'moby-engine', packages: (v) => [pinRpm('moby-engine', v), 'moby-cli'] };
      return { pkg: 'docker-ce', packages: (v) => [pinRpm('docker-ce', v), pinRpm('docker-ce-cli', v), 'containerd.io'] };
    case 'azurelinux':
      if (source === 'docker-ce') return { unsupported: `Docker publishes no docker-ce packages for ${distro.name}; use "docker.engine.source": "distro" (Microsoft's moby-engine)` };
      return { pkg: 'moby-engine', packages: (v) => [pinRpm('moby-engine', v), distro.id === 'mariner' ? 'moby-cli' : 'docker-cli'] };
    case 'suse':
      if (source !== 'distro') return { unsupported: `"docker.engine.source": "${source}" is not available on ${distro.name}: neither Docker nor Microsoft publishes engine packages for SLES; use "distro" (SUSE's docker from the Containers module)` };
      return { pkg: 'docker', packages: (v) => [v ? `docker=${v}` : 'docker'] };
    case 'flatcar':
      return { none: 'Flatcar ships the Docker engine in its read-only /usr; nothing to install' };
  }
}

/** Pure: what to install, or nothing, and why. Throws ConfigError for impossible requests. */
export function planInstall(distro: DistroInfo, req: InstallRequest, facts: InstallFacts): InstallPlan {
  const want = wantedEngine(distro, req.source);
  const base: InstallPlan = { action: 'none', source: req.source, manager: distro.packageManager, packages: [], reason: '', warnings: [], commands: [] };
  if ('unsupported' in want) throw new ConfigError(`public setting "docker.engine.source": ${want.unsupported}.`, 'EENGINESOURCE');
  if ('none' in want) {
    if (req.source !== 'distro' || req.version) base.warnings.push(`"docker.engine.source"/"docker.engine.version" are ignored on Flatcar, which ships its own Docker engine`);
    return { ...base, reason: want.none };
  }
  base.enginePackage = want.pkg;
  const mine = facts.installed.find((p) => p.name === want.pkg);
  const other = facts.installed.find((p) => p.name !== want.pkg);
  if (mine) {
    if (req.version && !versionMatches(distro.packageManager, mine.version, req.version)) {
      return withCommands(distro, req, facts, { ...base, action: 'install', packages: want.packages(req.version), reason: `${mine.name} ${mine.version} is installed, ${req.version} was asked for` });
    }
    return { ...base, reason: `${mine.name} ${mine.version} is already installed` };
  }
  if (other) {
    base.warnings.push(
      `"docker.engine.source" asks for ${want.pkg}, but ${other.name} ${other.version} is installed; the extension does not switch engines on its own: ` +
        `remove ${other.name} first if you want ${want.pkg} (images and containers in /var/lib/docker are kept)`,
    );
    return { ...base, reason: `${other.name} ${other.version} is already installed` };
  }
  if (facts.dockerdPresent) {
    return { ...base, reason: 'a dockerd not installed by a package is present; it is used as is' };
  }
  const why = distro.family === 'rhel' && req.source === 'distro' ? `${distro.name} ships no Docker engine; installing docker-ce from Docker's repository` : `no Docker engine is installed`;
  return withCommands(distro, req, facts, { ...base, action: 'install', packages: want.packages(req.version), reason: why });
}

function versionMatches(pm: PackageManagerKind, installed: string, wanted: string): boolean {
  if (pm === 'apt') return installed === wanted;
  const w = wanted.replace(/^\d+:/, '');
  return installed === w || installed.startsWith(`${w}-`) || installed.startsWith(`${w}.`);
}

function withCommands(distro: DistroInfo, req: InstallRequest, facts: InstallFacts, plan: InstallPlan): InstallPlan {
  const bases = REPOSITORY_BASES[req.azureEnvironment];
  const pkgs = plan.packages;
  switch (distro.packageManager) {
    case 'apt': {
      const id = distro.id; // ubuntu | debian
      if (req.source === 'docker-ce') {
        const url = `${bases.dockerCe}/linux/${id}`;
        plan.repo = {
          url,
          key: { url: `${url}/gpg`, path: '/etc/apt/keyrings/docker.asc' },
          files: [{ path: '/etc/apt/sources.list.d/docker.list', mode: 0o644, content: `deb [arch=${facts.arch} signed-by=/etc/apt/keyrings/docker.asc] ${url} ${distro.codename} stable\n` }],
        };
      } else if (req.source === 'moby') {
        const ver = id === 'ubuntu' ? distro.versionId : String(distro.major);
        plan.repo = {
          url: `${bases.microsoft}/${id}/${ver}/prod`,
          key: { url: `${bases.microsoft}/keys/microsoft.asc`, path: '/etc/apt/keyrings/microsoft.asc' },
          files: [
            {
              path: '/etc/apt/sources.list.d/microsoft-prod.list',
              mode: 0o644,
              content: `deb [arch=${facts.arch} signed-by=/etc/apt/keyrings/microsoft.asc] ${bases.microsoft}/${id}/${ver}/prod ${distro.codename} main\n`,
            },
          ],
        };
      }
      const install = ['apt-get', ...APT_INSTALL_OPTS, ...(req.version ? ['--allow-downgrades'] : []), 'install', ...pkgs];
      plan.commands = [...repoCommands(plan.repo), ['apt-get', '-q', 'update'], install];
      return plan;
    }
    case 'dnf': {
      if (req.source === 'moby') {
        plan.repo = {
          url: `${bases.microsoft}/rhel/${distro.major}/prod/`,
          files: [
            {
              path: '/etc/yum.repos.d/microsoft-prod.repo',
              mode: 0o644,
              content:
                `[packages-microsoft-com-prod]\nname=Microsoft production packages (moby)\nbaseurl=${bases.microsoft}/rhel/${distro.major}/prod/\n` +
                `enabled=1\ngpgcheck=1\ngpgkey=${bases.microsoft}/keys/microsoft.asc\n`,
            },
          ],
        };
      } else {
        const url = `${bases.dockerCe}/linux/rhel`;
        plan.repo = {
          url,
          files: [
            {
              path: '/etc/yum.repos.d/docker-ce.repo',
              mode: 0o644,
              content: `[docker-ce-stable]\nname=Docker CE Stable - $basearch\nbaseurl=${url}/$releasever/$basearch/stable\nenabled=1\ngpgcheck=1\ngpgkey=${url}/gpg\n`,
            },
          ],
        };
      }
      plan.commands = [...repoCommands(plan.repo), ['dnf', '-y', '-q', 'install', ...pkgs]];
      return plan;
    }
    case 'tdnf':
      plan.commands = [['tdnf', '-y', '-q', 'install', ...pkgs]];
      return plan;
    case 'zypper':
      plan.commands = [['zypper', '--non-interactive', '--quiet', 'install', '--no-recommends', ...pkgs]];
      return plan;
    default:
      return plan;
  }
}

/**
 * A package from a repository that is already set up (compose next to the engine it came with):
 * the same commands as the engine's install, without a repository of its own. Recommends are left
 * out: Debian's docker-compose recommends docker.io, which must not replace another engine.
 */
export function packageInstallPlan(distro: DistroInfo, packages: string[], reason: string): InstallPlan {
  const plan: InstallPlan = { action: 'install', source: 'distro', manager: distro.packageManager, packages, reason, warnings: [], commands: [] };
  switch (distro.packageManager) {
    case 'apt':
      plan.commands = [['apt-get', '-q', 'update'], ['apt-get', ...APT_INSTALL_OPTS, '--no-install-recommends', 'install', ...packages]];
      break;
    case 'dnf':
      plan.commands = [['dnf', '-y', '-q', 'install', ...packages]];
      break;
    case 'tdnf':
      plan.commands = [['tdnf', '-y', '-q', 'install', ...packages]];
      break;
    case 'zypper':
      plan.commands = [['zypper', '--non-interactive', '--quiet', 'install', '--no-recommends', ...packages]];
      break;
    default:
      break;
  }
  return plan;
}

function repoCommands(repo: RepoSetup | undefined): string[][] {
  if (!repo) return [];
  const out: string[][] = [];
  if (repo.key) out.push(['curl', '-fsSL', '--retry', '3', '--max-time', '60', repo.key.url, '>', repo.key.path]);
  for (const f of repo.files) out.push(['write', f.path]);
  return out;
}

/** Engine packages present on the machine (read-only probe). */
export async function queryInstalled(distro: DistroInfo, cmd: CommandRunner): Promise<InstalledPackage[]> {
  if (distro.packageManager === 'apt') {
    const r = await cmd.run('dpkg-query', ['-W', '-f=${Package}\\t${db:Status-Abbrev}\\t${Version}\\n', ...DEB_ENGINES], { timeoutMs: 60_000 });
    return r.stdout
      .split('\n')
      .map((l) => l.split('\t'))
      .filter((f) => f.length >= 3 && f[1]!.startsWith('ii'))
      .map((f) => ({ name: f[0]!, version: f[2]!.trim() }));
  }
  if (distro.packageManager === 'none') return [];
  const r = await cmd.run('rpm', ['-q', '--qf', '%{NAME}\\t%{VERSION}-%{RELEASE}\\n', ...RPM_ENGINES], { timeoutMs: 60_000 });
  return r.stdout
    .split('\n')
    .map((l) => l.split('\t'))
    .filter((f) => f.length === 2 && RPM_ENGINES.includes(f[0]!))
    .map((f) => ({ name: f[0]!, version: f[1]!.trim() }));
}

export async function queryArch(distro: DistroInfo, cmd: CommandRunner): Promise<string> {
  if (distro.packageManager === 'apt') {
    const r = await cmd.run('dpkg', ['--print-architecture'], { timeoutMs: 30_000 });
    if (r.exitCode === 0 && r.stdout.trim()) return r.stdout.trim();
    return 'amd64';
  }
  const r = await cmd.run('uname', ['-m'], { timeoutMs: 30_000 });
  return r.exitCode === 0 && r.stdout.trim() ? r.stdout.trim() : 'x86_64';
}

// ---- execution -------------------------------------------------------------------------------

export interface RetryPolicy {
  /** Give up once this much time was spent waiting for locks. */
  budgetMs: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** ±fraction of the delay, so parallel VMSS instances do not retry in lockstep. */
  jitter: number;
}

/** The Go extension's 6 × 1 min was not enough for images that self-update for 11 minutes (#134). */
export const LOCK_RETRY: RetryPolicy = { budgetMs: 20 * 60_000, baseDelayMs: 5_000, maxDelayMs: 60_000, jitter: 0.3 };

export function backoffDelay(attempt: number, policy: RetryPolicy, random: () => number): number {
  const raw = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(raw * (1 - policy.jitter + 2 * policy.jitter * random()));
}

/** Lock contention in a failed package-manager run, with the holder when the tool names it. */
export function lockContention(manager: PackageManagerKind, r: CommandResult): string | undefined {
  const text = `${r.stderr}\n${r.stdout}`;
  if (manager === 'apt') {
    const held = /Could not get lock (\S+?)\.?\s+It is held by process (\d+) \(([^)]+)\)/i.exec(text);
    if (held) return `${held[1]} is held by process ${held[2]} (${held[3]})`;
    const m = /Could not get lock (\S*[^.\s])/i.exec(text);
    if (m) return `${m[1]} is held by another process`;
    if (/Unable to (?:lock|acquire)[^\n]*(?:lock|directory)/i.test(text)) return 'the apt/dpkg lock is held by another process';
    return undefined;
  }
  if (manager === 'zypper') {
    if (r.exitCode === 7 || /System management is locked/i.test(text)) {
      const m = /locked by the application with pid (\d+) \(([^)]+)\)/i.exec(text);
      return m ? `zypper is locked by process ${m[1]} (${m[2]})` : 'zypper is locked by another process';
    }
    return undefined;
  }
  if (/(transaction lock|Failed to obtain.*lock|Waiting for process with pid|another instance|lock held)/i.test(text)) return `${manager} is locked by another process`;
  return undefined;
}

export interface InstallContext {
  fs: FileSystem;
  cmd: CommandRunner;
  clock: Clock;
  log: Logger;
  random?: () => number;
  signal?: AbortSignal;
  onProgress?: (message: string) => void;
  retry?: RetryPolicy;
  distro: DistroInfo;
}

const PKG_ENV: Record<string, string> = {
  DEBIAN_FRONTEND: 'noninteractive',
  // Ubuntu 22.04+'s needrestart would otherwise ask which services to restart.
  NEEDRESTART_MODE: 'a',
  NEEDRESTART_SUSPEND: '1',
  APT_LISTCHANGES_FRONTEND: 'none',
  ZYPP_LOCK_TIMEOUT: String(APT_LOCK_TIMEOUT_S),
};

/**
 * Debian's maintainer scripts start dockerd as soon as the package is unpacked (deb-systemd-invoke,
 * invoke-rc.d), before the extension has written its configuration: a start with the package's
 * defaults, then the extension's restart. A policy-rc.d that refuses docker's units (and only
 * them) for the length of the install makes the first start the extension's own. An admin's
 * policy-rc.d is left alone; one of ours that a killed run left behind is removed on the next.
 */
export const POLICY_RC_D = '/usr/sbin/policy-rc.d';
const HOLD_MARKER = '# azure-docker-extension: holds docker starts during its package install';
const HOLD_SCRIPT = `#!/bin/sh\n${HOLD_MARKER}\ncase "$1" in docker | docker.service | docker.socket) exit 101 ;; esac\nexit 0\n`;

export async function releaseLeftoverStartHold(fs: FileSystem): Promise<void> {
  if ((await fs.readText(POLICY_RC_D, { followLinks: true }))?.includes(HOLD_MARKER)) await fs.remove(POLICY_RC_D);
}

async function withDockerStartHeld(fs: FileSystem, log: Logger, fn: () => Promise<void>): Promise<void> {
  if (!(await fs.exists('/usr/sbin'))) return fn();
  const existing = await fs.readText(POLICY_RC_D, { followLinks: true });
  if (existing !== undefined && !existing.includes(HOLD_MARKER)) {
    log.info({ event: 'policy-rc.d of the admin kept; the package may start dockerd before it is configured' });
    return fn();
  }
  await fs.writeAtomic(POLICY_RC_D, HOLD_SCRIPT, 0o755);
  try {
    await fn();
  } finally {
    await fs.remove(POLICY_RC_D);
  }
}

export async function executeInstall(plan: InstallPlan, ctx: InstallContext): Promise<void> {
  if (plan.action !== 'install') return;
  if (plan.manager === 'apt') return withDockerStartHeld(ctx.fs, ctx.log, () => runInstall(plan, ctx));
  return runInstall(plan, ctx);
}

async function runInstall(plan: InstallPlan, ctx: InstallContext): Promise<void> {
  const { fs, cmd, log } = ctx;
  ctx.onProgress?.(`Installing ${plan.packages.join(' ')} with ${plan.manager} (${plan.reason})`);
  if (plan.repo?.key) {
    const { url, path } = plan.repo.key;
    const r = await cmd.run('curl', ['-fsSL', '--retry', '3', '--max-time', '60', url], { timeoutMs: 120_000 });
    if (r.exitCode !== 0 || !r.stdout.includes('BEGIN PGP PUBLIC KEY BLOCK')) {
      throw new StepFailedError(`Could not download the repository signing key ${url}: ${tail(r) || `exit ${r.exitCode}`}`, 'EREPOKEY');
    }
    await fs.mkdirp(path.slice(0, path.lastIndexOf('/')), 0o755);
    await fs.writeAtomic(path, r.stdout.endsWith('\n') ? r.stdout : `${r.stdout}\n`, 0o644);
  }
  for (const f of plan.repo?.files ?? []) {
    await fs.mkdirp(f.path.slice(0, f.path.lastIndexOf('/')), 0o755);
    await fs.writeAtomic(f.path, f.content, f.mode);
  }
  for (const argv of plan.commands) {
    if (argv[0] === 'curl' || argv[0] === 'write') continue; // done above through the fs port
    await runPackageCommand(argv, ctx, plan);
  }
}

async function runPackageCommand(argv: string[], ctx: InstallContext, plan: InstallPlan): Promise<void> {
  const { cmd, clock, log } = ctx;
  const policy = ctx.retry ?? LOCK_RETRY;
  const random = ctx.random ?? Math.random;
  const started = clock.now();
  let waited = 0;
  let attempt = 0;
  let repairedDpkg = false;
  let triedSuseModule = false;
  for (;;) {
    if (ctx.signal?.aborted) throw new StepFailedError(`Engine installation was cancelled while running ${argv[0]}`, 'EABORTED');
    attempt++;
    const r = await cmd.run(argv[0]!, argv.slice(1), { env: PKG_ENV, timeoutMs: argv.includes('update') ? 15 * 60_000 : 45 * 60_000 });
    // Package-manager chatter goes to the log only; the status gets one line.
    log.debug({ event: 'package command', argv, exitCode: r.exitCode, stdout: r.stdout.slice(-4000), stderr: r.stderr.slice(-4000) });
    if (r.exitCode === 0) return;
    const lock = lockContention(plan.manager, r);
    if (lock) {
      const delay = backoffDelay(attempt, policy, random);
      if (waited + delay > policy.budgetMs) {
        throw new StepFailedError(
          `${argv[0]} could not get the package lock for ${Math.round((clock.now() - started) / 60_000)} min (${lock}); another installation is still running — enable again later`,
          'EPKGLOCK',
        );
      }
      ctx.onProgress?.(`Waiting for the package manager: ${lock}; attempt ${attempt}, retrying in ${Math.round(delay / 1000)} s`);
      log.info({ event: 'package lock wait', argv: argv.slice(0, 3), lock, attempt, delayMs: delay });
      await clock.sleep(delay);
      waited += delay;
      continue;
    }
    if (plan.manager === 'apt' && !repairedDpkg && /dpkg was interrupted|dpkg --configure -a/i.test(`${r.stderr}\n${r.stdout}`)) {
      repairedDpkg = true;
      ctx.onProgress?.('dpkg was interrupted earlier; running dpkg --configure -a');
      await cmd.run('dpkg', ['--configure', '-a'], { env: PKG_ENV, timeoutMs: 30 * 60_000 });
      continue;
    }
    if (plan.manager === 'zypper' && !triedSuseModule && /not found in package names|No provider of/i.test(`${r.stderr}\n${r.stdout}`)) {
      triedSuseModule = true;
      const arch = (await cmd.run('uname', ['-m'], { timeoutMs: 30_000 })).stdout.trim() || 'x86_64';
      const product = `sle-module-containers/${ctx.distro.versionId}/${arch}`;
      ctx.onProgress?.(`Activating the SUSE Containers module (${product})`);
      const a = await cmd.run('SUSEConnect', ['-p', product], { timeoutMs: 10 * 60_000 });
      log.debug({ event: 'package command', argv: ['SUSEConnect', '-p', product], exitCode: a.exitCode, stdout: a.stdout.slice(-2000), stderr: a.stderr.slice(-2000) });
      if (a.exitCode !== 0) throw new StepFailedError(`SUSEConnect -p ${product} failed (exit ${a.exitCode}): ${tail(a)}; the docker package lives in the Containers module`, 'EPKG');
      continue;
    }
    let hint = '';
    if (plan.manager === 'dnf' && /conflict|podman|runc/i.test(`${r.stderr}\n${r.stdout}`)) hint = ' (podman/runc from the distribution conflict with containerd.io: remove them, or choose "docker.engine.source": "moby")';
    if (/Unable to locate package|No match for argument|nothing provides|not found in package names/i.test(`${r.stderr}\n${r.stdout}`) && plan.source !== 'distro') {
      hint += ` (check "docker.engine.version" against the versions the ${plan.source} repository offers)`;
    }
    const shown = argv.filter((a) => !a.startsWith('-o') && !a.includes('::')).join(' ');
    throw new StepFailedError(`${shown} failed${r.timedOut ? ' (timed out)' : ` (exit ${r.exitCode})`}: ${tail(r)}${hint}`, 'EPKG');
  }
}

function tail(r: CommandResult): string {
  const text = (r.stderr.trim() || r.stdout.trim()).split('\n').filter((l) => l.trim() !== '');
  return text.slice(-3).join(' | ');
}
