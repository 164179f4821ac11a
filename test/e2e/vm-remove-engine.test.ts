// (e2e) The opt-in engine removal on uninstall, in the test VM under the real agent code: with
// "docker.engine.removeOnUninstall": true, uninstall stops dockerd through systemd INCLUDING
// docker.socket (otherwise the next client on /run/docker.sock starts dockerd again), purges the
// engine the extension installed, and removes its data root. The main scenario (vm-e2e) covers
// the default, which keeps the engine.
//   NODE_OPTIONS=--experimental-vm-modules npx jest test/e2e/vm-remove-engine.test.ts
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { buildPackage } from '../../scripts/package-lib.mjs';
import { certsSetting, makeE2eCerts } from '../support/e2e-certs.js';
import { listeners, TLS_PORT } from '../support/e2e-dockerd.js';
import { diagnostics, EXT_NAME, withDiagnostics } from '../support/e2e-diagnostics.js';
import { openHarnessSession, type HarnessSession, vmSuiteSkip } from '../support/vm/harness.js';
import { startVm, type Vm } from '../support/vm/vm.js';

const skipped = vmSuiteSkip('(e2e) uninstall with removeOnUninstall', { harness: true });
const d = skipped ? describe.skip : describe;

d(`(e2e) uninstall with removeOnUninstall removes the engine it installed${skipped ? ` [skipped: ${skipped}]` : ''}`, () => {
  let work: string;
  let vm: Vm | undefined;
  let session: HarnessSession | undefined;

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'adx-vm-remove-'));
    const certs = makeE2eCerts(path.join(work, 'certs'));
    const { zipPath } = await buildPackage({ outDir: path.join(work, 'out'), arch: 'x64', build: false });
    vm = await startVm();
    session = await openHarnessSession(vm, {
      handler: { hostZip: zipPath },
      name: EXT_NAME,
      publicSettings: { docker: { port: TLS_PORT, engine: { removeOnUninstall: true } } },
      protectedSettings: { certs: certsSetting(certs, 'pem') },
      waitTerminalS: 600,
    });
  }, 20 * 60_000);

  afterAll(async () => {
    await session?.close().catch(() => undefined);
    await vm?.remove().catch(() => undefined);
    if (work) rmSync(work, { recursive: true, force: true });
  }, 120_000);

  const explain = () => diagnostics(vm, session);

  test('install_enable installs docker.io and serves TLS; uninstall stops docker and docker.socket and purges the engine', async () => {
    await withDiagnostics(async () => {
      const installed = await session!.run('install_enable');
      expect(installed.steps[0]?.agent_status?.extension_status).toMatchObject({ status: 'success', operation: 'Enable' });
      expect((await listeners(vm!)).join('\n')).toMatch(new RegExp(`:${TLS_PORT}\\b`));

      const removed = await session!.run('uninstall');
      expect(removed.steps[0]?.commands.map((c) => `${c.cmd_name}=${c.exit_code}`)).toEqual(['disable=0', 'uninstall=0']);
      expect(removed.problems).toEqual([]);

      const units = await vm!.exec('systemctl is-active docker.service docker.socket; true');
      expect(units.stdout.trim().split('\n')).toEqual(['inactive', 'inactive']);
      expect((await vm!.exec(['dpkg-query', '-W', '-f=${Status}', 'docker.io'])).stdout).not.toMatch(/install ok installed/);
      // Nothing brings it back: no socket to activate it, no daemon behind the local socket.
      expect((await vm!.exec(['sh', '-c', 'curl -sS --unix-socket /run/docker.sock http://localhost/_ping'])).exitCode).not.toBe(0);
      expect((await vm!.exec('systemctl is-active docker.service; true')).stdout.trim()).toBe('inactive');
      expect(await listeners(vm!)).toEqual([]);
      // The data root is gone (its contents, where /var/lib/docker is a mount point of its own).
      expect((await vm!.exec('ls -A /var/lib/docker 2>/dev/null | wc -l')).stdout.trim()).toBe('0');
      for (const f of ['ca.pem', 'cert.pem', 'key.pem']) expect((await vm!.exec(['test', '-e', `/etc/docker/${f}`])).exitCode).not.toBe(0);
    }, explain);
  }, 15 * 60_000);
});
