// (integration) The REAL monitor process renews the certificate issued on the VM ("certs.issuer")
// against a REAL dockerd: a test-only validity of 60 s (docker.tls.testValiditySeconds; renewal in
// its last third), a client polling the TLS port throughout. The issuance time and the port's
// downtime are measured and printed, never asserted.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { busyboxUnavailable, containerState, removeContainer, startSleeper } from '../../support/busybox-container.js';
import { dockerUnavailable, freePort, presentedFingerprint as ping } from '../../support/docker-daemon.js';
import { makeMonitorRig, type MonitorRig } from '../../support/monitor-rig.js';
import { makeWaagentCertificate } from '../../support/openssl-vectors.js';
import { issuerPki } from '../../support/tls-certs.js';

const skip = dockerUnavailable() ?? busyboxUnavailable();
const d = skip ? describe.skip : describe;
if (skip) console.warn(`(integration) renewal tests skipped: ${skip}`);

d('(integration) the monitor renews the certificate issued on the VM', () => {
  let work: string;
  let rig: MonitorRig;
  let port: number;
  let prot: unknown;
  let client: { ca: string; cert: string; key: string };
  const figures: Record<string, number> = {};

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'renewal-it-'));
    const cert = await makeWaagentCertificate(work);
    ({ prot, client } = issuerPki(path.join(work, 'pki')));
    rig = await makeMonitorRig(cert);
    port = await freePort();
  }, 60_000);

  afterAll(async () => {
    console.log(`renewal figures (ms): ${JSON.stringify(figures)}`);
    await rig?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  }, 60_000);

  test('within the renewal window: a new key and certificate served, the heartbeat says so, the container keeps running, the port down only for the restart', async () => {
    const r = await rig.enable(0, { docker: { port, tls: { testValiditySeconds: 60 } } }, prot);
    expect(r.exitCode).toBe(0);
    const certFile = rig.sb.fs.resolve('/etc/docker/cert.pem');
    const keyFile = rig.sb.fs.resolve('/etc/docker/key.pem');
    const first = new X509Certificate(readFileSync(certFile));
    const firstKey = readFileSync(keyFile, 'utf8');
    await rig.waitHeartbeat((h) => h.status === 'Ready' && /issued on this VM, valid until .* UTC\)/.test(h.message), 15_000, 'Ready with the issued certificate');
    startSleeper(rig.sb.socket, 'renewal-sleeper');

    // A client polling every 20 ms: the longest stretch without an answer is the downtime.
    const seen = new Set<string>();
    let polling = true;
    let downSince: number | undefined;
    let longestDown = 0;
    const poller = (async () => {
      while (polling) {
        const fp = await ping(port, client);
        const now = Date.now();
        if (fp) {
          seen.add(fp);
          if (downSince !== undefined) longestDown = Math.max(longestDown, now - downSince);
          downSince = undefined;
        } else downSince ??= now;
        await new Promise((res) => setTimeout(res, 20));
      }
    })();
    const { hb } = await rig.waitHeartbeat((h) => /last renewed .* UTC\)/.test(h.message), 70_000, 'the renewal in the heartbeat');
    polling = false;
    await poller;
    figures.tlsPortDowntimeSeenByClient = longestDown;

    expect(hb.status).toBe('Ready');
    expect(hb.message).not.toMatch(/Changed outside the extension/);
    const renewed = new X509Certificate(readFileSync(certFile));
    expect(renewed.fingerprint256).not.toBe(first.fingerprint256);
    expect(readFileSync(keyFile, 'utf8')).not.toBe(firstKey);
    expect((await rig.sb.fs.stat('/etc/docker/key.pem'))?.mode).toBe(0o600);
    expect(Date.parse(renewed.validTo)).toBeGreaterThan(Date.parse(first.validTo));
    expect(await ping(port, client)).toBe(renewed.fingerprint256);
    expect([...seen]).toEqual([first.fingerprint256, renewed.fingerprint256]);
    expect(containerState(rig.sb.socket, 'renewal-sleeper').running).toBe(true);
    removeContainer(rig.sb.socket, 'renewal-sleeper');

    const spec = JSON.parse(readFileSync(path.join(rig.tree.libDir, rig.tree.name, 'monitor.json'), 'utf8'));
    expect(spec.renewal).toMatchObject({ fingerprint256: renewed.fingerprint256, reason: expect.stringMatching(/within the renewal window/) });
    const log = await rig.monitorLog();
    const line = JSON.parse(log.split('\n').find((l) => l.includes('"event":"server certificate renewed"'))!);
    figures.issuance = line.issueMs;
    figures.restartToNewCertificateServed = line.restartToServingMs;
    // neither key ever reaches the log or the heartbeat
    for (const k of [firstKey, readFileSync(keyFile, 'utf8')]) {
      expect(log).not.toContain(k.split('\n')[1]!);
      expect(hb.message).not.toContain(k.split('\n')[1]!);
    }
  }, 120_000);
});
