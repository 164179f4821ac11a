// (e2e) The end-to-end path on Debian 11, 12 and 13, one VM after another (each removed before the next), under the
// agent code each runs: Debian 11 bookworm's waagent 2.7.3 (its own 2.2.47 is older than the harness supports),
// Debian 12 its own 2.7.3, Debian 13 its own 2.12. The packaged x64 zip, a real `apt-get install docker.io`
// (20.10.5, 20.10.24 and 26.1.5), mutual TLS on 127.0.0.1:2376.
//
// Per distribution, in one harness session:
//   1 install_enable → the agent reports success; the right client is served over TLS, no client certificate refused
//   2 the dry run inside the VM plans `dockerd --validate` (Debian 13: dockerd 26.1.5) or says it is skipped (20.10)
//   3 reenable_same_seq: "already applied", dockerd not restarted
//   4 (Debian 13) a new sequence number with a value only dockerd can refuse (--log-level verbose): dockerd --validate
//     refuses it before anything is written: the agent reports dockerd's reason, daemon.json unchanged, no restart
//   5 a new sequence number with a changed restart-only setting: exactly one dockerd restart
//   6 reboot and the agent's re-enable: TLS serves again, nothing restarted by the re-enable
//   7 uninstall: the TCP listener gone, the local socket serves
// Debian 12's pass is lean (1, 2, 3, 7): vm-e2e.test.ts runs the whole path on Debian 12 in depth (new sequence
// number, update, reboot, bad settings, kill -9, secrets), so the matrix proves there only what differs per
// distribution: the engine and agent versions, TLS, and the plan's validation step.
//
// Figures (per distribution: engine and agent version, wall time; the total) are printed at the end and written to
// $TMPDIR/adx-e2e-results/vm-distro-matrix-figures.json. ADX_E2E=0 skips the suite; ADX_E2E_KEEP=1 keeps the VMs.
//   NODE_OPTIONS=--experimental-vm-modules npx jest test/e2e/vm-distro-matrix.test.ts
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { buildPackage } from '../../scripts/package-lib.mjs';
import { certsSetting, makeE2eCerts, type E2eCerts } from '../support/e2e-certs.js';
import { copyClientCerts, dockerdFacts, listeners, tlsChecks, waitDockerdActive, TLS_PORT, type TlsChecks } from '../support/e2e-dockerd.js';
import { diagnostics, EXT_NAME, scenario } from '../support/e2e-diagnostics.js';
import { openHarnessSession, type HarnessSession, type HarnessStep, type HarnessStepName, type HarnessSummary, type SessionRunOptions, vmSuiteSkip } from '../support/vm/harness.js';
import { startVm, type Vm, type VmSuite } from '../support/vm/vm.js';

const keepVms = process.env.ADX_E2E_KEEP === '1';
const skipped = vmSuiteSkip('(e2e) distro matrix', { harness: true });
const d = skipped ? describe.skip : describe;
const V = '1.0.0';
const DAEMON_JSON = '/etc/docker/daemon.json';

interface Distro {
  suite: VmSuite;
  debian: string;
  engine: RegExp;
  agent: RegExp;
  /** dockerd has --validate (Docker 23 and later). */
  validates: boolean;
  /** Only what differs per distribution (vm-e2e.test.ts covers the rest on Debian 12). */
  lean: boolean;
}
const DISTROS: Distro[] = [
  { suite: 'bullseye', debian: '11', engine: /^20\.10\.5\+/, agent: /^2\.7\.3/, validates: false, lean: false },
  { suite: 'bookworm', debian: '12', engine: /^20\.10\.24\+/, agent: /^2\.7\.3/, validates: false, lean: true },
  { suite: 'trixie', debian: '13', engine: /^26\.1\.5\+/, agent: /^2\.12\./, validates: true, lean: false },
];

const PUB1 = { docker: { port: TLS_PORT, options: ['--log-level', 'info'] } };
// --log-level is restart-only (moby's reload does not apply it): exactly one restart is due
const PUB2 = { docker: { port: TLS_PORT, options: ['--log-level', 'warn'] } };
// a value our option mapping passes (any string) and only dockerd judges
const PUB_BAD = { docker: { port: TLS_PORT, options: ['--log-level', 'verbose'] } };

interface DistroFigures {
  engine?: string;
  agent?: string;
  bootMs?: number;
  installEnableS?: number;
  validation?: string;
  /** The enable's error when dockerd --validate refused a value (Debian 13). */
  refusal?: string;
  wallS?: number;
}

const secs = (ms: number) => Math.round(ms / 100) / 10;

d(`(e2e) distro matrix: Debian 11, 12 and 13 one after another${skipped ? ` [skipped: ${skipped}]` : ''}`, () => {
  const t0 = Date.now();
  const figures: { startedAt: string; totalWallS?: number; buildS?: number; distros: Record<string, DistroFigures> } = { startedAt: new Date(t0).toISOString(), distros: {} };
  let work: string;
  let certs: E2eCerts;
  let zipPath: string;

  beforeAll(async () => {
    const b0 = Date.now();
    work = mkdtempSync(path.join(tmpdir(), 'adx-matrix-'));
    certs = makeE2eCerts(path.join(work, 'certs'));
    ({ zipPath } = await buildPackage({ outDir: path.join(work, 'out'), arch: 'x64', build: false }));
    figures.buildS = secs(Date.now() - b0);
  }, 10 * 60_000);

  afterAll(() => {
    figures.totalWallS = secs(Date.now() - t0);
    const dir = path.join(tmpdir(), 'adx-e2e-results');
    try {
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'vm-distro-matrix-figures.json'), JSON.stringify(figures, null, 2));
    } catch {
      /* figures are a by-product */
    }
    console.log(
      [
        `VM distro matrix figures (${path.join(dir, 'vm-distro-matrix-figures.json')}):`,
        ...DISTROS.map((x) => {
          const f = figures.distros[x.debian] ?? {};
          return `  Debian ${x.debian} (${x.suite}${x.lean ? ', lean' : ''}): docker.io ${f.engine ?? '-'}, agent ${f.agent ?? '-'}, wall ${f.wallS ?? '-'} s (VM boot ${f.bootMs ?? '-'} ms, install_enable ${f.installEnableS ?? '-'} s); validation: ${f.validation ?? '-'}`;
        }),
        ...Object.entries(figures.distros).flatMap(([k, f]) => (f.refusal ? [`  Debian ${k} refused by dockerd --validate: ${f.refusal}`] : [])),
        `  total wall time: ${figures.totalWallS} s (package build ${figures.buildS} s)`,
      ].join('\n'),
    );
    if (work) rmSync(work, { recursive: true, force: true });
  });

  for (const distro of DISTROS) {
    describe(`Debian ${distro.debian} (${distro.suite})`, () => {
      const f: DistroFigures = (figures.distros[distro.debian] = {});
      let d0 = 0;
      let vm: Vm | undefined;
      let session: HarnessSession | undefined;
      let last: HarnessSummary | undefined;
      const scenarioStep = scenario(() => diagnostics(vm, session, last), `Debian ${distro.debian}`).step;

      /** A scenario step: after an earlier step of this distribution failed it fails at once, naming that step. */
      function step(name: string, timeoutMs: number, fn: () => Promise<void>, o: { full?: boolean; validates?: boolean } = {}): void {
        if (o.full && distro.lean) return;
        if (o.validates && !distro.validates) return;
        scenarioStep(name, timeoutMs, fn);
      }
      const agent = async (name: HarnessStepName, o?: SessionRunOptions): Promise<HarnessStep> => {
        last = undefined;
        last = await session!.run(name, o);
        expect(last.steps).toHaveLength(1);
        return last.steps[0]!;
      };
      const cmdLine = (s: HarnessStep) => s.commands.map((c) => `${c.cmd_name}=${c.timed_out ? 'TIMEOUT' : c.exit_code}`);
      const enableOutput = (s: HarnessStep) => s.commands.find((c) => c.cmd_name === 'enable')?.output ?? '';
      const expectServes = (c: TlsChecks) => {
        expect({ goodClient: c.goodClient.ok, localSocket: c.localSocket.ok, noClientCert: c.noClientCert.ok, otherCaClient: c.otherCaClient.ok, why: c }).toMatchObject({
          goodClient: true,
          localSocket: true,
          noClientCert: false,
          otherCaClient: false,
        });
      };

      beforeAll(async () => {
        d0 = Date.now();
        vm = await startVm({ suite: distro.suite, log: process.env.ADX_E2E_VERBOSE ? (l) => process.stderr.write(l) : undefined });
        f.bootMs = vm.bootMs;
        session = await openHarnessSession(vm, {
          handler: { hostZip: zipPath },
          name: EXT_NAME,
          version: V,
          publicSettings: PUB1,
          protectedSettings: { certs: certsSetting(certs, 'pem') },
          waitTerminalS: 600,
        });
        await copyClientCerts(vm, { ca: certs.ca.cert, clientCert: certs.client.cert, clientKey: certs.client.key, otherClientCert: certs.otherClient.cert, otherClientKey: certs.otherClient.key });
      }, 20 * 60_000);

      afterAll(async () => {
        await session?.close().catch(() => undefined);
        // one VM at a time on this host: removed before the next distribution boots
        if (!keepVms) await vm?.remove().catch(() => undefined);
        f.wallS = secs(Date.now() - d0);
      }, 5 * 60_000);

      step('1 install_enable: apt installs docker.io, the agent reports success, mutual TLS serves', 15 * 60_000, async () => {
        expect(await vm!.check('. /etc/os-release && echo "$ID $VERSION_ID"')).toBe(`debian ${distro.debian}\n`);
        const s = await agent('install_enable');
        expect(cmdLine(s)).toEqual(['install=0', 'enable=0']);
        expect(last!.problems).toEqual([]);
        f.agent = last!.agent?.version;
        expect(f.agent).toMatch(distro.agent);
        expect(s.agent_status?.extension_status).toMatchObject({ status: 'success', operation: 'Enable' });
        f.installEnableS = s.elapsed_s ?? undefined;
        f.engine = await vm!.check(['dpkg-query', '-W', '-f', '${Version}', 'docker.io']);
        expect(f.engine).toMatch(distro.engine);
        expect(JSON.parse(await vm!.readFile(DAEMON_JSON))).toMatchObject({ tlsverify: true, 'log-level': 'info', 'live-restore': true });
        expectServes(await tlsChecks(vm!));
      });

      step('2 the dry run in the VM plans the validation step: dockerd --validate on 23+, skipped and said so on 20.10', 2 * 60_000, async () => {
        const ext = `${session!.dir}/work/lib/${EXT_NAME}-${V}`;
        await vm!.writeFile('/root/dry/pub.json', JSON.stringify(PUB2));
        await vm!.writeFile('/root/dry/prot.json', JSON.stringify({ certs: certsSetting(certs, 'pem') }), '0600');
        const out = await vm!.check(['sh', `${ext}/scripts/handler.sh`, 'enable', '--dry-run', '--public', '/root/dry/pub.json', '--protected', '/root/dry/prot.json'], { cwd: ext });
        await vm!.check(['rm', '-rf', '/root/dry']);
        const line = out.split('\n').find((l) => l.includes('dockerd') && l.includes('--validate')) ?? '';
        f.validation = line.replace(/^\s*\d+\.\s*/, '');
        if (distro.validates) expect(line).toMatch(/check the new \/etc\/docker\/daemon\.json with dockerd 26\.1\.5\S* --validate: /);
        else expect(line).toMatch(/check the new \/etc\/docker\/daemon\.json with dockerd --validate: skipped, dockerd 20\.10\.\S+ has no --validate \(Docker 23\.0 and later have it\)/);
      });

      step('3 reenable_same_seq: already applied, dockerd not restarted', 5 * 60_000, async () => {
        const before = await dockerdFacts(vm!);
        const s = await agent('reenable_same_seq');
        expect(cmdLine(s)).toEqual(['enable=0']);
        expect(enableOutput(s)).toMatch(/already applied/);
        const after = await dockerdFacts(vm!);
        expect({ pid: after.mainPid, starts: after.systemdStarts }).toEqual({ pid: before.mainPid, starts: before.systemdStarts });
      });

      step(
        '4 a value only dockerd refuses (--log-level verbose): dockerd --validate stops it before any write, no restart',
        5 * 60_000,
        async () => {
          const before = await dockerdFacts(vm!);
          const djBefore = await vm!.readFile(DAEMON_JSON);
          const s = await agent('enable_new_seq', { publicSettings2: PUB_BAD });
          expect(cmdLine(s)).toEqual(['enable=0']);
          const status = s.agent_status?.extension_status;
          f.refusal = status?.message;
          expect(status).toMatchObject({ status: 'error', operation: 'Enable' });
          // dockerd's own reason, naming the value, and what was (not) done
          // (the path dockerd names is the real file's, not the copy's it was given)
          expect(status?.message).toMatch(
            /dockerd 26\.1\.5\S* refused the new \/etc\/docker\/daemon\.json \(log-level changed\): unable to configure the Docker daemon with file \/etc\/docker\/daemon\.json: merged configuration validation from file and command line flags failed: invalid logging level: verbose\. Correct the setting .*Nothing was written/,
          );
          expect(await vm!.readFile(DAEMON_JSON)).toBe(djBefore);
          expect(await vm!.check(['find', '/var/lib', '-xdev', '-type', 'd', '-name', 'candidate'])).toBe(''); // the copies dockerd checked are gone
          const after = await dockerdFacts(vm!);
          expect({ pid: after.mainPid, starts: after.systemdStarts, active: after.activeState }).toEqual({ pid: before.mainPid, starts: before.systemdStarts, active: 'active' });
          expectServes(await tlsChecks(vm!));
        },
        { validates: true },
      );

      step('5 a new sequence number with a changed restart-only setting: exactly one dockerd restart', 5 * 60_000, async () => {
        const before = await dockerdFacts(vm!);
        const s = await agent('enable_new_seq', { publicSettings2: PUB2 });
        expect(cmdLine(s)).toEqual(['enable=0']);
        expect(s.agent_status?.extension_status).toMatchObject({ status: 'success', operation: 'Enable' });
        expect(s.agent_status?.extension_status?.message).toMatch(/restarted/);
        expect(JSON.parse(await vm!.readFile(DAEMON_JSON))['log-level']).toBe('warn');
        const after = await dockerdFacts(vm!);
        expect(after.mainPid).not.toBe(before.mainPid);
        expect(after.systemdStarts - before.systemdStarts).toBe(1);
        expectServes(await tlsChecks(vm!));
      }, { full: true });

      step('6 reboot and the agent\'s re-enable: TLS serves again, the re-enable restarts nothing', 10 * 60_000, async () => {
        let boot: Awaited<ReturnType<typeof dockerdFacts>> | undefined;
        last = undefined;
        const r = await session!.rebootAndReenable({ afterBoot: async () => void (boot = await waitDockerdActive(vm!)) });
        last = r.summary;
        expect(r.summary.steps).toHaveLength(1);
        const s = r.summary.steps[0]!;
        expect(cmdLine(s)).toEqual(['enable=0']);
        expect(enableOutput(s)).toMatch(/already applied/);
        expect(boot?.activeState).toBe('active');
        expect((await dockerdFacts(vm!)).mainPid).toBe(boot!.mainPid);
        expectServes(await tlsChecks(vm!));
      }, { full: true });

      step('7 uninstall: the TCP listener is gone, the local socket serves', 5 * 60_000, async () => {
        const s = await agent('uninstall');
        expect(cmdLine(s)).toEqual(['disable=0', 'uninstall=0']);
        expect(last!.problems).toEqual([]);
        expect(await listeners(vm!)).toEqual([]);
        const c = await tlsChecks(vm!);
        expect({ localSocket: c.localSocket.ok, goodClient: c.goodClient.ok }).toEqual({ localSocket: true, goodClient: false });
      });
    });
  }
});
