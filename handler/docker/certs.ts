// Checks the protected `certs` before anything is written: dockerd 20.10 has no --validate and
// only reports a bad key pair after it has already mounted its data root (research §6).
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import type { ServerCerts } from '../agent/settings.js';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const ANY_EKU = '2.5.29.37.0';
export const EXPIRY_WARNING_DAYS = 30;
const DAY = 86_400_000;

export interface CertificateFacts {
  subject: string;
  subjectAltName?: string;
  notAfter: string;
  /** sha256 of the server certificate, colon-separated hex as TLS peers report it. */
  fingerprint256: string;
  caSubjects: string[];
}

export interface CertificateCheck {
  facts: CertificateFacts;
  warnings: string[];
}

export function splitPemCertificates(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/**
 * Key matches certificate, certificate chains to the CA (through any intermediates in
 * certs.cert), everything is valid at `now`, and the certificate may be used for TLS server
 * authentication. All problems are returned together, each naming its setting, for the caller to
 * report with the other settings' (preflight.ts, the engine's prepare); `facts` only without one.
 */
export function certificateProblems(certs: ServerCerts, now: number): { problems: string[]; warnings: string[]; facts?: CertificateFacts } {
  const problems: string[] = [];
  const warnings: string[] = [];

  const caPems = splitPemCertificates(certs.ca);
  const ca: X509Certificate[] = [];
  if (caPems.length === 0) problems.push(`protected setting "certs.ca" contains no PEM certificate ("-----BEGIN CERTIFICATE-----")`);
  for (const p of caPems) {
    try {
      ca.push(new X509Certificate(p));
    } catch {
      problems.push(`protected setting "certs.ca" contains a certificate that cannot be parsed`);
    }
  }

  const chainPems = splitPemCertificates(certs.cert);
  let leaf: X509Certificate | undefined;
  const intermediates: X509Certificate[] = [];
  if (chainPems.length === 0) problems.push(`protected setting "certs.cert" contains no PEM certificate ("-----BEGIN CERTIFICATE-----")`);
  chainPems.forEach((p, i) => {
    try {
      const c = new X509Certificate(p);
      if (i === 0) leaf = c;
      else intermediates.push(c);
    } catch {
      problems.push(`protected setting "certs.cert" contains a certificate that cannot be parsed`);
    }
  });

  let key: KeyObject | undefined;
  if (/ENCRYPTED/.test(certs.key)) {
    problems.push(`protected setting "certs.key" is encrypted with a passphrase; dockerd needs an unencrypted key (openssl pkey -in key.pem -out plain.pem)`);
  } else {
    try {
      key = createPrivateKey(certs.key);
    } catch {
      problems.push(`protected setting "certs.key" is not a PEM private key`);
    }
  }

  if (leaf && key && !leaf.checkPrivateKey(key)) {
    problems.push(`protected setting "certs.key" does not belong to the certificate in "certs.cert" (their public keys differ)`);
  }

  if (leaf && ca.length > 0 && !chainsTo(leaf, intermediates, ca)) {
    problems.push(
      `protected setting "certs.cert" was not issued by the CA in "certs.ca" (certificate issuer: ${oneLine(leaf.issuer)}; CA: ${ca.map((c) => oneLine(c.subject)).join(', ')})`,
    );
  }

  const validity = (c: X509Certificate, setting: string, what: string) => {
    const from = Date.parse(c.validFrom);
    const to = Date.parse(c.validTo);
    if (now < from) problems.push(`protected setting "${setting}": the ${what} is not valid before ${isoDate(from)} (check the VM clock or the certificate)`);
    else if (now > to) problems.push(`protected setting "${setting}": the ${what} expired on ${isoDate(to)}`);
    else if (to - now < EXPIRY_WARNING_DAYS * DAY) {
      const days = Math.max(0, Math.floor((to - now) / DAY));
      warnings.push(`protected setting "${setting}": the ${what} expires on ${isoDate(to)} (in ${days} day${days === 1 ? '' : 's'}); renew it and update the settings`);
    }
  };
  if (leaf) validity(leaf, 'certs.cert', 'server certificate');
  intermediates.forEach((c) => validity(c, 'certs.cert', `intermediate certificate ${oneLine(c.subject)}`));
  ca.forEach((c) => validity(c, 'certs.ca', `CA certificate ${oneLine(c.subject)}`));

  if (leaf) {
    const eku = leaf.keyUsage; // Node names the extended key usage list "keyUsage"
    if (eku && eku.length > 0 && !eku.includes(SERVER_AUTH) && !eku.includes(ANY_EKU)) {
      problems.push(
        `protected setting "certs.cert" may not be used by a TLS server: its extended key usage is ${eku.map(ekuName).join(', ')}; issue it with "extendedKeyUsage = serverAuth"`,
      );
    }
    const ku = keyUsageBits(leaf.raw);
    if (ku !== undefined && !(ku.digitalSignature || ku.keyEncipherment || ku.keyAgreement)) {
      problems.push(`protected setting "certs.cert" may not be used by a TLS server: its key usage allows neither digitalSignature nor keyEncipherment`);
    }
    if (leaf.ca) warnings.push(`protected setting "certs.cert" is a CA certificate; a server certificate issued by the CA is expected`);
    if (!leaf.subjectAltName) {
      warnings.push(
        `protected setting "certs.cert" has no subjectAltName: Docker clients (Go ≥ 1.15) refuse to match the host name against the subject CN alone; add "subjectAltName = DNS:<vm name>,IP:<vm ip>"`,
      );
    }
  }
  for (const c of ca) {
    if (!c.ca) warnings.push(`protected setting "certs.ca": ${oneLine(c.subject)} is not marked as a CA (basicConstraints CA:FALSE); clients may refuse it`);
  }

  if (problems.length > 0 || !leaf) return { problems, warnings };
  const facts: CertificateFacts = {
    subject: oneLine(leaf.subject),
    notAfter: isoDate(Date.parse(leaf.validTo)),
    fingerprint256: leaf.fingerprint256,
    caSubjects: ca.map((c) => oneLine(c.subject)),
  };
  if (leaf.subjectAltName) facts.subjectAltName = leaf.subjectAltName;
  return { problems, warnings, facts };
}

function chainsTo(leaf: X509Certificate, intermediates: X509Certificate[], roots: X509Certificate[]): boolean {
  let cur = leaf;
  const pool = [...intermediates];
  for (let depth = 0; depth < 8; depth++) {
    if (roots.some((r) => issuedBy(cur, r))) return true;
    const next = pool.findIndex((i) => issuedBy(cur, i));
    if (next < 0) return false;
    cur = pool.splice(next, 1)[0]!;
  }
  return false;
}

function issuedBy(c: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return c.checkIssued(issuer) && c.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/** The X.509 keyUsage extension (2.5.29.15), which Node does not expose; undefined when absent. */
export function keyUsageBits(der: Buffer): { digitalSignature: boolean; keyEncipherment: boolean; keyAgreement: boolean; keyCertSign: boolean } | undefined {
  const oid = Buffer.from([0x06, 0x03, 0x55, 0x1d, 0x0f]);
  let i = der.indexOf(oid);
  if (i < 0) return undefined;
  i += oid.length;
  if (der[i] === 0x01) i += 2 + der[i + 1]!; // critical BOOLEAN
  if (der[i] !== 0x04) return undefined; // OCTET STRING
  i += 2;
  if (der[i] !== 0x03) return undefined; // BIT STRING
  const len = der[i + 1]!;
  const b0 = len >= 2 ? der[i + 3]! : 0;
  return {
    digitalSignature: (b0 & 0x80) !== 0,
    keyEncipherment: (b0 & 0x20) !== 0,
    keyAgreement: (b0 & 0x08) !== 0,
    keyCertSign: (b0 & 0x04) !== 0,
  };
}

function ekuName(oid: string): string {
  return (
    {
      '1.3.6.1.5.5.7.3.1': 'serverAuth',
      '1.3.6.1.5.5.7.3.2': 'clientAuth',
      '1.3.6.1.5.5.7.3.3': 'codeSigning',
      '1.3.6.1.5.5.7.3.4': 'emailProtection',
      '1.3.6.1.5.5.7.3.8': 'timeStamping',
      '1.3.6.1.5.5.7.3.9': 'OCSPSigning',
    }[oid] ?? oid
  );
}

function oneLine(dn: string): string {
  return dn.split('\n').filter(Boolean).join(', ');
}

function isoDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

