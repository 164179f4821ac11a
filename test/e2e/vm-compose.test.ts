// (e2e) The compose project in a systemd VM under the real agent (the harness), from the packaged zip, on each
// Debian the handler installs a different compose for, one VM after the other: Debian 11's docker-compose 1.25.0
// and 12's 1.29.2 (compose v1; a v1 document is written for them as file format 2.4), Debian 13's 2.26.1 (v2).
// Each VM is provisioned as Azure does it: an admin user (azureuser) named in the agent's ovf-env.xml. The
// compose service's image is private: it is in a real registry (Debian's docker-registry, TLS with a CA made at
// test time, htpasswd) that listens on this machine's address on the VMs' bridge; the VM trusts its CA in
// /etc/docker/certs.d, as an admin sets it up, and the protected "login" gives the handler the credentials, so
// compose pulls the image with the login of the same enable. Each VM:
//
//   1 install_enable without compose or login: docker.io installed and serving; the admin user added to the
//     docker group (no warning about it) and able to run docker
//   2 a new configuration with "compose" (file format v1, as the old extension's users wrote it) and "login":
//     root and the admin user logged in (config.json 0600, each their own), the distro's compose installed, the
//     document converted, the private image pulled, up -d; the status names the compose and its version
//   3 a new configuration with the same settings: nothing recreated (ids, start times), not logged in again
//   4 reboot and the agent's re-enable: the containers come back by their restart policy, the re-enable
//     recreates nothing and does not log in again
//   5 a new configuration changing only compose-environment: up -d again, the container recreated
//   6 a new configuration without "compose": the project down, its file gone
//   7 the registry password, sampled in every VM process's argv and environment from step 2 on, is in no
//     process, status, handler log or journal, and on disk only in the docker clients' config.json
//   ADX_E2E=0 skips it; ADX_E2E_KEEP=1 keeps the VMs. Each VM's wall time is in the printed figures.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { buildPackage } from '../../scripts/package-lib.mjs';
import { startVmCanarySampler, vmCanaryReport } from '../support/e2e-canaries.js';
import { diagnostics, handlerLogPath, onlyStep, scenario } from '../support/e2e-diagnostics.js';
import { startRegistry, uploadBusybox, type TestRegistry } from '../support/registry.js';
import { describeHits, scanCanaryText } from '../support/secret-canary.js';
import { openHarnessSession, type HarnessSession, type HarnessStep, type HarnessSummary, vmSuiteSkip } from '../support/vm/harness.js';
import { startVm, vmNetworkHostAddress, type Vm } from '../support/vm/vm.js';

const keepVms = process.env.ADX_E2E_KEEP === '1';
const skipped = vmSuiteSkip('(e2e) compose project', { harness: true });
const d = skipped ? describe.skip : describe;
const V = '1.0.0';
const EXT = 'Microsoft.Azure.Extensions.DockerExtension';

const ADMIN = 'azureuser';
const REG_USER = 'adx-e2e-puller';
// A canary: looked for in every process, status, log and the journal of each VM.
const PASSWORD = `pw-${randomBytes(6).toString('hex')}-regcanary`;

// File format v1 (services at the top level); ${SLEEP} from compose-environment; back after a reboot.
const composeOf = (image: string) => ({ sleeper: { image, command: ['/bin/busybox', 'sleep', '${SLEEP}'], restart: 'always' } });

interface Container {
  id: string;
  startedAt: string;
  args: string[];
  running: boolean;
}

const cases = [
  { suite: 'bullseye' as const, distro: 'debian 11', compose: /^docker-compose 1\.25\.0$/ },
  { suite: 'bookworm' as const, distro: 'debian 12', compose: /^docker-compose 1\.29\.2$/ },
  // Debian 13's docker-compose ships the binary and the CLI plugin: found as either.
  { suite: 'trixie' as const, distro: 'debian 13', compose: /^docker[- ]compose 2\.26\.1$/ },
];

d(`(e2e) compose project with a registry login and the admin user on Debian 11, 12 (v1) and 13 (v2)${skipped ? ` [skipped: ${skipped}]` : ''}`, () => {
  let work: string;
  let zipPath: string;
  let reg: TestRegistry | undefined;
  let image: string;
  const figures: Record<string, Record<string, number>> = {};
  const login = () => ({ server: `https://${reg!.host}`, username: REG_USER, password: PASSWORD });
  const withCompose = (sleep: string) => ({ compose: composeOf(image), 'compose-environment': { SLEEP: sleep } });

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'adx-compose-'));
    ({ zipPath } = await buildPackage({ outDir: path.join(work, 'out'), arch: 'x64', build: true }));
    // One registry for the three VMs, where they reach this machine; the image is uploaded once, over its API
    // (no dockerd here trusts the registry's CA: a dockerd reads that only from its own /etc/docker).
    reg = await startRegistry({ [REG_USER]: PASSWORD }, { address: await vmNetworkHostAddress() });
    image = await uploadBusybox(reg, REG_USER, PASSWORD);
  }, 10 * 60_000);

  afterAll(async () => {
    console.log(`compose VM figures (s): ${JSON.stringify(figures)}`);
    await reg?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  for (const c of cases) {
    describe(c.suite, () => {
      let vm: Vm | undefined;
      let session: HarnessSession | undefined;
      let last: HarnessSummary | undefined;
      const fig: Record<string, number> = (figures[c.suite] = {});
      const { step } = scenario(() => diagnostics(vm, session, last));
      // Every status the agent read, for the canary scan of step 7.
      let published = '';
      const message = (s: HarnessStep) => {
        const m = JSON.stringify(s.agent_status?.extension_status ?? {});
        published += `${m}\n`;
        return m;
      };
      let t0Vm = 0;
      const configOf = async (file: string) => ({
        mode: await vm!.check(['stat', '-c', '%a %U', file]),
        // the registries only: the file holds the credentials
        auths: Object.keys((JSON.parse(await vm!.readFile(file)) as { auths?: object }).auths ?? {}),
      });
      const asAdmin = (command: string) => vm!.exec(['runuser', '-l', ADMIN, '-c', command]);
      const containers = async (): Promise<Container[]> => {
        const ids = (await vm!.check(['docker', 'ps', '-aq', '--no-trunc', '--filter', 'label=com.docker.compose.project=compose'])).split('\n').filter(Boolean);
        if (!ids.length) return [];
        const raw = JSON.parse(await vm!.check(['docker', 'inspect', ...ids])) as { Id: string; Args: string[]; State: { StartedAt: string; Running: boolean } }[];
        return raw.map((x) => ({ id: x.Id, startedAt: x.State.StartedAt, args: x.Args, running: x.State.Running }));
      };
      const newSeq = async (pub: Record<string, unknown>, what: string) => {
        const t0 = Date.now();
        last = await session!.run('enable_new_seq', { publicSettings2: pub, protectedSettings2: { environment: { DB_PASSWORD: 'adx-compose-vm-canary' }, login: login() } });
        fig[what] = Math.round((Date.now() - t0) / 100) / 10;
        const s = onlyStep(last);
        expect(s.agent_status?.extension_status).toMatchObject({ status: 'success', operation: 'Enable' });
        expect(message(s)).not.toMatch(/not added to the docker group/);
        return s;
      };

      beforeAll(async () => {
        const t0 = (t0Vm = Date.now());
        vm = await startVm({ suite: c.suite, log: process.env.ADX_E2E_VERBOSE ? (l) => process.stderr.write(l) : undefined });
        session = await openHarnessSession(vm, { handler: { hostZip: zipPath }, name: EXT, version: V, publicSettings: {}, protectedSettings: {}, waitTerminalS: 900, adminUser: ADMIN });
        fig['vmStart'] = Math.round((Date.now() - t0) / 100) / 10;
      }, 20 * 60_000);

      afterAll(async () => {
        if (t0Vm) fig['vmTotal'] = Math.round((Date.now() - t0Vm) / 100) / 10;
        await vm?.exec(['systemctl', 'stop', 'adx-e2e-canary-sampler']).catch(() => undefined);
        await session?.close().catch(() => undefined);
        if (!keepVms) await vm?.remove();
      }, 5 * 60_000);

      step('1 install_enable without compose or login: docker.io serves; the admin user is in the docker group and runs docker', 20 * 60_000, async () => {
        expect(await vm!.check('. /etc/os-release && echo "$ID $VERSION_ID"')).toBe(`${c.distro}\n`);
        const t0 = Date.now();
        last = await session!.run('install_enable');
        fig['installEnable'] = Math.round((Date.now() - t0) / 100) / 10;
        expect(onlyStep(last).commands.map((x) => `${x.cmd_name}=${x.exit_code}`)).toEqual(['install=0', 'enable=0']);
        expect(onlyStep(last).agent_status?.extension_status).toMatchObject({ status: 'success' });
        const status = message(onlyStep(last));
        expect(status).toContain(`the VM's admin user ${ADMIN} added to the docker group`);
        expect(status).not.toMatch(/not added to the docker group/);
        expect((await vm!.check(['id', '-nG', ADMIN])).trim().split(' ')).toContain('docker');
        const version = await asAdmin("docker version --format '{{.Server.Version}}'");
        expect(version).toMatchObject({ exitCode: 0 });
        expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
        // The engine's install brings no compose: the compose step installs the distro's.
        expect((await vm!.exec(['sh', '-c', 'command -v docker-compose || docker compose version'])).exitCode).not.toBe(0);
        // The admin trusts the private registry's CA, as docker documents it; the VM reaches the registry (401:
        // it wants credentials).
        await vm!.writeFile(`/etc/docker/certs.d/${reg!.host}/ca.crt`, reg!.caPem);
        const ping = await vm!.exec(['curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', `/etc/docker/certs.d/${reg!.host}/ca.crt`, `https://${reg!.host}/v2/`]);
        expect(`${ping.stdout}${ping.stderr}`).toBe('401');
      });

      step('2 "compose" (v1 format) and "login": both users logged in, the distro\'s compose installed, the private image pulled, up -d', 20 * 60_000, async () => {
        await startVmCanarySampler(vm!, [PASSWORD]);
        const s = await newSeq(withCompose('86400'), 'composeUp');
        const status = message(s);
        expect(status).toContain(`root and ${ADMIN} logged in to ${reg!.host} (credentials checked by dockerd, stored in /root/.docker/config.json and /home/${ADMIN}/.docker/config.json)`);
        expect(status).toMatch(/compose file format v1/);
        const line = /project compose \(sleeper\) with ([^:]+): up -d ran \(the compose project is new\)/.exec(status);
        expect(line?.[1]).toMatch(c.compose);
        expect(await vm!.check(['stat', '-c', '%a %U', '/etc/docker/compose/docker-compose.yml'])).toBe('600 root\n');
        expect(JSON.parse(await vm!.readFile('/etc/docker/compose/docker-compose.yml'))).toEqual({ version: '2.4', services: composeOf(image) });
        const [ct, ...more] = await containers();
        expect(more).toEqual([]);
        expect(ct).toMatchObject({ running: true, args: ['sleep', '86400'] });
        expect(status).not.toContain('adx-compose-vm-canary');
        expect(status).not.toContain('DB_PASSWORD');
        // Where each client finds its credentials: root's and the admin user's own, 0600.
        expect(await configOf('/root/.docker/config.json')).toEqual({ mode: '600 root\n', auths: [reg!.host] });
        expect(await configOf(`/home/${ADMIN}/.docker/config.json`)).toEqual({ mode: `600 ${ADMIN}\n`, auths: [reg!.host] });
        // Both pull the private image with them (a pull asks the registry even for an image already here).
        expect(await vm!.exec(['env', 'HOME=/root', 'docker', 'pull', '-q', image])).toMatchObject({ exitCode: 0 });
        expect(await asAdmin(`docker pull -q ${image}`)).toMatchObject({ exitCode: 0 });
      });

      step('3 the same settings in a new configuration: nothing recreated, not logged in again', 10 * 60_000, async () => {
        const before = await containers();
        const s = await newSeq(withCompose('86400'), 'unchangedEnable');
        expect(message(s)).toMatch(/project compose unchanged and running; nothing recreated/);
        expect(message(s)).toContain(`root and ${ADMIN} logged in to ${reg!.host} (unchanged; not logged in again)`);
        expect(await containers()).toEqual(before);
      });

      step('4 reboot: the container comes back by its restart policy; the agent\'s re-enable recreates nothing and does not log in again', 10 * 60_000, async () => {
        const before = await containers();
        let atBoot: Container[] = [];
        const t0 = Date.now();
        const { summary } = await session!.rebootAndReenable({
          afterBoot: async () => {
            await startVmCanarySampler(vm!);
            for (let i = 0; i < 60; i++) {
              atBoot = await containers().catch(() => []);
              if (atBoot[0]?.running) break;
              await new Promise((r) => setTimeout(r, 1000));
            }
          },
        });
        fig['rebootAndReenable'] = Math.round((Date.now() - t0) / 100) / 10;
        last = summary;
        expect(onlyStep(summary).agent_status?.extension_status).toMatchObject({ status: 'success' });
        expect(message(onlyStep(summary))).toContain(`root and ${ADMIN} logged in to ${reg!.host} (unchanged; not logged in again)`);
        expect(message(onlyStep(summary))).not.toMatch(/not added to the docker group/);
        expect(atBoot.map((x) => x.id)).toEqual(before.map((x) => x.id));
        expect(atBoot[0]?.running).toBe(true);
        expect(await containers()).toEqual(atBoot);
      });

      step('5 only compose-environment changed: up -d again, the container recreated with the new value', 10 * 60_000, async () => {
        const before = await containers();
        const s = await newSeq(withCompose('86401'), 'environmentChanged');
        expect(message(s)).toMatch(/up -d ran \(the compose environment changed\)/);
        const [ct] = await containers();
        expect(ct).toMatchObject({ running: true, args: ['sleep', '86401'] });
        expect(ct!.id).not.toBe(before[0]!.id);
      });

      step('6 "compose" removed: the project down, its file and directory gone', 10 * 60_000, async () => {
        const s = await newSeq({}, 'composeRemoved');
        expect(message(s)).toMatch(/project compose taken down/);
        expect(await containers()).toEqual([]);
        expect((await vm!.exec(['test', '-e', '/etc/docker/compose'])).exitCode).not.toBe(0);
      });

      step('7 the registry password: in no process, status, handler log or journal; on disk only in the docker clients\' config.json', 5 * 60_000, async () => {
        const report = await vmCanaryReport(vm!);
        fig['canaryRounds'] = report.processRounds;
        expect(report.processRounds).toBeGreaterThan(10);
        // root's config.json holds base64(user:password), docker's format (the admin's, under /home, is not
        // scanned): found there, it shows the scan finds the password where it is
        expect(report.fileHits).toContain('/root/.docker/config.json');
        expect({ ...report, processRounds: 0, fileHits: report.fileHits.filter((f) => f !== '/root/.docker/config.json') }).toEqual({ processRounds: 0, processHits: [], fileHits: [], journalHits: 0 });
        const log = await vm!.readFile(handlerLogPath(session!));
        // the log the scan read is the one that recorded the logins
        expect(log).toContain(`"registry-login ${ADMIN}"`);
        expect(describeHits([...scanCanaryText(published, [PASSWORD], 'statuses'), ...scanCanaryText(log, [PASSWORD], 'handler.log')])).toBe('');
      });
    });
  }
});
