// (e2e) "certs.issuer" in the systemd VM (Debian 12) through the real agent: the VM issues its own
// key and certificate, a client inside the VM that trusts only the issuer reaches dockerd by the
// VM's host name and by its address, and after a reboot the same certificate is still served.
//
//   1 install_enable with an ECDSA issuer: success; the key made in the VM (0600); TLS by host name and by IP
//   2 reboot, no agent command: the same certificate is served; the agent's re-enable restarts nothing
//   ADX_E2E=0 skips it; ADX_E2E_KEEP=1 keeps the VM.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { buildPackage } from '../../scripts/package-lib.mjs';
import { makeE2eCerts } from '../support/e2e-certs.js';
import { dockerdFacts, waitDockerdActive, TLS_PORT, VM_CERT_DIR } from '../support/e2e-dockerd.js';
import { diagnostics, EXT_NAME, onlyStep, scenario } from '../support/e2e-diagnostics.js';
import { openHarnessSession, type HarnessSession, type HarnessStep, type HarnessSummary, vmSuiteSkip } from '../support/vm/harness.js';
import { startVm, type Vm } from '../support/vm/vm.js';
import { makeEcCa, pem } from '../support/tls-certs.js';

const keepVms = process.env.ADX_E2E_KEEP === '1';
const skipped = vmSuiteSkip('(e2e) certs.issuer in the VM', { harness: true });
const d = skipped ? describe.skip : describe;
const V = '1.0.0';
const HOSTNAME = 'adx-issuer-vm';

d(`(e2e) certs.issuer: the VM issues its own certificate${skipped ? ` [skipped: ${skipped}]` : ''}`, () => {
  let work: string;
  let zipPath: string;
  let vm: Vm | undefined;
  let session: HarnessSession | undefined;
  let last: HarnessSummary | undefined;
  let served = '';
  const { step } = scenario(() => diagnostics(vm, session, last));
  /** curl from inside the VM, trusting only the issuer, with a client certificate of certs.ca; the name is checked as clients do. */
  const curl = (name: string) =>
    vm!.exec(['curl', '-sS', '--max-time', '15', '--cacert', `${VM_CERT_DIR}/issuer.pem`, '--cert', `${VM_CERT_DIR}/client.pem`, '--key', `${VM_CERT_DIR}/client-key.pem`, `https://${name}:${TLS_PORT}/_ping`]);
  /** The sha256 fingerprint of the certificate the port presents. */
  const presented = async () =>
    (await vm!.check(`openssl s_client -connect 127.0.0.1:${TLS_PORT} </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256`)).trim();

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'adx-issuer-'));
    const certs = makeE2eCerts(path.join(work, 'certs'));
    const issuer = makeEcCa(path.join(work, 'issuer'), 'server-issuer', 30);
    ({ zipPath } = await buildPackage({ outDir: path.join(work, 'out'), arch: 'x64', build: false }));
    vm = await startVm({ hostname: HOSTNAME, log: process.env.ADX_E2E_VERBOSE ? (l) => process.stderr.write(l) : undefined });
    session = await openHarnessSession(vm, {
      handler: { hostZip: zipPath },
      name: EXT_NAME,
      version: V,
      publicSettings: { docker: { port: TLS_PORT } },
      protectedSettings: { certs: { ca: certs.ca.cert, issuer: { cert: pem(issuer.ca), key: pem(issuer.caKey) } } },
      waitTerminalS: 600,
    });
    await vm.writeFile(`${VM_CERT_DIR}/issuer.pem`, pem(issuer.ca), '0644');
    await vm.writeFile(`${VM_CERT_DIR}/client.pem`, certs.client.cert, '0644');
    await vm.writeFile(`${VM_CERT_DIR}/client-key.pem`, certs.client.key, '0600');
  }, 20 * 60_000);

  afterAll(async () => {
    await session?.close().catch(() => undefined);
    if (!keepVms) await vm?.remove();
    if (work) rmSync(work, { recursive: true, force: true });
  }, 5 * 60_000);

  step('1 install_enable with an issuer: the VM makes its key and certificate; TLS by host name and by IP from a client trusting only the issuer', 15 * 60_000, async () => {
    last = await session!.run('install_enable');
    const s = onlyStep(last);
    expect(s.commands.map((c) => `${c.cmd_name}=${c.exit_code}`)).toEqual(['install=0', 'enable=0']);
    expect(last.problems).toEqual([]);
    expect(s.agent_status?.extension_status).toMatchObject({ status: 'success', operation: 'Enable' });
    expect(await vm!.check(['stat', '-c', '%a', '/etc/docker/key.pem'])).toBe('600\n');
    expect(await vm!.check(['openssl', 'x509', '-in', '/etc/docker/cert.pem', '-noout', '-ext', 'subjectAltName'])).toContain(`DNS:${HOSTNAME}`);
    const byName = await curl(HOSTNAME);
    expect(`${byName.exitCode} ${byName.stdout}${byName.stderr}`).toBe('0 OK');
    // The VM's own address (not docker0's: Docker's bridges are no name of the VM, and not in the certificate)
    const ip = (await vm!.check("ip -o -4 addr show scope global | grep -v ' docker0 ' | awk '{print $4}' | cut -d/ -f1 | head -n 1")).trim();
    expect(ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(await vm!.check(['openssl', 'x509', '-in', '/etc/docker/cert.pem', '-noout', '-ext', 'subjectAltName'])).toContain(`IP Address:${ip}`);
    const byIp = await curl(ip);
    expect(`${byIp.exitCode} ${byIp.stdout}${byIp.stderr}`).toBe('0 OK');
    // a name the certificate does not carry is refused by the client
    const other = await vm!.exec(['curl', '-sS', '--max-time', '15', '--cacert', `${VM_CERT_DIR}/issuer.pem`, '--resolve', `elsewhere.example.com:${TLS_PORT}:127.0.0.1`, `https://elsewhere.example.com:${TLS_PORT}/_ping`]);
    expect(other.exitCode).not.toBe(0);
    served = await presented();
    expect(served).toMatch(/^sha256 Fingerprint=/i);
  });

  step('2 reboot with no agent command: the same certificate is still served; the re-enable restarts nothing', 10 * 60_000, async () => {
    await vm!.restart();
    await waitDockerdActive(vm!);
    const byName = await curl(HOSTNAME);
    expect(`${byName.exitCode} ${byName.stdout}${byName.stderr}`).toBe('0 OK');
    expect(await presented()).toBe(served);
    const pid = (await dockerdFacts(vm!)).mainPid;
    last = await session!.run('reenable_same_seq');
    expect(onlyStep(last).agent_status).toMatchObject({ status: 'Ready' });
    expect((await dockerdFacts(vm!)).mainPid).toBe(pid);
    expect(await presented()).toBe(served);
  });
});
