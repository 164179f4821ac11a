// certs.issuer: the checks of the issuer, the names of the VM, keep-or-issue, and the signing
// itself with RSA and ECDSA issuers made by openssl; the result is checked by node:crypto and openssl.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseSettings } from '../../../handler/agent/settings.js';
import { issueServerCertificate } from '../../../handler/crypto/issue-certificate.js';
import { checkIssuer, decide, namesOf, policyOf, vmAddresses, wantedNames } from '../../../handler/docker/issuance.js';
import { makeCa, makeEcCa, makeExpiredCa, makeLeaf, pem } from '../../support/tls-certs.js';

const DAY = 86_400_000;
let dir: string;
let rsa: { cert: string; key: string };
let ec: { cert: string; key: string };
let expired: { cert: string; key: string };
let notCa: { cert: string; key: string };

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'issuance-'));
  const r = makeCa(dir, 'rsa-issuer', 30);
  const e = makeEcCa(dir, 'ec-issuer', 30);
  const x = makeExpiredCa(dir);
  const leaf = makeLeaf(dir, r, 'plain-leaf', { eku: 'serverAuth' });
  rsa = { cert: pem(r.ca), key: pem(r.caKey) };
  ec = { cert: pem(e.ca), key: pem(e.caKey) };
  expired = { cert: pem(x.ca), key: pem(x.caKey) };
  notCa = { cert: pem(leaf.cert), key: pem(leaf.key) };
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const host = { hostname: 'vm-0', fqdn: 'vm-0.internal.cloudapp.net', addresses: ['10.0.0.4', 'fd00::4'] };

describe('the names a VM answers to', () => {
  test('host name, FQDN, addresses, localhost and 127.0.0.1, plus the extra names, once each', () => {
    expect(wantedNames(host, ['docker.example.com', '10.0.0.4'])).toEqual({
      dns: ['docker.example.com', 'localhost', 'vm-0', 'vm-0.internal.cloudapp.net'],
      ips: ['10.0.0.4', '127.0.0.1', 'fd00::4'],
    });
  });
});

describe('the issuer is checked before anything', () => {
  test('RSA and ECDSA CAs pass', () => {
    expect(checkIssuer(rsa, Date.now()).subject).toBe('CN=rsa-issuer');
    expect(checkIssuer(ec, Date.now()).subject).toBe('CN=ec-issuer');
  });
  test('a key of another certificate, a certificate that is no CA, an expired CA: each named', () => {
    expect(() => checkIssuer({ cert: rsa.cert, key: ec.key }, Date.now())).toThrow(/"certs\.issuer\.key" does not belong to the certificate in "certs\.issuer\.cert"/);
    expect(() => checkIssuer(notCa, Date.now())).toThrow(/"certs\.issuer\.cert" is not a CA certificate .*basicConstraints = critical,CA:TRUE/);
    expect(() => checkIssuer(expired, Date.now())).toThrow(/"certs\.issuer\.cert": the issuer CA expired on 2020-02-01; give a valid CA\. Nothing was changed\./);
  });
});

describe('settings', () => {
  test('exactly one of certs.issuer and certs.cert + certs.key', () => {
    expect(() => parseSettings({}, { certs: { ca: rsa.cert, issuer: rsa, cert: notCa.cert, key: notCa.key } })).toThrow(/"certs\.issuer" is given together with "certs\.cert"\/"certs\.key": give either/);
    expect(() => parseSettings({}, { certs: { ca: rsa.cert } })).toThrow(/"certs\.cert" is required .*; protected setting "certs\.key" is required \(the server certificate's key\), unless "certs\.issuer" is given instead/);
    expect(() => parseSettings({}, { certs: { ca: rsa.cert, cert: notCa.cert } })).toThrow(/^Invalid extension settings: protected setting "certs\.key" is required [^;]*\.$/);
  });
  test('docker.tls defaults: 90 days, renewed in the last third; bad values named', () => {
    const s = parseSettings({}, { certs: { ca: rsa.cert, issuer: rsa } });
    expect(s.public.docker.tls).toEqual({ subjectAltNames: [], days: 90, renewBefore: '1/3' });
    expect(policyOf(s.public.docker.tls)).toEqual({ validityMs: 90 * DAY, renewBeforeMs: 30 * DAY, extraNames: [] });
    expect(policyOf(parseSettings({ docker: { tls: { days: 30, renewBefore: 10 } } }, {}).public.docker.tls).renewBeforeMs).toBe(10 * DAY);
    expect(policyOf(parseSettings({ docker: { tls: { days: 30, renewBefore: '1/2' } } }, {}).public.docker.tls).renewBeforeMs).toBe(15 * DAY);
    expect(policyOf(parseSettings({ docker: { tls: { testValiditySeconds: 60 } } }, {}).public.docker.tls)).toEqual({ validityMs: 60_000, renewBeforeMs: 20_000, extraNames: [] });
    expect(() => parseSettings({ docker: { tls: { days: 0, renewBefore: 'soon', subjectAltNames: ['a b'] } } }, {})).toThrow(
      /"docker\.tls\.subjectAltNames\.0" must hold DNS names or IP addresses.*"docker\.tls\.days" must be between 1 and 825 days.*"docker\.tls\.renewBefore" must be a fraction of the validity such as "1\/3", or a number of days/,
    );
    expect(() => parseSettings({ docker: { tls: { days: 10, renewBefore: 10 } } }, {})).toThrow(/"docker\.tls\.renewBefore" \(10 days\) must be less than "docker\.tls\.days" \(10\)/);
  });
});

describe('issuing and keeping', () => {
  const names = wantedNames(host, []);
  const policy = { validityMs: 90 * DAY, renewBeforeMs: 30 * DAY, extraNames: [] };

  for (const [kind, issuer] of [['ECDSA P-256', () => ec], ['RSA', () => rsa]] as const) {
    test(`an ${kind} issuer signs a P-256 server certificate with the VM's names, serverAuth, not a CA; openssl verifies it`, async () => {
      const now = Date.now();
      const c = await issueServerCertificate(issuer(), names, policy.validityMs, now);
      const x = new X509Certificate(c.certPem);
      expect(x.ca).toBe(false);
      expect(x.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
      expect(x.verify(new X509Certificate(issuer().cert).publicKey)).toBe(true);
      expect(namesOf(x)).toEqual(names);
      expect(Date.parse(x.validTo)).toBe(Math.floor((now + 90 * DAY) / 1000) * 1000);
      expect(c.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
      writeFileSync(path.join(dir, 'issuer.pem'), issuer().cert);
      writeFileSync(path.join(dir, 'leaf.pem'), c.certPem);
      const out = execFileSync('openssl', ['verify', '-purpose', 'sslserver', '-CAfile', 'issuer.pem', 'leaf.pem'], { cwd: dir, encoding: 'utf8' });
      expect(out.trim()).toBe('leaf.pem: OK');
      // kept while it fits; renewed in the window, for new names, or for another issuer
      expect(decide({ cert: c.certPem, key: c.keyPem }, issuer().cert, names, policy, now + DAY).kind).toBe('keep');
      expect(decide({ cert: c.certPem, key: c.keyPem }, issuer().cert, names, policy, now + 61 * DAY)).toEqual({ kind: 'issue', reason: expect.stringMatching(/within the renewal window/) });
      expect(decide({ cert: c.certPem, key: c.keyPem }, issuer().cert, wantedNames({ ...host, addresses: ['10.0.0.5'] }, []), policy, now)).toEqual({
        kind: 'issue',
        reason: "the VM's names changed (+10.0.0.5, -10.0.0.4, -fd00::4)",
      });
      const other = issuer() === ec ? rsa : ec;
      expect(decide({ cert: c.certPem, key: c.keyPem }, other.cert, names, policy, now)).toEqual({ kind: 'issue', reason: expect.stringMatching(/not issued by "certs\.issuer"/) });
      expect(decide({ cert: c.certPem, key: other.key }, issuer().cert, names, policy, now)).toEqual({ kind: 'issue', reason: 'the key file does not belong to the certificate' });
      expect(decide({}, issuer().cert, names, policy, now)).toEqual({ kind: 'issue', reason: 'no certificate was issued on this VM yet' });
    });
  }
});

describe('the addresses the certificate names', () => {
  const a = (address: string, internal = false) => ({ address, internal });
  test("the VM's own interfaces only: no loopback, link-local IPv6, Docker's interfaces or any bridge", () => {
    const interfaces = {
      lo: [a('127.0.0.1', true), a('::1', true)],
      eth0: [a('10.0.0.4'), a('fe80::1'), a('2001:db8::4')],
      docker0: [a('172.17.0.1')],
      'br-0123abcd': [a('172.18.0.1')],
      veth12ab: [a('fe80::2')],
      // A compose network with its own bridge name, or libvirt's: a bridge by the kernel's word.
      'app-net': [a('172.19.0.1')],
      virbr0: [a('192.168.122.1')],
    };
    const bridges = new Set(['app-net', 'virbr0', 'docker0', 'br-0123abcd']);
    expect(vmAddresses(interfaces, (n) => bridges.has(n))).toEqual(['10.0.0.4', '2001:db8::4']);
  });
});
