// (e2e) The monitor on Debian 13 under its own packaged agent (waagent 2.12, which, unlike 2.7.3, publishes
// the heartbeat's message as the handler status message) with Debian 13's docker.io 26.1: the packaged x64 zip
// in a systemd VM, a real apt install, mutual TLS on 2376.
//
//   0 the agent's own unzip function unpacks the LZMA-compressed package, and its runtime runs
//   1 install_enable: success; the monitor's unit enabled and running; the agent publishes its heartbeat
//   2 two minutes with no agent command: the heartbeat file is rewritten at least every minute
//   3 kill -9 dockerd: NotReady naming dockerd within 10 s, Ready again once systemd restarted it
//   4 reboot, no agent command: the monitor is up before anything runs and rewrites the heartbeat; then the
//     agent's re-enable is a no-op
//   5 uninstall: the unit and its process are gone
//   ADX_E2E=0 skips it; ADX_E2E_KEEP=1 keeps the VM.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { buildPackage } from '../../scripts/package-lib.mjs';
import { certsSetting, makeE2eCerts } from '../support/e2e-certs.js';
import { copyClientCerts, dockerdFacts, tlsChecks, waitDockerdActive, TLS_PORT } from '../support/e2e-dockerd.js';
import { diagnostics, EXT_NAME, onlyStep, scenario } from '../support/e2e-diagnostics.js';
import { gapsS, monitorFacts, rewrites, transientUnits, waitHeartbeat, watchHeartbeat, type HeartbeatSample } from '../support/e2e-monitor.js';
import { openHarnessSession, type HarnessSession, type HarnessStep, type HarnessSummary, vmSuiteSkip } from '../support/vm/harness.js';
import { startVm, type Vm } from '../support/vm/vm.js';

const keepVms = process.env.ADX_E2E_KEEP === '1';
const skipped = vmSuiteSkip('(e2e) the monitor on Debian 13', { harness: true });
const d = skipped ? describe.skip : describe;
const V = '1.0.0';

d(`(e2e) the monitor on Debian 13 under waagent 2.12${skipped ? ` [skipped: ${skipped}]` : ''}`, () => {
  let work: string;
  let zipPath: string;
  let vm: Vm | undefined;
  let session: HarnessSession | undefined;
  let last: HarnessSummary | undefined;
  const figures: Record<string, unknown> = {};
  const { step } = scenario(async () => `${await diagnostics(vm, session, last)}\n----- monitor.log\n${await monitorLog()}`);
  const heartbeatFile = () => `${session!.dir}/work/lib/${EXT_NAME}-${V}/heartbeat.log`;
  const monitorLog = async () => (vm && session ? (await vm.exec(['tail', '-n', '30', `${session.dir}/work/log/${EXT_NAME}/monitor.log`])).stdout : '');
  const monitorHeartbeat = (pred: (h: HeartbeatSample) => boolean, timeoutMs: number): Promise<HeartbeatSample> => waitHeartbeat(vm!, heartbeatFile(), pred, timeoutMs);

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'adx-trixie-'));
    const certs = makeE2eCerts(path.join(work, 'certs'));
    ({ zipPath } = await buildPackage({ outDir: path.join(work, 'out'), arch: 'x64', build: false }));
    vm = await startVm({ suite: 'trixie', log: process.env.ADX_E2E_VERBOSE ? (l) => process.stderr.write(l) : undefined });
    session = await openHarnessSession(vm, {
      handler: { hostZip: zipPath },
      name: EXT_NAME,
      version: V,
      publicSettings: { docker: { port: TLS_PORT } },
      protectedSettings: { certs: certsSetting(certs, 'pem') },
      waitTerminalS: 600,
    });
    await copyClientCerts(vm, { ca: certs.ca.cert, clientCert: certs.client.cert, clientKey: certs.client.key, otherClientCert: certs.otherClient.cert, otherClientKey: certs.otherClient.key });
  }, 20 * 60_000);

  afterAll(async () => {
    console.log(`Debian 13 monitor figures: ${JSON.stringify(figures)}`);
    await session?.close().catch(() => undefined);
    if (!keepVms) await vm?.remove();
    if (work) rmSync(work, { recursive: true, force: true });
  }, 5 * 60_000);

  step("0 the agent's own unzip (2.12's WireClient._try_expand_zip_package) unpacks the LZMA package; the runtime runs", 5 * 60_000, async () => {
    await vm!.copyIn(zipPath, '/root/lzma-check/handler.zip');
    await vm!.copyIn(path.resolve(import.meta.dirname, '../support/agent/agent_unzip.py'), '/root/lzma-check/agent_unzip.py');
    const out = await vm!.check(['/usr/bin/python3', '/root/lzma-check/agent_unzip.py', '/root/lzma-check/handler.zip', '/root/lzma-check/unpacked']);
    expect(out).toMatch(/^2\.12\.\d+\.\d+ WireClient\._try_expand_zip_package$/m);
    expect((await vm!.check(['sh', '/root/lzma-check/unpacked/scripts/handler.sh', '--version'])).trim()).toMatch(/^\d+\.\d+\.\d+$/);
    await vm!.check(['rm', '-rf', '/root/lzma-check']);
  });

  step('1 install_enable on Debian 13: success; the monitor unit runs; the agent publishes its heartbeat', 15 * 60_000, async () => {
    expect(await vm!.check('. /etc/os-release && echo "$ID $VERSION_ID"')).toBe('debian 13\n');
    last = await session!.run('install_enable');
    const s = onlyStep(last);
    expect(s.commands.map((c) => `${c.cmd_name}=${c.exit_code}`)).toEqual(['install=0', 'enable=0']);
    expect(last.problems).toEqual([]);
    expect(last.agent?.version).toMatch(/^2\.12\./);
    expect(s.agent_status?.extension_status).toMatchObject({ status: 'success', operation: 'Enable' });
    expect(await vm!.check(['dpkg-query', '-W', '-f', '${Version}', 'docker.io'])).toMatch(/^26\./);
    const mon = await monitorFacts(vm!);
    expect(mon).toMatchObject({ enabled: 'enabled', active: 'active', unitFileExists: true });
    expect(mon.processes).toEqual([mon.mainPid]);
    expect(await transientUnits(vm!)).toEqual([expect.stringMatching(/^azure-docker-extension-enable-0-/)]);
    const hb = await monitorHeartbeat((h) => /Checked/.test(h.message), 15_000);
    expect(hb.status).toBe('Ready');
    expect(hb.message).toMatch(/^Docker 26\.\S+ serves \/run\/docker\.sock and TLS on port 2376 /);
    const c = await tlsChecks(vm!);
    expect({ good: c.goodClient.ok, noCert: c.noClientCert.ok }).toEqual({ good: true, noCert: false });
    // 2.12 publishes the heartbeat's message as the handler status message (2.7.3 only the status)
    last = await session!.run('reenable_same_seq');
    const r = onlyStep(last);
    expect(r.agent_status).toMatchObject({ status: 'Ready' });
    expect(r.agent_status?.message).toMatch(/serves \/run\/docker\.sock and TLS on port 2376 .* Checked/);
  });

  step('2 two minutes with no agent command: the heartbeat is rewritten at least every minute', 4 * 60_000, async () => {
    const samples = await watchHeartbeat(vm!, heartbeatFile(), 125_000);
    const times = rewrites(samples);
    figures.idleGapsS = gapsS(times);
    expect(times.length).toBeGreaterThanOrEqual(3);
    for (const g of gapsS(times)) expect(g).toBeLessThanOrEqual(65);
    expect(samples.every((x) => x.status === 'Ready')).toBe(true);
  });

  step('3 kill -9 dockerd: NotReady naming dockerd within 10 s; Ready again once systemd restarted it', 3 * 60_000, async () => {
    const before = await dockerdFacts(vm!);
    const t0 = Date.now();
    await vm!.check(['kill', '-9', String(before.mainPid)]);
    const down = await monitorHeartbeat((h) => h.status === 'NotReady', 10_000);
    figures.deathToNotReadyMs = Date.now() - t0;
    expect(down.status).toBe('NotReady');
    expect(down.message).toMatch(new RegExp(`dockerd (is not running since .*pid ${before.mainPid} exited\\. systemd restarts docker\\.service|\\(pid \\d+\\) does not answer)`));
    await waitDockerdActive(vm!);
    const up = await monitorHeartbeat((h) => h.status === 'Ready' && /serves .* Checked/.test(h.message), 60_000);
    figures.deathToReadyMs = Date.now() - t0;
    expect(up.status).toBe('Ready');
  });

  step('4 reboot with no agent command: the monitor rewrites the heartbeat; the re-enable after it is a no-op', 10 * 60_000, async () => {
    await vm!.restart();
    const bootMs = Number((await vm!.check('date -d "$(ps -o lstart= -p 1)" +%s%3N')).trim());
    const mon = await monitorFacts(vm!);
    expect(mon).toMatchObject({ enabled: 'enabled', active: 'active' });
    const first = await monitorHeartbeat((h) => /Checked/.test(h.message) && h.mtimeMs > bootMs, 60_000);
    const samples = await watchHeartbeat(vm!, heartbeatFile(), 65_000);
    const times = rewrites([first, ...samples]).filter((t) => t > bootMs);
    figures.afterBootGapsS = gapsS(times);
    expect(times.length).toBeGreaterThanOrEqual(2);
    expect(samples.at(-1)!.status).toBe('Ready');
    last = await session!.run('reenable_same_seq');
    const s = onlyStep(last);
    expect(s.commands.find((c) => c.cmd_name === 'enable')?.output).toMatch(/already applied/);
    expect(s.agent_status).toMatchObject({ status: 'Ready' });
  });

  step('5 uninstall: the unit and the monitor are gone', 5 * 60_000, async () => {
    last = await session!.run('uninstall');
    expect(last.problems).toEqual([]);
    const mon = await monitorFacts(vm!);
    expect(mon).toMatchObject({ unitFileExists: false, processes: [] });
    expect(mon.active).not.toBe('active');
  });
});
