// (integration) "certs.issuer" against the REAL dockerd sandbox: the VM's own key and certificate,
// mutual TLS from a client that trusts only the issuer, by host name and by IP; the client CA
// (certs.ca) and the issuing CA kept apart; no restart while the certificate fits; the dry run.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { hostname } from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { parseSettings } from '../../../handler/agent/settings.js';
import { planEngine, reconcileEngine } from '../../../handler/docker/engine.js';
import { ConfigError } from '../../../handler/errors.js';
import { NodeDaemonProbe } from '../../../handler/docker/health.js';
import { renewCertificate } from '../../../handler/monitor/renew.js';
import { RootedFileSystem } from '../../../handler/system/fs.js';
import { realClock } from '../../../handler/system/clock.js';
import { mkdtempSync, readFileSync } from 'node:fs';
import { silentLogger } from '../../../handler/log/logger.js';
import { createSandbox, dockerUnavailable, freePort, type Sandbox } from '../../support/docker-daemon.js';
import { busyboxUnavailable, containerState, removeContainer, startSleeper } from '../../support/busybox-container.js';
import { issuerSetting, makeCa, makeEcCa, makeExpiredCa, makeLeaf, pem } from '../../support/tls-certs.js';

const skip = dockerUnavailable();
const d = skip ? describe.skip : describe;
if (skip) console.warn(`(integration) issuer tests skipped: ${skip}`);

/** A docker client: verifies the server against `ca` for the name it dials (default checks), presents its own certificate. */
function dockerPing(port: number, name: string, opts: { ca: string; cert?: string; key?: string }): Promise<{ ok: boolean; detail: string; fingerprint256?: string }> {
  return new Promise((resolve) => {
    let data = '';
    let fp: string | undefined;
    const s = tls.connect({ host: '127.0.0.1', port, ca: opts.ca, cert: opts.cert, key: opts.key, servername: name.includes(':') || /^\d+\./.test(name) ? '' : name, checkServerIdentity: (_h, c) => tls.checkServerIdentity(name, c) }, () => {
      fp = s.getPeerCertificate().fingerprint256;
      s.write('GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n');
    });
    s.setTimeout(5000, () => s.destroy(new Error('timeout')));
    s.on('data', (c: Buffer) => (data += c.toString()));
    s.on('error', (e: NodeJS.ErrnoException) => resolve({ ok: false, detail: e.code ?? e.message }));
    s.on('close', () => resolve(/^HTTP\/1\.1 200/.test(data) ? { ok: true, detail: 'OK', ...(fp ? { fingerprint256: fp } : {}) } : { ok: false, detail: data.split('\r\n')[0] || 'closed without an answer' }));
  });
}

d('(integration) certs.issuer with a real dockerd', () => {
  let sb: Sandbox;
  let port: number;
  let clientCa: { ca: string; caKey: string };
  let client: { cert: string; key: string };
  let ecIssuer: { ca: string; caKey: string };
  let rsaIssuer: { ca: string; caKey: string };
  let issuerClient: { cert: string; key: string };
  const log = silentLogger();
  const figures: Record<string, number> = {};
  const run = (issuer: { ca: string; caKey: string }, pub: Record<string, unknown> = {}) =>
    reconcileEngine(parseSettings({ docker: { port, ...pub } }, { certs: issuerSetting(clientCa.ca, issuer) }), sb.ports(), { log, stateDir: sb.stateDir, layout: sb.layout });

  beforeAll(async () => {
    sb = createSandbox();
    const pki = path.join(sb.dir, 'pki');
    clientCa = makeCa(pki, 'client-ca', 30);
    client = makeLeaf(pki, clientCa, 'client', { eku: 'clientAuth' });
    ecIssuer = makeEcCa(pki, 'server-issuer', 30);
    rsaIssuer = makeCa(pki, 'rsa-issuer', 30);
    // a client certificate from the issuing CA: must not open the door (the CAs differ)
    issuerClient = makeLeaf(pki, rsaIssuer, 'issuer-client', { eku: 'clientAuth' });
    port = await freePort();
  });

  afterAll(async () => {
    console.log(`issuer figures (ms): ${JSON.stringify(figures)}`);
    await sb?.cleanup();
  });

  test('the dry run shows the certificate it would issue (names, validity, issuer fingerprint) and makes nothing', async () => {
    const p = await planEngine(parseSettings({ docker: { port } }, { certs: issuerSetting(clientCa.ca, ecIssuer) }), sb.ports(), { log, stateDir: sb.stateDir, layout: sb.layout });
    const fp = new X509Certificate(pem(ecIssuer.ca)).fingerprint256;
    const line = p.lines.join('\n');
    expect(line).toMatch(/write \/etc\/docker\/key\.pem \(mode 600, .*secret: no hash shown\)/);
    // what --dry-run prints: the certificate first, then the steps
    expect(p.lines[0]).toMatch(/^would issue a new server certificate and key on this VM \(no certificate was issued on this VM yet\) for DNS:.*IP:127\.0\.0\.1.*, valid 90 days, signed by issuer CN=server-issuer \(SHA-256 fingerprint [0-9A-F:]+\)$/);
    const certs = p.lines[0]!;
    expect(certs).toContain(`would issue a new server certificate and key on this VM (no certificate was issued on this VM yet) for DNS:`);
    expect(certs).toContain(`DNS:${hostname().toLowerCase()}`);
    expect(certs).toContain('IP:127.0.0.1');
    expect(certs).toContain(`valid 90 days, signed by issuer CN=server-issuer (SHA-256 fingerprint ${fp})`);
    expect(await sb.fs.exists('/etc/docker/cert.pem')).toBe(false);
    expect(await sb.fs.exists('/etc/docker/key.pem')).toBe(false);
    expect(sb.pid()).toBeUndefined();
  });

  test('enable with an ECDSA issuer: a key made here (0600), a certificate for the VM; a client trusting only the issuer connects by host name and by IP', async () => {
    const t0 = Date.now();
    const out = await run(ecIssuer);
    figures.firstEnableWithIssuance = Date.now() - t0;
    figures.issuance = Number(/\((\d+) ms\)$/.exec(out.steps.find((s) => s.name === 'certificates')!.message)?.[1]);
    expect(out.restarted).toBe('start');
    const key = sb.fs.resolve('/etc/docker/key.pem');
    expect((await sb.fs.stat('/etc/docker/key.pem'))?.mode).toBe(0o600);
    expect((await sb.fs.stat('/etc/docker/issuer-key.pem'))?.mode).toBe(0o600);
    const keyPem = (await sb.fs.readText('/etc/docker/key.pem'))!;
    // the generated key is in no message the handler publishes
    expect(JSON.stringify(out)).not.toContain(keyPem.split('\n')[1]!);
    expect(key).toBeTruthy();
    const cert = new X509Certificate((await sb.fs.readText('/etc/docker/cert.pem'))!);
    expect(cert.checkIssued(new X509Certificate(pem(ecIssuer.ca)))).toBe(true);
    expect(cert.subjectAltName).toContain(`DNS:${hostname().toLowerCase()}`);

    const trustIssuer = { ca: pem(ecIssuer.ca), cert: pem(client.cert), key: pem(client.key) };
    expect(await dockerPing(port, hostname(), trustIssuer)).toMatchObject({ ok: true });
    expect(await dockerPing(port, '127.0.0.1', trustIssuer)).toMatchObject({ ok: true });
    expect(await dockerPing(port, 'not-this-vm.example.com', trustIssuer)).toMatchObject({ ok: false, detail: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    // certs.ca verifies the clients; the issuing CA's client certificate is refused
    expect((await dockerPing(port, hostname(), { ca: pem(ecIssuer.ca), cert: pem(issuerClient.cert), key: pem(issuerClient.key) })).ok).toBe(false);
    expect((await dockerPing(port, hostname(), { ca: pem(ecIssuer.ca) })).ok).toBe(false);
  });

  test('a re-enable with the same issuer keeps the certificate and restarts nothing', async () => {
    const pid = sb.pid();
    const before = await sb.fs.readText('/etc/docker/cert.pem');
    const out = await run(ecIssuer);
    expect(out.restarted).toBe('none');
    expect(out.changed).toBe(false);
    expect(sb.pid()).toBe(pid);
    expect(await sb.fs.readText('/etc/docker/cert.pem')).toBe(before);
    expect(out.steps.find((s) => s.name === 'certificates')!.message).toMatch(/server certificate issued on this VM by issuer CN=server-issuer .* kept: valid until \d{4}-\d\d-\d\d, renewed by the monitor from \d{4}-\d\d-\d\d/);
  });

  test('another issuer (RSA) or a new name: a new key and certificate, one restart, containers keep running', async () => {
    const noBusybox = busyboxUnavailable();
    if (noBusybox) throw new Error(noBusybox);
    startSleeper(sb.socket, 'issuer-sleeper');
    const pid = sb.pid();
    const oldKey = await sb.fs.readText('/etc/docker/key.pem');
    const out = await run(rsaIssuer);
    expect(out.restarted).toBe('restart');
    expect(sb.pid()).not.toBe(pid);
    expect(await sb.fs.readText('/etc/docker/key.pem')).not.toBe(oldKey);
    expect(out.steps.find((s) => s.name === 'certificates')!.message).toMatch(/issued a new server certificate and key on this VM \(the certificate was not issued by "certs\.issuer"/);
    expect(await dockerPing(port, hostname(), { ca: pem(rsaIssuer.ca), cert: pem(client.cert), key: pem(client.key) })).toMatchObject({ ok: true });
    const named = await run(rsaIssuer, { tls: { subjectAltNames: ['docker.example.com'] } });
    expect(named.restarted).toBe('restart');
    expect(named.steps.find((s) => s.name === 'certificates')!.message).toContain("(the VM's names changed (+docker.example.com))");
    expect(await dockerPing(port, 'docker.example.com', { ca: pem(rsaIssuer.ca), cert: pem(client.cert), key: pem(client.key) })).toMatchObject({ ok: true });
    expect(containerState(sb.socket, 'issuer-sleeper').running).toBe(true);
    removeContainer(sb.socket, 'issuer-sleeper');
  });

  test('a renewal whose certificate dockerd does not serve verifiably is rolled back: the old pair back, dockerd serving it, the container running', async () => {
    const noBusybox = busyboxUnavailable();
    if (noBusybox) throw new Error(noBusybox);
    const pub = { tls: { subjectAltNames: ['docker.example.com'] } };
    const out = await run(rsaIssuer, pub);
    expect(out.restarted).toBe('none');
    const target = out.monitor!;
    expect(target.issuance).toBeDefined();
    startSleeper(sb.socket, 'rollback-sleeper');
    const files = ['/etc/docker/cert.pem', '/etc/docker/key.pem'].map((f) => sb.fs.resolve(f));
    const before = files.map((f) => readFileSync(f, 'utf8'));
    // The one injected fault: the monitor's clock runs a day ahead (a VM clock gone wrong), so the
    // certificate it issues is not valid yet for a client on real time; the proof on the port fails.
    const skewed = { ...realClock, now: () => Date.now() + 86_400_000 };
    const logged: object[] = [];
    const log = { debug: () => undefined, info: (o: object) => logged.push(o), warn: (o: object) => logged.push(o), error: (o: object) => logged.push(o) };
    const pid = sb.pid();
    const r = await renewCertificate(
      { fs: new RootedFileSystem('/'), clock: skewed, cmd: sb.cmd, probe: new NodeDaemonProbe(), log, dataDir: mkdtempSync(path.join(sb.dir, 'data-')), proofTimeoutMs: 8_000 },
      target,
      'test: renewal with a skewed clock',
    );
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatch(/dockerd did not serve the new certificate on port \d+ within 8 s: .*(not yet valid|CERT_NOT_YET_VALID)/);
    expect(logged).toContainEqual(expect.objectContaining({ event: 'renewed certificate not served; putting the previous one back' }));
    expect(files.map((f) => readFileSync(f, 'utf8'))).toEqual(before);
    expect(sb.pid()).not.toBe(pid); // restarted twice: with the new pair, then with the old one
    expect(await dockerPing(port, 'docker.example.com', { ca: pem(rsaIssuer.ca), cert: pem(client.cert), key: pem(client.key) })).toMatchObject({ ok: true, fingerprint256: new X509Certificate(before[0]!).fingerprint256 });
    expect(containerState(sb.socket, 'rollback-sleeper').running).toBe(true);
    removeContainer(sb.socket, 'rollback-sleeper');
  }, 60_000);

  test('a bad issuer (key of another CA, not a CA, expired): a clear error, nothing changed', async () => {
    const pid = sb.pid();
    const files = await Promise.all(['/etc/docker/daemon.json', '/etc/docker/cert.pem', '/etc/docker/key.pem'].map((f) => sb.fs.readText(f)));
    const pki = path.join(sb.dir, 'pki');
    const leaf = makeLeaf(pki, rsaIssuer, 'not-a-ca', { eku: 'serverAuth' });
    const cases: Array<[{ ca: string; caKey: string }, RegExp]> = [
      [{ ca: rsaIssuer.ca, caKey: ecIssuer.caKey }, /"certs\.issuer\.key" does not belong to the certificate in "certs\.issuer\.cert"/],
      [{ ca: leaf.cert, caKey: leaf.key }, /"certs\.issuer\.cert" is not a CA certificate/],
      [makeExpiredCa(pki), /the issuer CA expired on 2020-02-01/],
    ];
    for (const [issuer, message] of cases) {
      const err = await run(issuer).then(() => undefined, (e: unknown) => e as Error);
      expect(err).toBeInstanceOf(ConfigError);
      expect(err?.message).toMatch(message);
      expect(err?.message).toMatch(/Nothing was changed\.$/);
    }
    expect(sb.pid()).toBe(pid);
    expect(await Promise.all(['/etc/docker/daemon.json', '/etc/docker/cert.pem', '/etc/docker/key.pem'].map((f) => sb.fs.readText(f)))).toEqual(files);
  });
});
