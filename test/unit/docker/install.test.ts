// Install planning per distro (pure) and the lock-aware runner with recorded package-manager
// output (we cannot boot those distros here), on a temp root with a fake command runner.
import { describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { classifyDistro, type DistroInfo } from '../../../handler/distro/detect.js';
import { parseOsRelease } from '../../../handler/distro/os-release.js';
import { backoffDelay, executeInstall, LOCK_RETRY, lockContention, planInstall, POLICY_RC_D, queryInstalled, releaseLeftoverStartHold, type InstallRequest } from '../../../handler/docker/install.js';
import { ConfigError, StepFailedError } from '../../../handler/errors.js';
import { silentLogger } from '../../../handler/log/logger.js';
import { RootedFileSystem } from '../../../handler/system/fs.js';
import { FakeClock, FakeCommandRunner } from '../../support/docker-fakes.js';

const distro = (f: string): DistroInfo => classifyDistro(parseOsRelease(readFileSync(new URL(`../../fixtures/os-release/${f}`, import.meta.url), 'utf8')));
const req = (r: Partial<InstallRequest> = {}): InstallRequest => ({ source: 'distro', azureEnvironment: 'AzureCloud', ...r });
const none = { installed: [], dockerdPresent: false, arch: 'amd64' };

// Recorded from apt 2.4 (Ubuntu 22.04) while unattended-upgrades held the lock.
const APT_LISTS_LOCKED = {
  exitCode: 100,
  stderr: 'E: Could not get lock /var/lib/apt/lists/lock. It is held by process 1843 (apt-get)\nE: Unable to lock directory /var/lib/apt/lists/',
};
const DPKG_INTERRUPTED = { exitCode: 100, stderr: "E: dpkg was interrupted, you must manually run 'dpkg --configure -a' to correct the problem." };

describe('planInstall per distribution', () => {
  test.each([
    ['ubuntu-22.04', 'distro', ['docker.io'], 'apt'],
    ['debian-12', 'distro', ['docker.io'], 'apt'],
    ['ubuntu-24.04', 'docker-ce', ['docker-ce', 'docker-ce-cli', 'containerd.io'], 'apt'],
    ['debian-13', 'moby', ['moby-engine', 'moby-cli'], 'apt'],
    ['rhel-9.6', 'distro', ['docker-ce', 'docker-ce-cli', 'containerd.io'], 'dnf'],
    ['almalinux-8.10', 'docker-ce', ['docker-ce', 'docker-ce-cli', 'containerd.io'], 'dnf'],
    ['rocky-10.0', 'moby', ['moby-engine', 'moby-cli'], 'dnf'],
    ['azurelinux-3.0', 'distro', ['moby-engine', 'docker-cli'], 'tdnf'],
    ['mariner-2.0', 'moby', ['moby-engine', 'moby-cli'], 'tdnf'],
    ['sles-15.6', 'distro', ['docker'], 'zypper'],
  ])('%s %s → %j', (f, source, pkgs, pm) => {
    const p = planInstall(distro(f), req({ source: source as InstallRequest['source'] }), none);
    expect(p.action).toBe('install');
    expect(p.packages).toEqual(pkgs);
    expect(p.manager).toBe(pm);
  });

  test('Flatcar: nothing to install; engine settings ignored with a warning', () => {
    const p = planInstall(distro('flatcar-4081.2.0'), req({ source: 'docker-ce', version: '1' }), { ...none, dockerdPresent: true });
    expect(p.action).toBe('none');
    expect(p.warnings.join()).toMatch(/ignored on Flatcar/);
  });

  test.each([
    ['azurelinux-3.0', 'docker-ce', /Docker publishes no docker-ce packages for Microsoft Azure Linux 3\.0/],
    ['sles-15.6', 'moby', /"moby" is not available on SUSE Linux Enterprise Server 15 SP6/],
  ])('%s + %s is a ConfigError', (f, source, msg) => {
    expect(() => planInstall(distro(f), req({ source: source as InstallRequest['source'] }), none)).toThrow(ConfigError);
    expect(() => planInstall(distro(f), req({ source: source as InstallRequest['source'] }), none)).toThrow(msg);
  });

  test('installed engine: nothing reinstalled; a pin that differs installs that version', () => {
    const u = distro('ubuntu-24.04');
    const installed = [{ name: 'docker-ce', version: '5:27.5.1-1~ubuntu.24.04~noble' }];
    expect(planInstall(u, req({ source: 'docker-ce' }), { ...none, installed }).action).toBe('none');
    expect(planInstall(u, req({ source: 'docker-ce', version: '5:27.5.1-1~ubuntu.24.04~noble' }), { ...none, installed }).action).toBe('none');
    const pin = planInstall(u, req({ source: 'docker-ce', version: '5:28.0.0-1~ubuntu.24.04~noble' }), { ...none, installed });
    expect(pin.packages).toEqual(['docker-ce=5:28.0.0-1~ubuntu.24.04~noble', 'docker-ce-cli=5:28.0.0-1~ubuntu.24.04~noble', 'containerd.io']);
    expect(pin.commands.at(-1)).toContain('--allow-downgrades');
    expect(planInstall(distro('rhel-9.6'), req({ source: 'docker-ce', version: '27.5.1' }), { ...none, installed: [{ name: 'docker-ce', version: '27.5.1-1.el9' }] }).action).toBe('none');
  });

  test('another engine installed: not switched, warned', () => {
    const p = planInstall(distro('ubuntu-22.04'), req({ source: 'moby' }), { ...none, installed: [{ name: 'docker.io', version: '24.0.7-0ubuntu2~22.04.1' }] });
    expect(p.action).toBe('none');
    expect(p.warnings[0]).toMatch(/asks for moby-engine, but docker\.io 24\.0\.7-0ubuntu2~22\.04\.1 is installed/);
  });

  test('repositories: Docker and Microsoft, AzureChinaCloud uses mirror.azure.cn for docker-ce', () => {
    const ce = planInstall(distro('ubuntu-22.04'), req({ source: 'docker-ce' }), none);
    expect(ce.repo?.key?.url).toBe('https://download.docker.com/linux/ubuntu/gpg');
    expect(ce.repo?.files[0]?.content).toBe('deb [arch=amd64 signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/ubuntu jammy stable\n');
    const cn = planInstall(distro('debian-12'), req({ source: 'docker-ce', azureEnvironment: 'AzureChinaCloud' }), none);
    expect(cn.repo?.key?.url).toBe('https://mirror.azure.cn/docker-ce/linux/debian/gpg');
    expect(cn.repo?.url).toBe('https://mirror.azure.cn/docker-ce/linux/debian');
    expect(cn.repo?.files[0]?.content).toContain('https://mirror.azure.cn/docker-ce/linux/debian bookworm stable');
    const rh = planInstall(distro('rocky-9.6'), req({ source: 'docker-ce', azureEnvironment: 'AzureChinaCloud' }), none);
    expect(rh.repo?.files[0]?.content).toContain('baseurl=https://mirror.azure.cn/docker-ce/linux/rhel/$releasever/$basearch/stable');
    const moby = planInstall(distro('ubuntu-24.04'), req({ source: 'moby' }), none);
    expect(moby.repo?.files[0]?.content).toBe('deb [arch=amd64 signed-by=/etc/apt/keyrings/microsoft.asc] https://packages.microsoft.com/ubuntu/24.04/prod noble main\n');
    const mobyRhel = planInstall(distro('rhel-8.10'), req({ source: 'moby' }), none);
    expect(mobyRhel.repo?.files[0]?.content).toContain('baseurl=https://packages.microsoft.com/rhel/8/prod/');
  });
});

describe('queryInstalled (recorded outputs)', () => {
  test('dpkg-query: only "ii" packages count', async () => {
    const cmd = new FakeCommandRunner().on('dpkg-query', { exitCode: 1, stdout: 'docker-ce\tun \t\ndocker.io\tii \t20.10.24+dfsg1-1+deb12u1+b6\n', stderr: 'dpkg-query: no packages found matching moby-engine' });
    expect(await queryInstalled(distro('debian-12'), cmd)).toEqual([{ name: 'docker.io', version: '20.10.24+dfsg1-1+deb12u1+b6' }]);
  });
  test('rpm', async () => {
    const cmd = new FakeCommandRunner().on('rpm -q', { exitCode: 2, stdout: 'package docker-ce is not installed\nmoby-engine\t25.0.3-9.azl3\npackage docker is not installed\n' });
    expect(await queryInstalled(distro('azurelinux-3.0'), cmd)).toEqual([{ name: 'moby-engine', version: '25.0.3-9.azl3' }]);
  });
});

describe('executeInstall: locks, retries, repairs', () => {
  const withRoot = async (fn: (fs: RootedFileSystem) => Promise<void>) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'install-'));
    try {
      await fn(new RootedFileSystem(dir));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  test('apt-get update waits out a held lock with jittered backoff, shows it in progress, then installs', () =>
    withRoot(async (fs) => {
      const d = distro('ubuntu-22.04');
      const plan = planInstall(d, req({ source: 'docker-ce' }), none);
      const cmd = new FakeCommandRunner()
        .on('curl', { stdout: '-----BEGIN PGP PUBLIC KEY BLOCK-----\nxx\n-----END PGP PUBLIC KEY BLOCK-----\n' })
        .on('apt-get -q update', APT_LISTS_LOCKED, APT_LISTS_LOCKED, { exitCode: 0 });
      const clock = new FakeClock();
      const progress: string[] = [];
      await executeInstall(plan, { fs, cmd, clock, log: silentLogger(), distro: d, random: () => 0.5, onProgress: (m) => progress.push(m) });
      expect(cmd.lines()).toEqual([
        'curl -fsSL --retry 3 --max-time 60 https://download.docker.com/linux/ubuntu/gpg',
        'apt-get -q update',
        'apt-get -q update',
        'apt-get -q update',
        'apt-get -q -y -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install docker-ce docker-ce-cli containerd.io',
      ]);
      expect(cmd.calls[1]!.env).toMatchObject({ DEBIAN_FRONTEND: 'noninteractive', NEEDRESTART_MODE: 'a' });
      expect(clock.slept).toEqual([5000, 10000]);
      expect(progress.filter((m) => m.startsWith('Waiting'))).toEqual([
        'Waiting for the package manager: /var/lib/apt/lists/lock is held by process 1843 (apt-get); attempt 1, retrying in 5 s',
        'Waiting for the package manager: /var/lib/apt/lists/lock is held by process 1843 (apt-get); attempt 2, retrying in 10 s',
      ]);
      expect(await fs.readText('/etc/apt/keyrings/docker.asc')).toMatch(/BEGIN PGP PUBLIC KEY BLOCK/);
      expect((await fs.stat('/etc/apt/sources.list.d/docker.list'))?.mode).toBe(0o644);
    }));

  test('gives up when the lock outlasts the budget, naming the holder', () =>
    withRoot(async (fs) => {
      const d = distro('debian-12');
      const plan = planInstall(d, req(), none);
      const cmd = new FakeCommandRunner().on('apt-get -q update', APT_LISTS_LOCKED);
      const clock = new FakeClock();
      const err = await executeInstall(plan, { fs, cmd, clock, log: silentLogger(), distro: d, random: () => 1 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StepFailedError);
      expect((err as Error).message).toMatch(/could not get the package lock for \d+ min \(\/var\/lib\/apt\/lists\/lock is held by process 1843 \(apt-get\)\)/);
      expect(clock.totalSlept).toBeLessThanOrEqual(LOCK_RETRY.budgetMs);
      expect(clock.slept.every((ms) => ms <= LOCK_RETRY.maxDelayMs * (1 + LOCK_RETRY.jitter))).toBe(true);
    }));

  test('an interrupted dpkg is repaired once', () =>
    withRoot(async (fs) => {
      const d = distro('debian-12');
      const cmd = new FakeCommandRunner().on('apt-get -q -y', DPKG_INTERRUPTED, { exitCode: 0 });
      await executeInstall(planInstall(d, req(), none), { fs, cmd, clock: new FakeClock(), log: silentLogger(), distro: d });
      expect(cmd.lines().filter((l) => l.startsWith('dpkg'))).toEqual(['dpkg --configure -a']);
    }));

  test('SLES without the Containers module: SUSEConnect, then install', () =>
    withRoot(async (fs) => {
      const d = distro('sles-15.6');
      const cmd = new FakeCommandRunner()
        .on('zypper', { exitCode: 104, stdout: "'docker' not found in package names. Trying capabilities.\nNo provider of 'docker' found." }, { exitCode: 0 })
        .on('uname -m', { stdout: 'x86_64' });
      await executeInstall(planInstall(d, req(), none), { fs, cmd, clock: new FakeClock(), log: silentLogger(), distro: d });
      expect(cmd.lines()).toEqual([
        'zypper --non-interactive --quiet install --no-recommends docker',
        'uname -m',
        'SUSEConnect -p sle-module-containers/15.6/x86_64',
        'zypper --non-interactive --quiet install --no-recommends docker',
      ]);
    }));

  test('a failure says which command and why, without apt -o noise', () =>
    withRoot(async (fs) => {
      const d = distro('ubuntu-24.04');
      const cmd = new FakeCommandRunner()
        .on('curl', { stdout: '-----BEGIN PGP PUBLIC KEY BLOCK-----\n' })
        .on('apt-get -q -y', { exitCode: 100, stderr: "Reading package lists...\nE: Version '9.9' for 'docker-ce' was not found" });
      const err = await executeInstall(planInstall(d, req({ source: 'docker-ce', version: '9.9' }), none), { fs, cmd, clock: new FakeClock(), log: silentLogger(), distro: d }).catch((e: unknown) => e);
      expect((err as Error).message).toBe(
        "apt-get -q -y --allow-downgrades install docker-ce=9.9 docker-ce-cli=9.9 containerd.io failed (exit 100): Reading package lists... | E: Version '9.9' for 'docker-ce' was not found",
      );
    }));
});

test('lock detection and backoff', () => {
  expect(lockContention('zypper', { exitCode: 7, stdout: 'System management is locked by the application with pid 2211 (zypper).', stderr: '', timedOut: false })).toBe('zypper is locked by process 2211 (zypper)');
  expect(lockContention('apt', { exitCode: 100, stdout: '', stderr: 'E: Unable to locate package moby-engine', timedOut: false })).toBeUndefined();
  expect([1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, LOCK_RETRY, () => 0.5))).toEqual([5000, 10000, 20000, 40000, 60000, 60000]);
  expect(backoffDelay(1, LOCK_RETRY, () => 0)).toBe(3500);
  expect(backoffDelay(1, LOCK_RETRY, () => 1)).toBe(6500);
});

describe('one start of dockerd on a fresh apt install', () => {
  const withRoot = async (fn: (fs: RootedFileSystem) => Promise<void>) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'install-hold-'));
    try {
      const fs = new RootedFileSystem(dir);
      await fs.mkdirp('/usr/sbin');
      await fn(fs);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const d = () => distro('debian-12');

  test('the package scripts are refused docker\'s units (only them) while apt installs, and allowed again after', () =>
    withRoot(async (fs) => {
      const seen: string[] = [];
      const cmd = new FakeCommandRunner().on('apt-get -q -y', async () => {
        const script = (await fs.readText(POLICY_RC_D))!;
        seen.push(script);
        return { exitCode: 0 };
      });
      await executeInstall(planInstall(d(), req({}), none), { fs, cmd, clock: new FakeClock(), log: silentLogger(), distro: d() });
      expect(seen).toHaveLength(1);
      // what deb-systemd-invoke and invoke-rc.d ask it: "<unit> <action>"
      const ask = (unit: string) => spawnSync('sh', ['-c', seen[0]!, 'policy-rc.d', unit, 'start']).status;
      expect([ask('docker.service'), ask('docker.socket'), ask('docker'), ask('containerd.service')]).toEqual([101, 101, 101, 0]);
      expect(await fs.exists(POLICY_RC_D)).toBe(false);
    }));

  test('an admin\'s policy-rc.d is left as it is; one a killed run left behind is removed', () =>
    withRoot(async (fs) => {
      await fs.writeAtomic(POLICY_RC_D, '#!/bin/sh\nexit 101\n', 0o755);
      const cmd = new FakeCommandRunner();
      await executeInstall(planInstall(d(), req({}), none), { fs, cmd, clock: new FakeClock(), log: silentLogger(), distro: d() });
      expect(await fs.readText(POLICY_RC_D)).toBe('#!/bin/sh\nexit 101\n');
      await fs.writeAtomic(POLICY_RC_D, '#!/bin/sh\n# azure-docker-extension: holds docker starts during its package install\nexit 101\n', 0o755);
      await releaseLeftoverStartHold(fs);
      expect(await fs.exists(POLICY_RC_D)).toBe(false);
    }));

  test('a failed install lets go of the hold too', () =>
    withRoot(async (fs) => {
      const cmd = new FakeCommandRunner().on('apt-get -q -y', { exitCode: 100, stderr: 'E: Unable to locate package docker.io' });
      await expect(executeInstall(planInstall(d(), req({}), none), { fs, cmd, clock: new FakeClock(), log: silentLogger(), distro: d() })).rejects.toThrow(/apt-get/);
      expect(await fs.exists(POLICY_RC_D)).toBe(false);
    }));
});
