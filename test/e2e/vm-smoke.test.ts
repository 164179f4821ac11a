// (e2e) smoke test of the test VM: a Debian 12 container with systemd as PID 1, no Node, no Docker, the agent's
// code present but its daemon masked, apt reaching the Debian mirror, and the waagent harness running the demo
// handler inside it (one-shot, and stepwise across a VM reboot).
//
// Slow and needs root (npm test installs debootstrap and docker.io); ADX_E2E=0 skips the VM suites
// for a quick local run:
//   NODE_OPTIONS=--experimental-vm-modules npx jest test/e2e/vm-smoke.test.ts
// First run on a machine: ~1 min more to build the VM image (cached under /var/cache/adx-e2e afterwards).
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { openHarnessSession, runHarness, setupDemoHandler, vmSuiteSkip, type HarnessSummary } from '../support/vm/harness.js';
import { startVm, type Vm } from '../support/vm/vm.js';

// The VM itself needs nothing beside the repository; the two harness cases need shared/.
const skipped = vmSuiteSkip('(e2e) test VM smoke', { harness: false });
const d = skipped ? describe.skip : describe;
const noHarness = skipped ? undefined : vmSuiteSkip('(e2e) test VM smoke, its harness cases', { harness: true });
const th = noHarness ? test.skip : test;

/** Overview lines plus problems, so a failing expectation shows what the agent saw. */
function explain(s: HarnessSummary): string {
  return JSON.stringify({ ok: s.ok, overview: s.overview, problems: s.problems, harness_error: s.harness_error }, null, 2);
}

d(`(e2e) test VM smoke${skipped ? ` [skipped: ${skipped}]` : ''}`, () => {
  let vm: Vm;

  beforeAll(async () => {
    vm = await startVm({ log: process.env.ADX_E2E_VERBOSE ? (l) => process.stderr.write(l) : undefined });
    // boot time and image cache status, visible with --verbose / in CI logs
    console.log(`test VM ${vm.name} up in ${vm.bootMs} ms\n${vm.bootLog}`);
  }, 20 * 60_000);

  afterAll(async () => {
    await vm?.remove();
  }, 120_000);

  test('systemd is PID 1 and the system is running', async () => {
    expect((await vm.check(['ps', '-o', 'comm=', '-p', '1'])).trim()).toBe('systemd');
    expect(['running', 'degraded']).toContain(await vm.systemState());
    expect(await vm.check('systemctl list-units --failed --no-legend --plain')).toBe('');
    expect(await vm.check('. /etc/os-release && echo "$ID $VERSION_ID"')).toBe('debian 12\n');
  });

  test('no node and no docker in the VM', async () => {
    const r = await vm.exec('command -v node nodejs npm docker dockerd containerd');
    expect(r.stdout).toBe('');
    expect(r.exitCode).not.toBe(0);
    expect((await vm.exec(['pgrep', '-x', 'dockerd'])).exitCode).toBe(1);
    expect((await vm.exec(['dpkg-query', '-W', 'docker.io'])).exitCode).not.toBe(0);
  });

  test("waagent's Python code is importable, its unit masked and inactive", async () => {
    const v = await vm.check([
      '/usr/bin/python3',
      '-c',
      'import azurelinuxagent.ga.exthandlers; from azurelinuxagent.common.version import AGENT_VERSION; print(AGENT_VERSION)',
    ]);
    expect(v.trim()).toMatch(/^2\.7\./);
    expect((await vm.exec(['systemctl', 'is-enabled', 'walinuxagent.service'])).stdout.trim()).toBe('masked');
    expect((await vm.exec(['systemctl', 'is-active', 'walinuxagent.service'])).stdout.trim()).toBe('inactive');
    expect((await vm.exec(['pgrep', '-f', '/usr/sbin/waagent'])).exitCode).toBe(1); // no agent daemon
    // guard: the WireServer and IMDS are blackholed inside the VM
    const routes = await vm.check(['ip', 'route', 'show', 'type', 'blackhole']);
    expect(routes).toContain('168.63.129.16');
    expect(routes).toContain('169.254.169.254');
  });

  test('/var/lib/docker is a volume on the host filesystem (overlay2 for the VM dockerd)', async () => {
    expect((await vm.check(['findmnt', '-n', '-o', 'FSTYPE', '/var/lib/docker'])).trim()).toMatch(/^(ext4|xfs)$/);
  });

  test('a VM comes back with its own address when another VM booted while it was down (an Azure VM keeps its private IP)', async () => {
    const before = await vm.ip();
    expect(before).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    await vm.stop();
    // Without a pinned address the network hands the freed one to the next container that starts.
    const other = await startVm();
    try {
      expect(await other.ip()).not.toBe(before);
      const r = await vm.docker(['start', vm.name]);
      expect(r.exitCode).toBe(0);
      await vm.waitForSystemd();
      expect(await vm.ip()).toBe(before);
    } finally {
      await other.remove();
    }
  }, 300_000);

  test('apt reaches the Debian mirror', async () => {
    const r = await vm.exec('apt-get update 2>&1', { timeoutMs: 180_000 });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/deb\.debian\.org/);
    expect(r.stdout).not.toMatch(/^(W|E): /m);
    expect(await vm.check('apt-cache policy docker.io | grep -c Candidate')).toBe('1\n');
  }, 240_000);

  th(`harness: the demo handler passes all default steps under the real agent code${noHarness ? ' [skipped: no harness]' : ''}`, async () => {
    const demo = await setupDemoHandler(vm);
    const run = await runHarness(vm, demo);
    expect(run.exitCode).toBe(0);
    expect(run.ok).toBe(true);
    expect(run.agent?.version).toMatch(/^2\.7\./);
    expect(run.steps.map((s) => s.step)).toEqual([
      'install_enable',
      'enable_new_seq',
      'reenable_same_seq',
      'update',
      'disable',
      'uninstall',
    ]);
    // the handler really decrypted the protected settings (the harness checked the sha256 in its status)
    const enable = run.steps[0]?.agent_status?.extension_status;
    expect(enable?.status).toBe('success');
    expect(enable?.message).toContain(`protected_sha256=${run.steps[0]?.requested.protected_plaintext_sha256}`);
  }, 300_000);

  th(`harness session: steps one at a time, state survives a VM reboot${noHarness ? ' [skipped: no harness]' : ''}`, async () => {
    const session = await openHarnessSession(vm, await setupDemoHandler(vm));
    try {
      const first = await session.run(['install_enable', 'enable_new_seq']);
      expect(first.ok).toBe(true);
      expect(first.driver?.agent_start).toBe(1);

      // between steps the test can look at the agent-owned state on disk
      const statusDir = `${first.lib_dir}/Harness.Test.DemoHandler-1.0.0/status`;
      expect(JSON.parse(await vm.readFile(`${statusDir}/1.status`))[0].status.status).toBe('success');

      const reboot = await session.rebootAndReenable();
      expect(['running', 'degraded']).toContain(reboot.state);
      expect(reboot.summary.ok).toBe(true);
      expect(reboot.summary.driver?.agent_start).toBe(2); // a new agent process after the reboot ...
      expect(reboot.summary.steps[0]?.commands.map((c) => c.cmd_name)).toEqual(['enable']); // ... no re-install
      expect(reboot.summary.steps[0]?.requested.seqNo).toBe(1);

      const rest = await session.run(['update', 'disable', 'uninstall']);
      expect(rest.ok).toBe(true);
      const all = await session.summary();
      expect(all.overview.map((o) => o.step)).toEqual([
        'install_enable',
        'enable_new_seq',
        'reenable_same_seq',
        'update',
        'disable',
        'uninstall',
      ]);
      expect(all.ok).toBe(true);
    } catch (e) {
      console.log(explain(await session.summary()));
      throw e;
    } finally {
      await session.close();
    }
  }, 300_000);
});
