// (e2e) The compose project in a systemd VM under the real agent (the harness), from the packaged zip: on
// Debian 12 the handler installs Debian's docker-compose 1.29.2 (compose v1), on Debian 13 docker-compose
// 2.26.1 (v2), one VM after the other. The VM reaches no registry: Debian's busybox-static is imported as the
// image before compose runs (compose pulls only missing images). Each VM:
//
//   1 install_enable without compose: docker.io installed and serving
//   2 a new configuration with "compose" (file format v1, as the old extension's users wrote it): the distro's
//     compose installed, the document converted, up -d; the status names the compose and its version
//   3 a new configuration with the same compose settings: nothing recreated (ids, start times)
//   4 reboot and the agent's re-enable: the containers come back by their restart policy, the re-enable
//     recreates nothing
//   5 a new configuration changing only compose-environment: up -d again, the container recreated
//   6 a new configuration without "compose": the project down, its file gone
//   ADX_E2E=0 skips it; ADX_E2E_KEEP=1 keeps the VMs.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { buildPackage } from '../../scripts/package-lib.mjs';
import { busyboxImageTar, IMAGE } from '../support/busybox-container.js';
import { diagnostics, onlyStep, scenario } from '../support/e2e-diagnostics.js';
import { openHarnessSession, type HarnessSession, type HarnessStep, type HarnessSummary, vmSuiteSkip } from '../support/vm/harness.js';
import { startVm, type Vm } from '../support/vm/vm.js';

const keepVms = process.env.ADX_E2E_KEEP === '1';
const skipped = vmSuiteSkip('(e2e) compose project', { harness: true });
const d = skipped ? describe.skip : describe;
const V = '1.0.0';
const EXT = 'Microsoft.Azure.Extensions.DockerExtension';

// File format v1 (services at the top level); ${SLEEP} from compose-environment; back after a reboot.
const COMPOSE = { sleeper: { image: IMAGE, command: ['/bin/busybox', 'sleep', '${SLEEP}'], restart: 'always' } };
const withCompose = (sleep: string) => ({ compose: COMPOSE, 'compose-environment': { SLEEP: sleep } });

interface Container {
  id: string;
  startedAt: string;
  args: string[];
  running: boolean;
}

const cases = [
  { suite: 'bookworm' as const, distro: 'debian 12', compose: /^docker-compose 1\.29\.2$/ },
  // Debian 13's docker-compose ships the binary and the CLI plugin: found as either.
  { suite: 'trixie' as const, distro: 'debian 13', compose: /^docker[- ]compose 2\.26\.1$/ },
];

d(`(e2e) compose project on Debian 12 (v1) and 13 (v2)${skipped ? ` [skipped: ${skipped}]` : ''}`, () => {
  let work: string;
  let zipPath: string;
  let imageTar: string;
  const figures: Record<string, Record<string, number>> = {};

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'adx-compose-'));
    ({ zipPath } = await buildPackage({ outDir: path.join(work, 'out'), arch: 'x64', build: true }));
    imageTar = busyboxImageTar(work);
  }, 10 * 60_000);

  afterAll(() => {
    console.log(`compose VM figures (s): ${JSON.stringify(figures)}`);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  for (const c of cases) {
    describe(c.suite, () => {
      let vm: Vm | undefined;
      let session: HarnessSession | undefined;
      let last: HarnessSummary | undefined;
      const fig: Record<string, number> = (figures[c.suite] = {});
      const { step } = scenario(() => diagnostics(vm, session, last));
      const message = (s: HarnessStep) => JSON.stringify(s.agent_status?.extension_status ?? {});
      const containers = async (): Promise<Container[]> => {
        const ids = (await vm!.check(['docker', 'ps', '-aq', '--no-trunc', '--filter', 'label=com.docker.compose.project=compose'])).split('\n').filter(Boolean);
        if (!ids.length) return [];
        const raw = JSON.parse(await vm!.check(['docker', 'inspect', ...ids])) as { Id: string; Args: string[]; State: { StartedAt: string; Running: boolean } }[];
        return raw.map((x) => ({ id: x.Id, startedAt: x.State.StartedAt, args: x.Args, running: x.State.Running }));
      };
      const newSeq = async (pub: Record<string, unknown>, what: string) => {
        const t0 = Date.now();
        last = await session!.run('enable_new_seq', { publicSettings2: pub, protectedSettings2: { environment: { DB_PASSWORD: 'adx-compose-vm-canary' } } });
        fig[what] = Math.round((Date.now() - t0) / 100) / 10;
        const s = onlyStep(last);
        expect(s.agent_status?.extension_status).toMatchObject({ status: 'success', operation: 'Enable' });
        return s;
      };

      beforeAll(async () => {
        const t0 = Date.now();
        vm = await startVm({ suite: c.suite, log: process.env.ADX_E2E_VERBOSE ? (l) => process.stderr.write(l) : undefined });
        session = await openHarnessSession(vm, { handler: { hostZip: zipPath }, name: EXT, version: V, publicSettings: {}, protectedSettings: {}, waitTerminalS: 900 });
        fig['vmStart'] = Math.round((Date.now() - t0) / 100) / 10;
      }, 20 * 60_000);

      afterAll(async () => {
        await session?.close().catch(() => undefined);
        if (!keepVms) await vm?.remove();
      }, 5 * 60_000);

      step('1 install_enable without compose: docker.io serves; the image is imported (no registry)', 20 * 60_000, async () => {
        expect(await vm!.check('. /etc/os-release && echo "$ID $VERSION_ID"')).toBe(`${c.distro}\n`);
        const t0 = Date.now();
        last = await session!.run('install_enable');
        fig['installEnable'] = Math.round((Date.now() - t0) / 100) / 10;
        expect(onlyStep(last).commands.map((x) => `${x.cmd_name}=${x.exit_code}`)).toEqual(['install=0', 'enable=0']);
        expect(onlyStep(last).agent_status?.extension_status).toMatchObject({ status: 'success' });
        await vm!.copyIn(imageTar, '/root/busybox.tar');
        await vm!.check(['docker', 'import', '/root/busybox.tar', IMAGE]);
        // The engine's install brings no compose: the compose step installs the distro's.
        expect((await vm!.exec(['sh', '-c', 'command -v docker-compose || docker compose version'])).exitCode).not.toBe(0);
      });

      step('2 "compose" (v1 format): the distro\'s compose installed, the document converted, up -d', 20 * 60_000, async () => {
        const s = await newSeq(withCompose('86400'), 'composeUp');
        const status = message(s);
        expect(status).toMatch(/compose file format v1/);
        const line = /project compose \(sleeper\) with ([^:]+): up -d ran \(the compose project is new\)/.exec(status);
        expect(line?.[1]).toMatch(c.compose);
        expect(await vm!.check(['stat', '-c', '%a %U', '/etc/docker/compose/docker-compose.yml'])).toBe('600 root\n');
        expect(JSON.parse(await vm!.readFile('/etc/docker/compose/docker-compose.yml'))).toEqual({ version: '2.4', services: COMPOSE });
        const [ct, ...more] = await containers();
        expect(more).toEqual([]);
        expect(ct).toMatchObject({ running: true, args: ['sleep', '86400'] });
        expect(status).not.toContain('adx-compose-vm-canary');
        expect(status).not.toContain('DB_PASSWORD');
      });

      step('3 the same compose settings in a new configuration: nothing recreated', 10 * 60_000, async () => {
        const before = await containers();
        const s = await newSeq(withCompose('86400'), 'unchangedEnable');
        expect(message(s)).toMatch(/project compose unchanged and running; nothing recreated/);
        expect(await containers()).toEqual(before);
      });

      step('4 reboot: the container comes back by its restart policy; the agent\'s re-enable recreates nothing', 10 * 60_000, async () => {
        const before = await containers();
        let atBoot: Container[] = [];
        const t0 = Date.now();
        const { summary } = await session!.rebootAndReenable({
          afterBoot: async () => {
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
    });
  }
});
