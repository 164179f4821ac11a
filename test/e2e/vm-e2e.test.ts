// (e2e) The packaged handler (x64 zip) end to end, in the test VM (Debian 12, systemd as PID 1), under the REAL
// Azure Linux Agent code: the agent downloads and unzips the package (modes and symlinks dropped), launches the
// commands with its timeouts, and parses status and heartbeat; every step asserts what the AGENT concluded. The
// handler really installs docker.io with apt inside the VM and makes dockerd serve mutual TLS on 127.0.0.1:2376.
// All traffic stays inside the VM (its loopback), except apt's, which goes to the Debian mirror.
//
// Scenario (one VM, one harness session, the steps in order; a failing step stops the rest):
//   1 install_enable (apt install docker.io, certs, daemon.json/drop-in, restart) → agent: success; timed
//   2 mutual TLS from inside the VM: right client accepted; no client cert and another CA's client refused;
//     the local socket answers
//   3 a long-running container "keeper" from an image built in the VM (busybox-static from the mirror, no registry)
//   4 enable_new_seq with a changed restart-only option (--log-level): exactly one dockerd restart, no container restart
//   5 reenable_same_seq: nothing restarted, fast
//   6 update 1.0.0 → 1.0.1 (disable, update, uninstall, install, enable): dockerd untouched throughout; the agent
//     reports 1.0.1's own Enable success, no copied status
//   7 reboot + the agent's re-enable: TLS serves again; the re-enable restarts nothing
//   8 keeper survived 4–7 (live-restore: it kept running through dockerd's restart in 4; only the reboot in 7 restarted it)
//   9 bad protected settings (certs.key does not match certs.cert) → agent: error naming certs.key; dockerd
//     keeps serving the previous configuration
//  9b kill -9 of the enable worker (run by hand as the agent runs it: the harness waits for a terminal status a killed
//     worker never writes), right after it starts and in the middle of dockerd's restart: the next enable of the
//     same sequence number converges; the keeper is not restarted
//  10 secret canaries (a registry password, user and environment value in both configurations' protected
//     settings): none in any file, the journal, or the argv and environment of any
//     process sampled in the VM from step 1 on
//  11 uninstall: TCP listener and certificate files gone, local socket serves, engine and keeper stay
// Then a raw baseline in a fresh VM: apt-get update && apt-get install docker.io until `docker version` answers.
//
// Figures (suite wall time, enable→success, raw baseline, ratio, pid evidence) are printed at the end and
// written to $TMPDIR/adx-e2e-results/vm-e2e-figures.json. ADX_E2E=0 skips the suite; ADX_E2E_KEEP=1 keeps the VMs.
//   NODE_OPTIONS=--experimental-vm-modules npx jest test/e2e/vm-e2e.test.ts
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { buildPackage } from '../../scripts/package-lib.mjs';
import { certsSetting, makeE2eCerts, type E2eCerts } from '../support/e2e-certs.js';
import {
  copyClientCerts,
  dockerdFacts,
  keeperState,
  listeners,
  pidWindow,
  startKeeper,
  startPidSampler,
  tlsChecks,
  vmNowMs,
  waitDockerdActive,
  waitKeeperRunning,
  KEEPER,
  TLS_PORT,
  type DockerdFacts,
  type KeeperState,
  type PidWindow,
  type TlsChecks,
} from '../support/e2e-dockerd.js';
import { diagnostics, EXT_NAME, onlyStep, scenario } from '../support/e2e-diagnostics.js';
import { startVmCanarySampler, vmCanaryReport } from '../support/e2e-canaries.js';
import * as byHand from '../support/e2e-direct-enable.js';
import { gapsS, monitorFacts, rewrites, transientUnits, waitHeartbeat, watchHeartbeat, type HeartbeatSample } from '../support/e2e-monitor.js';
import { openHarnessSession, type HarnessSession, type HarnessStep, type HarnessStepName, type HarnessSummary, type SessionRunOptions, vmSuiteSkip } from '../support/vm/harness.js';
import { startVm, type Vm } from '../support/vm/vm.js';

const keepVms = process.env.ADX_E2E_KEEP === '1';
const skipped = vmSuiteSkip('(e2e) Docker extension end to end', { harness: true });
const d = skipped ? describe.skip : describe;

const V1 = '1.0.0';
const V2 = '1.0.1';
const PUB1 = { docker: { port: TLS_PORT, options: ['--log-level', 'info'] } };
// --log-level is restart-only (--label alone would be a SIGHUP reload): exactly one restart is due
const PUB2 = { docker: { port: TLS_PORT, options: ['--log-level', 'warn', '--label', 'e2e=two'] } };

interface StepEvidence {
  before: DockerdFacts;
  after: DockerdFacts;
  window?: PidWindow;
  [k: string]: unknown;
}

interface Figures {
  startedAt: string;
  suiteWallS?: number;
  vmBootMs?: number;
  installEnable?: {
    /** The agent's whole goal state: download, unzip, install, enable, status polls until success. */
    stepElapsedS: number;
    installCommandS: number;
    enableCommandS: number;
    /** stepElapsedS minus the commands before enable: start of enable → the agent's success. */
    enableToSuccessS: number;
    statusPolls: number;
  };
  reenable?: { enableCommandS: number; stepElapsedS: number };
  newSeq?: { stepElapsedS: number; enableCommandS: number };
  update?: { stepElapsedS: number; commands: string[] };
  reboot?: { restartMs: number; reenableCommandS: number };
  rawBaseline?: { inVmS: number; aptS: number; dockerAnswersAfterAptS: number; hostWallS: number; dockerVersion: string };
  enableToSuccessVsRaw?: number;
  heartbeatRewrites?: { idleGapsS: number[]; afterBootGapsS: number[] };
  pids: Record<string, StepEvidence>;
  keeper: Record<string, KeeperState>;
  tls: Record<string, TlsChecks>;
}

const secs = (ms: number) => Math.round(ms / 100) / 10;

// Protected values that the handler must never publish, log or pass to a process (issue: secrets).
const CANARY = `${process.pid}x${Date.now().toString(36)}`;
// No "login": enable now logs in for real, and no registry is reachable from the VM; the login's
// password is sampled for against a real registry in test/integration/docker/login-real-registry.test.ts.
const CANARIES = { env: `canary-env-${CANARY}` };
const canarySettings = { environment: { APP_SECRET: CANARIES.env } };

d(`(e2e) Docker extension end to end in a VM under the real agent${skipped ? ` [skipped: ${skipped}]` : ''}`, () => {
  const t0 = Date.now();
  const figures: Figures = { startedAt: new Date(t0).toISOString(), pids: {}, keeper: {}, tls: {} };
  let work: string;
  let certs: E2eCerts;
  let zipPath: string;
  let vm: Vm | undefined;
  let baselineVm: Vm | undefined;
  let session: HarnessSession | undefined;
  let last: HarnessSummary | undefined;
  // Each step fails at once after an earlier one failed, naming it; failures carry diagnostics.
  const { step, stoppedAt } = scenario(() => diagnostics(vm, session, last));

  /** Run harness steps; keep the summary for diagnostics. */
  async function agent(steps: HarnessStepName | HarnessStepName[], o: SessionRunOptions = {}): Promise<HarnessSummary> {
    last = undefined;
    const r = await session!.run(steps, o);
    last = r;
    return r;
  }

  const cmdLine = (s: HarnessStep) => s.commands.map((c) => `${c.cmd_name}@${c.handler_version}=${c.timed_out ? 'TIMEOUT' : c.exit_code}`);
  const cmd = (s: HarnessStep, name: string) => s.commands.find((c) => c.cmd_name === name);
  const ext = (s: HarnessStep) => s.agent_status?.extension_status;
  const hb = (s: HarnessStep) => (s.heartbeat as { reported?: { status?: string; message?: string } } | null)?.reported;
  /** Facts before a step, the step, facts after and the sampler's window over it. */
  async function observe<T>(fn: () => Promise<T>): Promise<{ result: T; ev: StepEvidence }> {
    const before = await dockerdFacts(vm!);
    const result = await fn();
    const after = await dockerdFacts(vm!);
    return { result, ev: { before, after, window: await pidWindow(vm!, before.atMs, after.atMs) } };
  }
  const m = (checks: TlsChecks) => JSON.stringify(checks, null, 2);
  const heartbeatFile = (version: string) => `${session!.dir}/work/lib/${EXT_NAME}-${version}/heartbeat.log`;
  /** The monitor's own heartbeat (it says when it checked), as opposed to the one a command wrote. */
  const monitorHeartbeat = (version: string, timeoutMs = 15_000): Promise<HeartbeatSample> =>
    waitHeartbeat(vm!, heartbeatFile(version), (h) => /Checked /.test(h.message), timeoutMs, 250);

  /** The client checks every serving state must pass. */
  function expectTlsServes(c: TlsChecks): void {
    expect({ goodClient: c.goodClient.ok, curlGood: c.curlGood.ok, localSocket: c.localSocket.ok, why: m(c) }).toMatchObject({ goodClient: true, curlGood: true, localSocket: true });
    expect(c.curlGood.detail).toBe('OK');
    expect(c.goodClient.detail).toMatch(/^\d+\.\d+/); // the server's version
    expect(c.listeners.join('\n')).toMatch(new RegExp(`:${TLS_PORT}\\b`));
    // refused by the server: the handshake fails for lack of an acceptable client certificate
    expect({ noClientCert: c.noClientCert.ok, otherCaClient: c.otherCaClient.ok, curlNoCert: c.curlNoCert.ok, curlOtherCa: c.curlOtherCa.ok, why: m(c) }).toMatchObject({
      noClientCert: false,
      otherCaClient: false,
      curlNoCert: false,
      curlOtherCa: false,
    });
    for (const k of ['noClientCert', 'otherCaClient', 'curlNoCert', 'curlOtherCa'] as const) {
      expect(c[k].detail).toMatch(/certificate|tls|handshake|alert/i);
      expect(c[k].detail).not.toMatch(/no such file|could not load|refused/i); // not a client-side or connect failure
    }
    // ... and dockerd says why: no certificate, and a certificate from an authority it does not trust
    expect({ serverSaw: c.serverSaw, why: m(c) }).toMatchObject({ serverSaw: { noClientCert: true, unknownAuthority: true } });
  }

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'adx-vm-e2e-'));
    certs = makeE2eCerts(path.join(work, 'certs'));
    ({ zipPath } = await buildPackage({ outDir: path.join(work, 'out'), arch: 'x64', build: false }));
    vm = await startVm({ log: process.env.ADX_E2E_VERBOSE ? (l) => process.stderr.write(l) : undefined });
    figures.vmBootMs = vm.bootMs;
    session = await openHarnessSession(vm, {
      handler: { hostZip: zipPath },
      name: EXT_NAME,
      version: V1,
      updateVersion: V2,
      publicSettings: PUB1,
      protectedSettings: { certs: certsSetting(certs, 'base64'), ...canarySettings }, // the old extension's form
      publicSettings2: PUB2,
      protectedSettings2: { certs: certsSetting(certs, 'pem'), ...canarySettings }, // raw PEM
      waitTerminalS: 600,
    });
    await startPidSampler(vm);
    await startVmCanarySampler(vm, Object.values(CANARIES));
  }, 20 * 60_000);

  afterAll(async () => {
    figures.suiteWallS = secs(Date.now() - t0);
    const dir = path.join(tmpdir(), 'adx-e2e-results');
    try {
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'vm-e2e-figures.json'), JSON.stringify(figures, null, 2));
    } catch {
      /* figures are a by-product */
    }
    const ev = (k: string) => {
      const e = figures.pids[k];
      const boot = e?.['afterBoot'] as DockerdFacts | undefined;
      return e ? `MainPID ${e.before.mainPid} → ${boot ? `${boot.mainPid} at boot → ` : ''}${e.after.mainPid}, "Started docker.service" ${e.before.systemdStarts} → ${e.after.systemdStarts}, sampler pids [${e.window?.pids.join(', ') ?? ''}]` : '(not run)';
    };
    console.log(
      [
        `VM e2e figures (${path.join(dir, 'vm-e2e-figures.json')}):`,
        `  suite wall time:            ${figures.suiteWallS} s (VM boot ${figures.vmBootMs} ms)`,
        `  install_enable step:        ${figures.installEnable?.stepElapsedS ?? '-'} s (install cmd ${figures.installEnable?.installCommandS ?? '-'} s, enable cmd ${figures.installEnable?.enableCommandS ?? '-'} s)`,
        `  enable → agent success:     ${figures.installEnable?.enableToSuccessS ?? '-'} s`,
        `  raw apt install baseline:   ${figures.rawBaseline?.inVmS ?? '-'} s (apt ${figures.rawBaseline?.aptS ?? '-'} s + docker answers ${figures.rawBaseline?.dockerAnswersAfterAptS ?? '-'} s)`,
        `  ratio enable→success / raw: ${figures.enableToSuccessVsRaw ?? '-'}`,
        `  re-enable (same seq) cmd:   ${figures.reenable?.enableCommandS ?? '-'} s; after reboot ${figures.reboot?.reenableCommandS ?? '-'} s`,
        `  step 4 new seq:  ${ev('enable_new_seq')}`,
        `  step 5 re-enable: ${ev('reenable_same_seq')}`,
        `  step 6 update:   ${ev('update')}`,
        `  step 7 reboot:   ${ev('reboot')}`,
        `  step 9 bad:      ${ev('bad_settings')}`,
        `  step 11 uninstall: ${ev('uninstall')}`,
        `  keeper StartedAt: ${Object.entries(figures.keeper).map(([k, v]) => `${k}=${v.startedAt}${v.running ? '' : ' (NOT running)'}`).join(', ')}`,
      ].join('\n'),
    );
    try {
      await session?.close();
    } catch {
      /* the VM may be gone */
    }
    if (!keepVms) {
      await vm?.remove();
      await baselineVm?.remove();
    }
    if (work) rmSync(work, { recursive: true, force: true });
  }, 5 * 60_000);

  // ---------------------------------------------------------------------------------------------------- 1
  step('1 install_enable: the handler installs docker.io with apt, configures TLS, the agent reports success', 15 * 60_000, async () => {
    const before = await dockerdFacts(vm!);
    expect((await vm!.exec(['dpkg-query', '-W', 'docker.io'])).exitCode).not.toBe(0); // nothing installed yet
    const r = await agent('install_enable');
    const s = onlyStep(r);
    const after = await dockerdFacts(vm!);
    figures.pids['install_enable'] = { before, after };

    expect(cmdLine(s)).toEqual([`install@${V1}=0`, `enable@${V1}=0`]);
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    expect(s.agent_status).toMatchObject({ handlerVersion: V1, status: 'Ready', sequenceNumber: 0 });
    expect(ext(s)).toMatchObject({ status: 'success', code: 0, operation: 'Enable' });
    expect(hb(s)?.status).toBe('Ready');
    const sub = Object.fromEntries((ext(s)?.substatus ?? []).map((x) => [x.name, x]));
    expect(sub['settings']?.message).toMatch(/TCP 2376 with TLS client verification \(ca SHA-256 fingerprint (?:[0-9A-F]{2}:){31}[0-9A-F]{2}; cert SHA-256 fingerprint (?:[0-9A-F]{2}:){31}[0-9A-F]{2}; key set, never fingerprinted\)/);
    expect(sub['engine']).toMatchObject({ status: 'success' });
    expect(sub['engine']?.message).toMatch(/installed docker\.io/);
    expect(sub['verify']?.status).toBe('success');
    // the secret never reaches anything the agent publishes
    const keyLine = certs.server.key.split('\n')[3]!;
    expect(JSON.stringify(r)).not.toContain(keyLine);

    const install = cmd(s, 'install')!;
    const enable = cmd(s, 'enable')!;
    const preEnable = s.commands.slice(0, s.commands.indexOf(enable)).reduce((a, c) => a + (c.duration_s ?? 0), 0);
    figures.installEnable = {
      stepElapsedS: s.elapsed_s ?? NaN,
      installCommandS: install.duration_s ?? NaN,
      enableCommandS: enable.duration_s ?? NaN,
      enableToSuccessS: Math.round(((s.elapsed_s ?? NaN) - preEnable) * 10) / 10,
      statusPolls: s.status_polls ?? NaN,
    };
    expect(enable.duration_s).toBeLessThan(30); // enable returns at once; the worker does the apt install

    // what the VM looks like now
    expect(await vm!.check(['dpkg-query', '-W', '-f', '${Status}', 'docker.io'])).toBe('install ok installed');
    expect(after.activeState).toBe('active');
    expect(after.mainPid).toBeGreaterThan(0);
    expect(after.nRestarts).toBe(0);
    // one start through systemd, already configured: the package's scripts were held from starting it
    expect(before.systemdStarts).toBe(0);
    expect(after.systemdStarts).toBe(1);
    expect(sub['service']?.message).toMatch(/^started dockerd/);
    expect((await vm!.exec(['test', '-e', '/usr/sbin/policy-rc.d'])).exitCode).toBe(1); // the hold is gone
    expect(JSON.parse(await vm!.readFile('/etc/docker/daemon.json'))['live-restore']).toBe(true);
    expect((await vm!.exec(['systemctl', 'is-enabled', 'docker.service'])).stdout.trim()).toBe('enabled');
    expect(await vm!.readFile('/etc/docker/ca.pem')).toBe(certs.ca.cert);
    expect(await vm!.readFile('/etc/docker/cert.pem')).toBe(certs.server.cert);
    expect((await vm!.check(['stat', '-c', '%a %U', '/etc/docker/key.pem'])).trim()).toBe('600 root');
    const dj = JSON.parse(await vm!.readFile('/etc/docker/daemon.json')) as Record<string, unknown>;
    expect(dj).toMatchObject({ tlsverify: true, 'log-level': 'info' });
    expect((dj['hosts'] as string[]).some((h) => h.endsWith(`:${TLS_PORT}`) && h.startsWith('tcp://'))).toBe(true);

    // the monitor: a systemd service of its own, enabled for boot, one process; the enable worker
    // ran as a transient unit (outside whatever cgroup the agent runs commands in)
    const mon = await monitorFacts(vm!);
    expect(mon).toMatchObject({ enabled: 'enabled', active: 'active', unitFileExists: true });
    expect(mon.processes).toEqual([mon.mainPid]);
    expect(await transientUnits(vm!)).toEqual([expect.stringMatching(/^azure-docker-extension-enable-0-[0-9a-f]{8}\.service$/)]);
    const beat = await monitorHeartbeat(V1);
    expect(beat.status).toBe('Ready');
    expect(beat.message).toMatch(/^Docker 20\.10\.\S+ serves \/run\/docker\.sock and TLS on port 2376 \(server certificate CN=\S+, valid until \d{4}-\d\d-\d\d\)\. Configuration 0 applied .* UTC\. Checked .* UTC\.$/);
  });

  // ---------------------------------------------------------------------------------------------------- 2
  step('2 mutual TLS inside the VM: right client accepted, no cert and other CA refused, local socket serves', 3 * 60_000, async () => {
    await copyClientCerts(vm!, {
      ca: certs.ca.cert,
      clientCert: certs.client.cert,
      clientKey: certs.client.key,
      otherClientCert: certs.otherClient.cert,
      otherClientKey: certs.otherClient.key,
    });
    const c = await tlsChecks(vm!);
    figures.tls['after_install'] = c;
    expectTlsServes(c);
  });

  // ---------------------------------------------------------------------------------------------------- 3
  step('3 a long-running container from an image built in the VM (no registry)', 5 * 60_000, async () => {
    await startKeeper(vm!);
    const k = await waitKeeperRunning(vm!);
    figures.keeper['started'] = k;
    expect(k).toMatchObject({ exists: true, running: true });
  });

  // ---------------------------------------------------------------------------------------------------- 3b
  step('3b the monitor rewrites the heartbeat at least every minute with no agent command (two minutes)', 4 * 60_000, async () => {
    const samples = await watchHeartbeat(vm!, heartbeatFile(V1), 125_000);
    const times = rewrites(samples);
    figures.heartbeatRewrites = { idleGapsS: gapsS(times), afterBootGapsS: [] };
    expect(times.length).toBeGreaterThanOrEqual(3); // the one found, and at least two more
    for (const g of gapsS(times)) expect(g).toBeLessThanOrEqual(65);
    expect(samples.every((x) => x.status === 'Ready')).toBe(true);
    // what the agent would make of it: fresh, and the monitor's words
    expect(samples.at(-1)!.atMs - samples.at(-1)!.mtimeMs).toBeLessThan(65_000);
  });

  // ---------------------------------------------------------------------------------------------------- 4
  step('4 enable_new_seq with a changed restart-only option: exactly one dockerd restart', 10 * 60_000, async () => {
    const { result: r, ev } = await observe(() => agent('enable_new_seq'));
    figures.pids['enable_new_seq'] = ev;
    const s = onlyStep(r);
    expect(cmdLine(s)).toEqual([`enable@${V1}=0`]);
    expect(r.ok).toBe(true);
    expect(s.agent_status).toMatchObject({ handlerVersion: V1, status: 'Ready', sequenceNumber: 1 });
    expect(ext(s)).toMatchObject({ status: 'success', operation: 'Enable' });
    expect(ext(s)?.message).toMatch(/restarted/);
    expect(hb(s)?.status).toBe('Ready');
    figures.newSeq = { stepElapsedS: s.elapsed_s ?? NaN, enableCommandS: cmd(s, 'enable')?.duration_s ?? NaN };

    const dj = JSON.parse(await vm!.readFile('/etc/docker/daemon.json')) as Record<string, unknown>;
    expect(dj['log-level']).toBe('warn');
    expect(dj['labels']).toEqual(expect.arrayContaining(['e2e=two']));
    // exactly one restart, by three witnesses
    const { before, after, window } = ev;
    expect(before.mainPid).toBeGreaterThan(0);
    expect(after.mainPid).toBeGreaterThan(0);
    expect(after.mainPid).not.toBe(before.mainPid);
    expect(after.systemdStarts - before.systemdStarts).toBe(1);
    // no other dockerd in the journal (dockerd may log nothing at warn level, so the new pid need not be there)
    expect(after.journalPids.slice(0, before.journalPids.length)).toEqual(before.journalPids);
    expect(after.journalPids.slice(before.journalPids.length).filter((p) => p !== after.mainPid)).toEqual([]);
    expect(after.nRestarts).toBe(before.nRestarts);
    expect(window?.pids).toEqual([before.mainPid, after.mainPid]);

    expect(await transientUnits(vm!)).toContainEqual(expect.stringMatching(/^azure-docker-extension-enable-1-[0-9a-f]{8}\.service$/));
    expectTlsServes((figures.tls['after_new_seq'] = await tlsChecks(vm!)));
    const k = await waitKeeperRunning(vm!);
    figures.keeper['after_new_seq'] = k;
    expect(k.running).toBe(true);
    expect(k.startedAt).toBe(figures.keeper['started']!.startedAt); // live-restore: dockerd restarted, the container did not
  });

  // ---------------------------------------------------------------------------------------------------- 5
  step('5 reenable_same_seq: nothing restarted, and fast', 5 * 60_000, async () => {
    const { result: r, ev } = await observe(() => agent('reenable_same_seq'));
    figures.pids['reenable_same_seq'] = ev;
    const s = onlyStep(r);
    expect(cmdLine(s)).toEqual([`enable@${V1}=0`]);
    expect(r.ok).toBe(true);
    expect(s.agent_status).toMatchObject({ handlerVersion: V1, status: 'Ready', sequenceNumber: 1 });
    expect(ext(s)).toMatchObject({ status: 'success', operation: 'Enable' });
    expect(hb(s)?.status).toBe('Ready');
    const enable = cmd(s, 'enable')!;
    expect(enable.output).toMatch(/already applied/);
    figures.reenable = { enableCommandS: enable.duration_s ?? NaN, stepElapsedS: s.elapsed_s ?? NaN };
    // the agent's floor is ~2 s per command (1 s polling + 1 s after exit); the handler itself adds little
    expect(enable.duration_s).toBeLessThan(4);

    const { before, after, window } = ev;
    expect(after.mainPid).toBe(before.mainPid);
    expect(after.systemdStarts).toBe(before.systemdStarts);
    expect(after.journalPids).toEqual(before.journalPids);
    expect(window).toMatchObject({ pids: [before.mainPid], zeroSamples: 0 });
    const k = await keeperState(vm!);
    figures.keeper['after_reenable'] = k;
    expect(k).toMatchObject({ running: true, startedAt: figures.keeper['after_new_seq']!.startedAt });
  });

  // ---------------------------------------------------------------------------------------------------- 6
  step(`6 update ${V1} → ${V2}: dockerd untouched throughout, the agent reports ${V2}'s own Enable success`, 10 * 60_000, async () => {
    const { result: r, ev } = await observe(() => agent('update'));
    figures.pids['update'] = ev;
    const s = onlyStep(r);
    expect(cmdLine(s)).toEqual([`disable@${V1}=0`, `update@${V2}=0`, `uninstall@${V1}=0`, `install@${V2}=0`, `enable@${V2}=0`]);
    expect(cmd(s, 'uninstall')?.output).toMatch(/part of an update/);
    expect(r.problems).toEqual([]);
    expect(r.warnings).toEqual([]); // e.g. no status file copied from the old version and reported for the new one
    expect(r.ok).toBe(true);
    expect(s.agent_status).toMatchObject({ handlerVersion: V2, status: 'Ready', sequenceNumber: 2 });
    expect(ext(s)).toMatchObject({ status: 'success', operation: 'Enable' });
    expect(hb(s)?.status).toBe('Ready');
    expect(s.handler_dirs).toEqual([`${EXT_NAME}-${V2}`]);
    // the new version ran its own enable: the status it reports is its own (not the copied one of 1.0.0)
    expect(cmd(s, 'enable')?.output).not.toMatch(/already applied/);
    figures.update = { stepElapsedS: s.elapsed_s ?? NaN, commands: cmdLine(s) };

    const { before, after, window } = ev;
    expect(after.mainPid).toBe(before.mainPid);
    expect(after.systemdStarts).toBe(before.systemdStarts);
    expect(after.journalPids).toEqual(before.journalPids);
    expect(after.nRestarts).toBe(before.nRestarts);
    expect(window).toMatchObject({ pids: [before.mainPid], zeroSamples: 0 }); // never down, never another pid
    expect(window!.samples).toBeGreaterThan(5);
    // the same unit, now running the new version (the old one's uninstall kept it; the new enable took it over)
    const mon = await monitorFacts(vm!);
    expect(mon).toMatchObject({ enabled: 'enabled', active: 'active' });
    expect(mon.processes).toEqual([mon.mainPid]);
    expect(await vm!.readFile(`/proc/${mon.mainPid}/cmdline`)).toContain(`${EXT_NAME}-${V2}/`);
    expect((await monitorHeartbeat(V2)).message).toMatch(/Configuration 2 applied .* Checked/);
    expectTlsServes((figures.tls['after_update'] = await tlsChecks(vm!)));
    const k = await keeperState(vm!);
    figures.keeper['after_update'] = k;
    expect(k).toMatchObject({ running: true, startedAt: figures.keeper['after_new_seq']!.startedAt });
  });

  // ---------------------------------------------------------------------------------------------------- 7
  step('7 reboot: dockerd serves TLS again; the re-enable after boot restarts nothing', 10 * 60_000, async () => {
    const before = await dockerdFacts(vm!);
    let boot: DockerdFacts | undefined;
    last = undefined;
    const { restartMs, state, summary: r } = await session!.rebootAndReenable({
      afterBoot: async () => {
        boot = await waitDockerdActive(vm!);
        await startPidSampler(vm!);
        await startVmCanarySampler(vm!);
        // before the agent runs anything: the monitor came up at boot and keeps the heartbeat fresh
        // (the container's kernel is the host's: systemd's own start is the boot)
        const bootMs = Number((await vm!.check('date -d "$(ps -o lstart= -p 1)" +%s%3N')).trim());
        expect(bootMs).toBeGreaterThan(0);
        const mon = await monitorFacts(vm!);
        expect(mon).toMatchObject({ enabled: 'enabled', active: 'active' });
        const first = await monitorHeartbeat(V2, 30_000);
        expect(first.status).toBe('Ready');
        const samples = await watchHeartbeat(vm!, heartbeatFile(V2), 65_000);
        const times = rewrites([first, ...samples]).filter((t) => t > bootMs);
        figures.heartbeatRewrites = { idleGapsS: figures.heartbeatRewrites?.idleGapsS ?? [], afterBootGapsS: gapsS(times) };
        expect(times.length).toBeGreaterThanOrEqual(2);
      },
    });
    last = r;
    const after = await dockerdFacts(vm!);
    const window = await pidWindow(vm!, boot!.atMs, after.atMs);
    figures.pids['reboot'] = { before, after, window, afterBoot: boot };
    expect(['running', 'degraded']).toContain(state);
    const s = onlyStep(r);
    expect(r.driver?.agent_start).toBe(2); // a new agent process, as after a real reboot
    expect(cmdLine(s)).toEqual([`enable@${V2}=0`]);
    expect(r.ok).toBe(true);
    expect(s.agent_status).toMatchObject({ handlerVersion: V2, status: 'Ready', sequenceNumber: 2 });
    expect(ext(s)).toMatchObject({ status: 'success', operation: 'Enable' });
    expect(hb(s)?.status).toBe('Ready');
    const enable = cmd(s, 'enable')!;
    expect(enable.output).toMatch(/already applied/);
    figures.reboot = { restartMs, reenableCommandS: enable.duration_s ?? NaN };

    // dockerd came back by itself at boot (one new start), and the re-enable restarted nothing
    expect(boot!.activeState).toBe('active');
    expect(boot!.mainPid).toBeGreaterThan(0);
    expect(boot!.systemdStarts - before.systemdStarts).toBe(1);
    expect(after.mainPid).toBe(boot!.mainPid);
    expect(after.systemdStarts).toBe(boot!.systemdStarts);
    expect(after.journalPids).toEqual(boot!.journalPids);
    expect(window).toMatchObject({ pids: [boot!.mainPid], zeroSamples: 0 });
    expectTlsServes((figures.tls['after_reboot'] = await tlsChecks(vm!)));
  });

  // ---------------------------------------------------------------------------------------------------- 8
  step('8 keeper survived steps 4–7: kept running through dockerd\'s restart (live-restore), restarted by the reboot only', 2 * 60_000, async () => {
    const k = await waitKeeperRunning(vm!);
    figures.keeper['after_reboot'] = k;
    const K = figures.keeper;
    expect(k.running).toBe(true);
    expect(K['after_new_seq']!.startedAt).toBe(K['started']!.startedAt);
    expect(K['after_reenable']!.startedAt).toBe(K['after_new_seq']!.startedAt);
    expect(K['after_update']!.startedAt).toBe(K['after_new_seq']!.startedAt);
    expect(k.startedAt).not.toBe(K['after_update']!.startedAt);
    expect((await vm!.check(['docker', 'ps', '--filter', `name=^${KEEPER}$`, '--format', '{{.Names}} {{.Status}}'])).trim()).toMatch(/^keeper Up /);
  });

  // ---------------------------------------------------------------------------------------------------- 9
  step('9 bad settings (certs.key does not match certs.cert): enable refuses them before anything changes, the agent reports error, dockerd keeps serving', 10 * 60_000, async () => {
    const bad = { certs: certsSetting(certs, 'pem', certs.client.key) };
    const keyBefore = await vm!.readFile('/etc/docker/key.pem');
    const djBefore = await vm!.readFile('/etc/docker/daemon.json');
    const kBefore = await keeperState(vm!);
    const { result: r, ev } = await observe(() => agent('enable_new_seq', { publicSettings2: PUB2, protectedSettings2: bad }));
    figures.pids['bad_settings'] = ev;
    const s = onlyStep(r);
    // The certificates are checked with the settings, in the foreground (every problem in one pass):
    // enable exits 3 and no worker starts.
    expect(cmdLine(s)).toEqual([`enable@${V2}=3`]);
    expect(s.agent_status).toMatchObject({ handlerVersion: V2, sequenceNumber: 3 });
    expect(ext(s)).toMatchObject({ status: 'error', operation: 'Enable' });
    expect(ext(s)?.message).toMatch(/^Enable failed: Invalid extension settings: protected setting "certs\.key" does not belong to the certificate in "certs\.cert".* Nothing was changed\./);
    expect(hb(s)?.status).toBe('NotReady');
    expect(r.ok).toBe(false); // the harness flags the error too
    expect(r.problems.join('\n')).toMatch(/extension status is 'error'/);
    expect(JSON.stringify(r)).not.toContain(certs.client.key.split('\n')[3]!); // the (wrong) key is still a secret

    const { before, after, window } = ev;
    expect(after.mainPid).toBe(before.mainPid);
    expect(after.systemdStarts).toBe(before.systemdStarts);
    expect(window).toMatchObject({ pids: [before.mainPid], zeroSamples: 0 });
    expect(await vm!.readFile('/etc/docker/key.pem')).toBe(keyBefore);
    expect(await vm!.readFile('/etc/docker/daemon.json')).toBe(djBefore);
    expectTlsServes((figures.tls['after_bad_settings'] = await tlsChecks(vm!)));
    const k = await keeperState(vm!);
    figures.keeper['after_bad_settings'] = k;
    expect(k).toMatchObject({ running: true, startedAt: kBefore.startedAt });
  });

  // --------------------------------------------------------------------------------------------------- 9b
  step('9b kill -9 of the enable worker, after it starts and during the restart: the next enable converges, no container restarted', 10 * 60_000, async () => {
    const lib = `${session!.dir}/work/lib`;
    const x = { libDir: lib, extDir: `${lib}/${EXT_NAME}-${V2}`, version: V2 };
    const kBefore = await keeperState(vm!);
    for (const [seq, level, when] of [[4, 'error', 'started'], [5, 'warn', 'restarting dockerd']] as const) {
      // --log-level is restart-only: each configuration restarts dockerd once
      const pub = { docker: { port: TLS_PORT, options: ['--log-level', level, '--label', `e2e=kill${seq}`] } };
      await byHand.writeSettings(vm!, x, seq, pub, { certs: certsSetting(certs, 'pem') });
      expect((await byHand.enable(vm!, x, seq)).exitCode).toBe(0);
      if (when === 'restarting dockerd') {
        await byHand.waitStatus(vm!, x, seq, (st) => st.status !== 'transitioning' || st.substatus.some((p) => p.name === 'service' && p.status === 'transitioning'), 120_000, 50);
      }
      const killed = await byHand.killWorker(vm!, seq);
      expect({ when, killed: killed.length }).toEqual({ when, killed: 1 });
      await new Promise((r) => setTimeout(r, 2_000));
      // a killed worker writes nothing more: the status stays as it was
      expect((await byHand.status(vm!, x, seq))?.status).toBe('transitioning');

      const again = await byHand.enable(vm!, x, seq);
      expect(again.exitCode).toBe(0);
      expect(again.stdout).not.toMatch(/already applied/);
      const st = await byHand.waitStatus(vm!, x, seq, (s) => s.status !== 'transitioning', 180_000, 250);
      expect({ when, status: st.status, message: st.message }).toMatchObject({ when, status: 'success' });
      expect(JSON.parse(await vm!.readFile('/etc/docker/daemon.json'))).toMatchObject({ 'log-level': level, labels: [`e2e=kill${seq}`] });
      expectTlsServes(await tlsChecks(vm!));
      expect((await vm!.exec(['sh', '-c', `systemctl list-units --plain --no-legend 'azure-docker-extension-enable-*' | grep -c running`])).stdout.trim()).toBe('0');
    }
    const k = await keeperState(vm!);
    figures.keeper['after_kills'] = k;
    expect(k).toMatchObject({ running: true, startedAt: kBefore.startedAt });
  });

  // ---------------------------------------------------------------------------------------------------- 10
  step('10 secret canaries: no protected value in any file, the journal, or any process\'s argv or environment', 5 * 60_000, async () => {
    const report = await vmCanaryReport(vm!);
    console.log(`VM canary scan: ${report.processRounds} sampling rounds over every process, files under the log, agent, /etc, /run, /root and /tmp folders, the journal`);
    expect(report.processRounds).toBeGreaterThan(100);
    expect(report).toMatchObject({ processHits: [], fileHits: [], journalHits: 0 });
  });

  // ---------------------------------------------------------------------------------------------------- 11
  step('11 uninstall: listener and certificates gone, local socket serves, engine and keeper kept', 10 * 60_000, async () => {
    const { result: r, ev } = await observe(() => agent('uninstall'));
    figures.pids['uninstall'] = ev;
    const s = onlyStep(r);
    expect(cmdLine(s)).toEqual([`disable@${V2}=0`, `uninstall@${V2}=0`]);
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    expect(s.handler_dirs).toEqual([]);
    expect(s.agent_status).toBeNull(); // nothing reported any more: uninstalled

    expect(await listeners(vm!)).toEqual([]);
    const c = await tlsChecks(vm!);
    figures.tls['after_uninstall'] = c;
    expect({ goodClient: c.goodClient.ok, curlGood: c.curlGood.ok, why: m(c) }).toMatchObject({ goodClient: false, curlGood: false });
    expect(c.curlGood.detail).toMatch(/refused|connect/i);
    expect({ localSocket: c.localSocket.ok, why: m(c) }).toMatchObject({ localSocket: true });
    for (const f of ['ca.pem', 'cert.pem', 'key.pem']) {
      expect((await vm!.exec(['test', '-e', `/etc/docker/${f}`])).exitCode).toBe(1);
    }
    const dj = await vm!.exec(['cat', '/etc/docker/daemon.json']);
    if (dj.exitCode === 0) expect(dj.stdout).not.toMatch(/tcp:\/\/|tlsverify/);
    expect(await vm!.check(['dpkg-query', '-W', '-f', '${Status}', 'docker.io'])).toBe('install ok installed');
    expect((await vm!.check(['docker', 'ps', '-a', '--format', '{{.Names}}'])).split('\n')).toContain(KEEPER);
    // the monitor is gone with its unit; uninstall's work ran as a transient unit
    const mon = await monitorFacts(vm!);
    expect(mon).toMatchObject({ unitFileExists: false, processes: [] });
    expect(mon.active).not.toBe('active');
    expect(await transientUnits(vm!)).toContainEqual(expect.stringMatching(/^azure-docker-extension-uninstall-[0-9a-f]{8}\.service$/));
    const k = await waitKeeperRunning(vm!);
    figures.keeper['after_uninstall'] = k;
    expect(k.running).toBe(true);
    // dockerd restarted onto the local socket only, with live-restore kept for that restart and then
    // switched off by SIGHUP: the container never stopped
    expect(k.startedAt).toBe(figures.keeper['after_bad_settings']!.startedAt);
    expect(await vm!.check(['docker', 'info', '--format', '{{.LiveRestoreEnabled}}'])).toBe('false\n');
    expect(ev.after.activeState).toBe('active');
  });

  // ---------------------------------------------------------------------------------------------------- baseline
  step('raw baseline in a fresh VM: apt-get install docker.io until `docker version` answers', 15 * 60_000, async () => {
    if (!keepVms) {
      // one VM at a time on this host's 2 CPUs: the figure is then comparable with enable's
      await session?.close().catch(() => undefined);
      await vm?.remove();
      vm = undefined;
      session = undefined;
    }
    baselineVm = await startVm();
    const h0 = Date.now();
    const out = await baselineVm.check(
      String.raw`set -e
        s=$(date +%s%3N)
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/var/tmp/apt.log 2>&1
        a=$(date +%s%3N)
        until v=$(docker version --format '{{.Server.Version}}' 2>/dev/null); do sleep 0.1; done
        e=$(date +%s%3N)
        echo "$s $a $e $v"`,
      { timeoutMs: 14 * 60_000 },
    );
    const hostWallS = secs(Date.now() - h0);
    const [s, a, e, v] = out.trim().split(' ');
    figures.rawBaseline = {
      inVmS: secs(Number(e) - Number(s)),
      aptS: secs(Number(a) - Number(s)),
      dockerAnswersAfterAptS: secs(Number(e) - Number(a)),
      hostWallS,
      dockerVersion: v ?? '',
    };
    if (figures.installEnable) {
      figures.enableToSuccessVsRaw = Math.round((figures.installEnable.enableToSuccessS / figures.rawBaseline.inVmS) * 100) / 100;
    }
    expect(figures.rawBaseline.inVmS).toBeGreaterThan(0);
  }, { independent: true }); // a figure of its own: measured even when the scenario failed

  test('figures are complete', () => {
    if (stoppedAt()) return; // the failing step already says why
    expect(figures.installEnable?.enableToSuccessS).toBeGreaterThan(0);
    expect(figures.enableToSuccessVsRaw).toBeGreaterThan(0);
  });
});
