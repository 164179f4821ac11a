// Certificate checks on certificates made with openssl at test time.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { X509Certificate } from 'node:crypto';
import type { ServerCerts } from '../../../handler/agent/settings.js';
import { certificateProblems, keyUsageBits } from '../../../handler/docker/certs.js';
import { certsSetting, makeCa, makeCertSet, makeLeaf, pem, type CertSet } from '../../support/tls-certs.js';

let dir: string;
let set: CertSet;
let other: { ca: string; caKey: string };
const DAY = 86_400_000;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'certs-'));
  set = makeCertSet(dir);
  other = makeCa(dir, 'other-ca');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const good = () => certsSetting(set);
const said = (certs: ServerCerts, now: number): string => {
  const r = certificateProblems(certs, now);
  expect(r.facts).toBeUndefined();
  return r.problems.join('; ');
};

describe('certificateProblems', () => {
  test('a good set: facts, and a warning because it expires within 30 days', () => {
    const r = certificateProblems(good(), Date.now());
    expect(r.problems).toEqual([]);
    expect(r.facts!.subject).toBe('CN=localhost');
    expect(r.facts!.subjectAltName).toMatch(/IP Address:127\.0\.0\.1/);
    expect(r.facts!.fingerprint256).toBe(new X509Certificate(pem(set.serverCert)).fingerprint256);
    expect(r.warnings.join()).toMatch(/"certs\.cert": the server certificate expires on \d{4}-\d\d-\d\d \(in [01] days?\)/);
    expect(r.warnings.join()).toMatch(/"certs\.ca": the CA certificate CN=test-ca expires/);
  });

  test('key of another certificate', () => {
    expect(said({ ...good(), key: pem(set.clientKey) }, Date.now())).toMatch(/"certs\.key" does not belong to the certificate in "certs\.cert"/);
  });

  test('certificate from another CA', () => {
    expect(said({ ...good(), ca: pem(other.ca) }, Date.now())).toMatch(/"certs\.cert" was not issued by the CA in "certs\.ca" \(certificate issuer: CN=test-ca; CA: CN=other-ca\)/);
  });

  test('expired and not yet valid (clock-driven)', () => {
    expect(said(good(), Date.now() + 5 * DAY)).toMatch(/"certs\.cert": the server certificate expired on/);
    expect(said(good(), Date.now() - 5 * DAY)).toMatch(/not valid before .* \(check the VM clock/);
  });

  test('a client-only certificate may not serve TLS', () => {
    const c = { ...good(), cert: pem(set.clientCert), key: pem(set.clientKey) };
    expect(said(c, Date.now())).toMatch(/"certs\.cert" may not be used by a TLS server: its extended key usage is clientAuth/);
  });

  test('all problems at once, never the key material', () => {
    const msg = said({ ca: pem(other.ca), cert: pem(set.clientCert), key: pem(set.serverKey) }, Date.now());
    expect(msg).toMatch(/certs\.key.*certs\.cert.*/s);
    expect(msg).not.toMatch(/PRIVATE KEY/);
  });

  test('garbage and encrypted keys', () => {
    expect(said({ ca: 'x', cert: 'y', key: 'z' }, Date.now())).toMatch(/"certs\.ca" contains no PEM certificate.*"certs\.cert" contains no PEM certificate.*"certs\.key" is not a PEM private key/);
    expect(said({ ...good(), key: '-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n' }, Date.now())).toMatch(/"certs\.key" is encrypted with a passphrase/);
  });

  test('a chain through an intermediate in certs.cert is accepted', () => {
    const inter = path.join(dir, 'inter');
    execFileSync('mkdir', ['-p', inter]);
    // intermediate CA signed by the root
    const i = makeLeaf(dir, set, 'intermediate', { cn: 'intermediate', eku: undefined });
    execFileSync('openssl', ['x509', '-req', '-days', '2', '-sha256', '-in', path.join(dir, 'intermediate.csr'), '-CA', set.ca, '-CAkey', set.caKey, '-CAcreateserial', '-out', i.cert, '-extfile', writeExt(dir, 'basicConstraints=critical,CA:TRUE\nkeyUsage=keyCertSign,cRLSign\n')]);
    const leaf = makeLeaf(dir, { ca: i.cert, caKey: i.key }, 'leaf2', { cn: 'localhost', san: 'DNS:localhost', eku: 'serverAuth' });
    const r = certificateProblems({ ca: pem(set.ca), cert: pem(leaf.cert) + pem(i.cert), key: pem(leaf.key) }, Date.now());
    expect(r.facts!.subject).toBe('CN=localhost');
    expect(said({ ca: pem(set.ca), cert: pem(leaf.cert), key: pem(leaf.key) }, Date.now())).toMatch(/not issued by the CA/);
  });

  test('keyUsage bits are read from DER', () => {
    const ca = new X509Certificate(pem(set.ca));
    // openssl req -x509 gives the CA no keyUsage extension by default
    expect(keyUsageBits(ca.raw)).toBeUndefined();
  });
});

function writeExt(d: string, text: string): string {
  const p = path.join(d, `ext-${Math.random().toString(16).slice(2)}.cnf`);
  execFileSync('sh', ['-c', `printf '%s' "$1" > "$2"`, 'sh', text, p]);
  return p;
}
