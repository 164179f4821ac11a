// "certs.issuer": the VM makes its own key and certificate, with the names it answers to. The
// decisions (which names, keep or issue, is the issuer usable) are pure and shared by enable and
// the monitor's renewal; the signing itself is in crypto/issue-certificate.ts (loaded lazily).
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { networkInterfaces, hostname } from 'node:os';
import { ConfigError } from '../errors.js';
import type { Issuer, TlsSettings } from '../agent/settings.js';
import type { CommandRunner } from '../system/ports.js';
import { keyUsageBits } from './certs.js';

const DAY = 86_400_000;

export interface VmNames {
  dns: string[];
  ips: string[];
}

export interface IssuancePolicy {
  validityMs: number;
  renewBeforeMs: number;
  extraNames: string[];
}

export function policyOf(tls: TlsSettings): IssuancePolicy {
  const testOnly = tls.testValiditySeconds !== undefined;
  const validityMs = testOnly ? tls.testValiditySeconds! * 1000 : tls.days * DAY;
  // "1/k" of the validity; a number of days, except with the test-only validity of seconds (then 1/3).
  const renewBeforeMs =
    typeof tls.renewBefore === 'string' ? validityMs / Number(tls.renewBefore.slice(2)) : testOnly ? validityMs / 3 : tls.renewBefore * DAY;
  return { validityMs, renewBeforeMs, extraNames: tls.subjectAltNames };
}

export interface HostFacts {
  hostname: string;
  fqdn?: string;
  /** Non-loopback addresses of the VM's own interfaces. */
  addresses: string[];
}

/**
 * Interfaces Docker makes (its bridges, a container's veth end): their addresses are no name of
 * the VM, and counting them would renew the certificate whenever a user creates a network.
 */
const DOCKER_INTERFACE = /^(docker\d*|docker_gwbridge|br-[0-9a-f]+|veth.*)$/;

/**
 * The addresses clients may use to reach the VM: those of its own interfaces, without loopback,
 * link-local IPv6, Docker's interfaces, and any Linux bridge. A bridge is the gateway of a network
 * inside the VM (a compose network given its own bridge name, libvirt's, another container
 * runtime's): it comes and goes with that network, and would renew the certificate each time.
 */
export function vmAddresses(interfaces: NodeJS.Dict<Array<{ address: string; internal: boolean }>>, isBridge: (name: string) => boolean): string[] {
  const addresses: string[] = [];
  for (const [name, list] of Object.entries(interfaces)) {
    if (DOCKER_INTERFACE.test(name) || isBridge(name)) continue;
    for (const a of list ?? []) {
      // Link-local IPv6 needs a zone to dial: no client uses it as a name.
      if (a.internal || /^fe80:/i.test(a.address)) continue;
      addresses.push(a.address);
    }
  }
  return addresses;
}

/** The kernel says so: a bridge has /sys/class/net/<name>/bridge. */
const isLinuxBridge = (name: string) => /^[^/]+$/.test(name) && existsSync(`/sys/class/net/${name}/bridge`);

export async function readHostFacts(cmd: CommandRunner | undefined): Promise<HostFacts> {
  const addresses = vmAddresses(networkInterfaces(), isLinuxBridge);
  const facts: HostFacts = { hostname: hostname(), addresses };
  if (cmd) {
    const r = await cmd.run('hostname', ['--fqdn'], { timeoutMs: 5_000 }).catch(() => undefined);
    const fqdn = r?.exitCode === 0 ? r.stdout.trim() : '';
    if (fqdn && /^[A-Za-z0-9.-]+$/.test(fqdn)) facts.fqdn = fqdn;
  }
  return facts;
}

/** The names the certificate carries: host name, FQDN, addresses, localhost and 127.0.0.1, and the extra names. */
export function wantedNames(host: HostFacts, extra: readonly string[]): VmNames {
  const dns = new Set<string>();
  const ips = new Set<string>();
  for (const n of [host.hostname, host.fqdn, 'localhost', '127.0.0.1', ...host.addresses, ...extra]) {
    if (!n) continue;
    if (isIP(n)) ips.add(n);
    else dns.add(n.toLowerCase());
  }
  return { dns: [...dns].sort(), ips: [...ips].sort() };
}

export interface IssuerFacts {
  subject: string;
  fingerprint256: string;
  notAfter: number;
}

/** The issuer can sign: its key matches, it is a CA allowed to sign certificates, valid now. All problems at once. */
export function checkIssuer(issuer: Issuer, now: number): IssuerFacts {
  const r = issuerProblems(issuer, now);
  if (!r.facts) throw new ConfigError(`Invalid certificates: ${r.problems.join('; ')}. Nothing was changed.`, 'ECERTS');
  return r.facts;
}

/** checkIssuer's findings without throwing: `facts` only when there is no problem. */
export function issuerProblems(issuer: Issuer, now: number): { problems: string[]; facts?: IssuerFacts } {
  const problems: string[] = [];
  const certs = issuer.cert.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  let cert: X509Certificate | undefined;
  if (certs.length === 0) problems.push(`protected setting "certs.issuer.cert" contains no PEM certificate ("-----BEGIN CERTIFICATE-----")`);
  else {
    try {
      cert = new X509Certificate(certs[0]!);
    } catch {
      problems.push(`protected setting "certs.issuer.cert" contains a certificate that cannot be parsed`);
    }
  }
  if (/ENCRYPTED/.test(issuer.key)) problems.push(`protected setting "certs.issuer.key" is encrypted with a passphrase; give the unencrypted key (openssl pkey -in key.pem -out plain.pem)`);
  else {
    let key: KeyObject | undefined;
    try {
      key = createPrivateKey(issuer.key);
    } catch {
      problems.push(`protected setting "certs.issuer.key" is not a PEM private key`);
    }
    if (key && key.asymmetricKeyType !== 'rsa' && key.asymmetricKeyType !== 'ec') {
      problems.push(`protected setting "certs.issuer.key" is an ${key.asymmetricKeyType ?? 'unknown'} key; an RSA or ECDSA (P-256, P-384, P-521) key is expected`);
    } else if (key && cert && !cert.checkPrivateKey(key)) {
      problems.push(`protected setting "certs.issuer.key" does not belong to the certificate in "certs.issuer.cert" (their public keys differ)`);
    }
  }
  if (cert) {
    if (!cert.ca) {
      problems.push(
        `protected setting "certs.issuer.cert" is not a CA certificate (basicConstraints CA:FALSE or absent), so clients would refuse what it signs; give a CA made with "basicConstraints = critical,CA:TRUE"`,
      );
    } else {
      const ku = keyUsageBits(cert.raw);
      if (ku && !ku.keyCertSign) problems.push(`protected setting "certs.issuer.cert" may not sign certificates: its key usage lacks keyCertSign`);
    }
    const from = Date.parse(cert.validFrom);
    const to = Date.parse(cert.validTo);
    if (now > to) problems.push(`protected setting "certs.issuer.cert": the issuer CA expired on ${isoDate(to)}; give a valid CA`);
    else if (now < from) problems.push(`protected setting "certs.issuer.cert": the issuer CA is not valid before ${isoDate(from)} (check the VM clock or the CA)`);
  }
  if (problems.length > 0 || !cert) return { problems };
  return { problems, facts: { subject: cert.subject.split('\n').filter(Boolean).join(', '), fingerprint256: cert.fingerprint256, notAfter: Date.parse(cert.validTo) } };
}

export type Decision = { kind: 'keep'; notAfter: number; renewAt: number; fingerprint256: string } | { kind: 'issue'; reason: string };

/**
 * Keep the certificate on disk while it is issued by this issuer, its key matches, it names
 * exactly the VM's names, and it is not yet within `renewBefore` of its expiry.
 */
export function decide(existing: { cert?: string | undefined; key?: string | undefined }, issuerCertPem: string, names: VmNames, policy: IssuancePolicy, now: number): Decision {
  if (existing.cert === undefined || existing.key === undefined) return { kind: 'issue', reason: 'no certificate was issued on this VM yet' };
  let cert: X509Certificate;
  let issuer: X509Certificate;
  try {
    cert = new X509Certificate(existing.cert);
    issuer = new X509Certificate(issuerCertPem);
  } catch {
    return { kind: 'issue', reason: 'the certificate file cannot be parsed' };
  }
  try {
    if (!cert.checkPrivateKey(createPrivateKey(existing.key))) return { kind: 'issue', reason: 'the key file does not belong to the certificate' };
  } catch {
    return { kind: 'issue', reason: 'the key file cannot be read' };
  }
  if (!cert.checkIssued(issuer) || !cert.verify(issuer.publicKey)) return { kind: 'issue', reason: 'the certificate was not issued by "certs.issuer" (a new issuer, or a certificate given before)' };
  const have = namesOf(cert);
  const added = [...names.dns.filter((n) => !have.dns.includes(n)), ...names.ips.filter((n) => !have.ips.includes(n))];
  const removed = [...have.dns.filter((n) => !names.dns.includes(n)), ...have.ips.filter((n) => !names.ips.includes(n))];
  if (added.length || removed.length) {
    return { kind: 'issue', reason: `the VM's names changed (${[...added.map((n) => `+${n}`), ...removed.map((n) => `-${n}`)].join(', ')})` };
  }
  const notAfter = Date.parse(cert.validTo);
  const renewAt = notAfter - policy.renewBeforeMs;
  if (now >= notAfter) return { kind: 'issue', reason: `the certificate expired at ${new Date(notAfter).toISOString()}` };
  if (now >= renewAt) return { kind: 'issue', reason: `the certificate expires at ${new Date(notAfter).toISOString()}, within the renewal window` };
  if (now < Date.parse(cert.validFrom)) return { kind: 'issue', reason: 'the certificate is not valid yet (the clock went back)' };
  return { kind: 'keep', notAfter, renewAt, fingerprint256: cert.fingerprint256 };
}

/** The subjectAltName entries of a certificate, as wantedNames lists them. */
export function namesOf(cert: X509Certificate): VmNames {
  const dns: string[] = [];
  const ips: string[] = [];
  for (const part of (cert.subjectAltName ?? '').split(/,\s*/)) {
    const m = /^(DNS|IP Address):(.+)$/.exec(part.trim());
    if (!m) continue;
    if (m[1] === 'DNS') dns.push(m[2]!.toLowerCase());
    else ips.push(canonicalIp(m[2]!));
  }
  return { dns: dns.sort(), ips: ips.sort() };
}

function canonicalIp(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  try {
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip.toLowerCase();
  }
}

export function describeNames(n: VmNames): string {
  return [...n.dns.map((d) => `DNS:${d}`), ...n.ips.map((i) => `IP:${i}`)].join(', ');
}

export function isoDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function describeValidity(ms: number): string {
  return ms % DAY === 0 ? `${ms / DAY} days` : `${Math.round(ms / 1000)} s (test-only validity)`;
}
