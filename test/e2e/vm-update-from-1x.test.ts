// (e2e) The in-place update from the retired DockerExtension 1.x to this version, under the REAL agent code, in
// one VM (Debian 12, systemd as PID 1). A stand-in 1.x package (test/support/legacy-1x: 1.x's manifest and
// commands) is installed and enabled first: it installs docker.io, writes its certificates to /etc/docker,
// rewrites the vendor unit's ExecStart in place and writes its compose file, as 1.x did. Then the admin's
// move to the new typeHandlerVersion, the agent's update step: 1.x's disable (`systemctl stop docker`), our
// update, 1.x's uninstall (`apt-get purge docker-engine`: fails, no such package), our install, our enable.
// Our manifest's continueOnUpdateFailure lets the agent go past that failure; our enable brings dockerd back,
// serves our configuration (mutual TLS on 2376 from the settings), adopts 1.x's compose project (the settings
// still carry "compose": Debian's docker-compose installed, the same file and project name) and reports its
// own status, naming what it did with 1.x's leftovers.
//   NODE_OPTIONS=--experimental-vm-modules npx jest test/e2e/vm-update-from-1x.test.ts
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPackage } from '../../scripts/package-lib.mjs';
import { busyboxImageTar, IMAGE } from '../support/busybox-container.js';
import { certsSetting, makeE2eCerts, type E2eCerts } from '../support/e2e-certs.js';
import { copyClientCerts, dockerdFacts, listeners, tlsChecks, TLS_PORT } from '../support/e2e-dockerd.js';
import { diagnostics, EXT_NAME, withDiagnostics } from '../support/e2e-diagnostics.js';
import { openHarnessSession, type HarnessSession, type HarnessStep, type HarnessSummary, vmSuiteSkip } from '../support/vm/harness.js';
import { startVm, type Vm } from '../support/vm/vm.js';

const skipped = vmSuiteSkip('(e2e) update from DockerExtension 1.x', { harness: true });
const d = skipped ? describe.skip : describe;

const LEGACY_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../support/legacy-1x');
const OLD = '1.2.2';
const NEW = '2.0.0';
// The VM reaches no registry: the image is Debian's busybox-static, imported into the VM's dockerd
// before our enable adopts 1.x's project (compose pulls only missing images).
const COMPOSE = { web: { image: IMAGE, command: ['/bin/busybox', 'sleep', '3600'] } };
const LEGACY_EXECSTART = `ExecStart=/usr/sbin/dockerd -H=fd:// --tlsverify --tlscacert=/etc/docker/ca.pem --tlscert=/etc/docker/cert.pem --tlskey=/etc/docker/key.pem -H=0.0.0.0:${TLS_PORT}`;

d(`(e2e) update from DockerExtension 1.x to this version under the real agent${skipped ? ` [skipped: ${skipped}]` : ''}`, () => {
  const t0 = Date.now();
  let work: string;
  let certs: E2eCerts;
  let vm: Vm | undefined;
  let session: HarnessSession | undefined;
  let last: HarnessSummary | undefined;
  const explain = () => diagnostics(vm, session, last);
  const cmdLine = (s: HarnessStep) => s.commands.map((c) => `${c.cmd_name}@${c.handler_version}=${c.timed_out ? 'TIMEOUT' : c.exit_code}`);
  const cmd = (s: HarnessStep, name: string) => s.commands.find((c) => c.cmd_name === name);

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'adx-vm-1x-'));
    certs = makeE2eCerts(path.join(work, 'certs'));
    const { zipPath } = await buildPackage({ outDir: path.join(work, 'out'), arch: 'x64', build: false });
    vm = await startVm({ log: process.env.ADX_E2E_VERBOSE ? (l) => process.stderr.write(l) : undefined });
    session = await openHarnessSession(vm, {
      handler: { hostDir: LEGACY_DIR },
      updateHandler: { hostZip: zipPath },
      name: EXT_NAME,
      version: OLD,
      updateVersion: NEW,
      // the port as the old extension's templates wrote it: a string; the same settings reach 1.x and us
      publicSettings: { docker: { port: String(TLS_PORT) }, compose: COMPOSE },
      protectedSettings: { certs: certsSetting(certs, 'base64') }, // 1.x's form
      waitTerminalS: 600,
    });
  }, 20 * 60_000);

  afterAll(async () => {
    console.log(`update from 1.x: suite wall time ${Math.round((Date.now() - t0) / 100) / 10} s`);
    await session?.close().catch(() => undefined);
    if (process.env.ADX_E2E_KEEP !== '1') await vm?.remove().catch(() => undefined);
    if (work) rmSync(work, { recursive: true, force: true });
  }, 120_000);

  test('1.x enabled, then updated by the agent: dockerd back, our configuration served, our own status, 1.x leftovers handled and named', async () => {
    await withDiagnostics(async () => {
      // ------------------------------------------------------------------ the stand-in 1.x, installed and enabled
      last = await session!.run('install_enable');
      const first = last.steps[0]!;
      expect(first.agent_status?.extension_status).toMatchObject({ status: 'success', operation: 'Enable Docker' });
      expect(await vm!.readFile('/lib/systemd/system/docker.service')).toContain(LEGACY_EXECSTART);
      expect((await vm!.check(['stat', '-c', '%a', '/etc/docker/ca.pem', '/etc/docker/cert.pem', '/etc/docker/key.pem'])).trim().split('\n')).toEqual(['600', '600', '600']);
      expect(await vm!.readFile('/etc/docker/compose/docker-compose.yml')).toContain('busybox');
      expect((await listeners(vm!)).join('\n')).toMatch(new RegExp(`:${TLS_PORT}\\b`));
      expect((await dockerdFacts(vm!)).activeState).toBe('active');
      await vm!.copyIn(busyboxImageTar(work), '/root/busybox.tar');
      await vm!.check(['docker', 'import', '/root/busybox.tar', IMAGE]);

      // ------------------------------------------------------------------ the agent's update to our package
      last = await session!.run('update');
      const s = last.steps[0]!;
      // 1.x's uninstall fails (apt-get: no docker-engine → logFail exits 1); the agent goes on because our
      // manifest says continueOnUpdateFailure, and hands the exit code to our install and enable.
      expect(cmdLine(s)).toEqual([`disable@${OLD}=0`, `update@${NEW}=0`, `uninstall@${OLD}=1`, `install@${NEW}=0`, `enable@${NEW}=0`]);
      expect(cmd(s, 'enable')?.env?.['AZURE_GUEST_AGENT_UNINSTALL_CMD_EXIT_CODE']).toBe('1');
      expect(s.agent_status).toMatchObject({ handlerVersion: NEW, status: 'Ready' });
      expect(s.handler_dirs).toEqual([`${EXT_NAME}-${NEW}`]);
      // our enable's own status (1.x's operation name is "Enable Docker"; ours is "Enable"), with 1.x's leftovers named
      const ext = s.agent_status?.extension_status;
      expect(ext).toMatchObject({ status: 'success', operation: 'Enable' });
      expect(ext?.message).toMatch(/started \(dockerd is not running\)/); // 1.x's disable had stopped it
      expect(ext?.message).toMatch(/DockerExtension 1\.x had rewritten ExecStart in (\/usr)?\/lib\/systemd\/system\/docker\.service; the extension's drop-in replaces it; its listener tcp:\/\/0\.0\.0\.0:2376 is kept, served with the certificates from the settings/);
      expect(ext?.message).toMatch(/\/etc\/docker\/compose\/docker-compose\.yml, the compose file DockerExtension 1\.x wrote, is replaced by the "compose" setting; its project "compose" is adopted/);
      expect(ext?.message).toMatch(/project compose \(web\) with docker-compose 1\.29\.2: up -d ran/);
      expect(cmd(s, 'enable')?.output).not.toMatch(/already applied/);

      // ------------------------------------------------------------------ dockerd serves our configuration
      const facts = await dockerdFacts(vm!);
      expect(facts.activeState).toBe('active');
      expect((await vm!.readFile(`/proc/${facts.mainPid}/cmdline`)).split('\0').filter(Boolean)).toEqual(['/usr/sbin/dockerd']); // 1.x's flags gone
      const dropIn = await vm!.readFile('/etc/systemd/system/docker.service.d/10-azure-docker-extension.conf');
      expect(dropIn).toMatch(/^ExecStart=$/m);
      const dj = JSON.parse(await vm!.readFile('/etc/docker/daemon.json')) as Record<string, unknown>;
      expect(dj).toMatchObject({ hosts: ['fd://', `tcp://0.0.0.0:${TLS_PORT}`], tlsverify: true, tlscacert: '/etc/docker/ca.pem', 'live-restore': true });
      expect(ext?.message).not.toMatch(/docker\.port/); // "2376" is taken as the port it always was, without a warning
      expect(await vm!.readFile('/etc/docker/ca.pem')).toBe(certs.ca.cert);
      expect(await vm!.readFile('/etc/docker/cert.pem')).toBe(certs.server.cert);
      expect((await vm!.check(['stat', '-c', '%a', '/etc/docker/ca.pem', '/etc/docker/cert.pem', '/etc/docker/key.pem'])).trim().split('\n')).toEqual(['644', '644', '600']);
      expect(JSON.parse(await vm!.readFile('/etc/docker/compose/docker-compose.yml'))).toEqual({ version: '2.4', services: COMPOSE }); // adopted, converted to file format 2.4
      expect(await vm!.check(['docker', 'ps', '--filter', 'label=com.docker.compose.project=compose', '--format', '{{.Names}} {{.State}}'])).toMatch(/^compose_web_1 running$/m);
      await copyClientCerts(vm!, { ca: certs.ca.cert, clientCert: certs.client.cert, clientKey: certs.client.key, otherClientCert: certs.otherClient.cert, otherClientKey: certs.otherClient.key });
      const c = await tlsChecks(vm!);
      expect({ goodClient: c.goodClient.ok, curlGood: c.curlGood.ok, localSocket: c.localSocket.ok, noClientCert: c.noClientCert.ok, otherCaClient: c.otherCaClient.ok, why: c }).toMatchObject({
        goodClient: true,
        curlGood: true,
        localSocket: true,
        noClientCert: false,
        otherCaClient: false,
      });

      // ------------------------------------------------------------------ the agent's re-enable: nothing left to do
      last = await session!.run('reenable_same_seq');
      const again = last.steps[0]!;
      expect(cmdLine(again)).toEqual([`enable@${NEW}=0`]);
      expect(cmd(again, 'enable')?.output).toMatch(/already applied/);
      expect((await dockerdFacts(vm!)).mainPid).toBe(facts.mainPid);
    }, explain);
  }, 30 * 60_000);
});
