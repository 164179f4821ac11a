// Certificates made at test time with the openssl CLI (never committed): a CA, a server
// certificate for 127.0.0.1/localhost with serverAuth, a client certificate, and variants.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

export interface CertSet {
  dir: string;
  ca: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

function ossl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export interface ServerCertOptions {
  cn?: string;
  san?: string;
  eku?: string;
  days?: number;
}

/** A CA with `name` in `dir`. */
export function makeCa(dir: string, name = 'test-ca', days = 2): { ca: string; caKey: string } {
  mkdirSync(dir, { recursive: true });
  ossl(['genrsa', '-out', `${name}-key.pem`, '2048'], dir);
  ossl(['req', '-new', '-x509', '-days', String(days), '-key', `${name}-key.pem`, '-sha256', '-subj', `/CN=${name}`, '-out', `${name}.pem`], dir);
  return { ca: path.join(dir, `${name}.pem`), caKey: path.join(dir, `${name}-key.pem`) };
}

/** Leaf signed by the CA; returns cert and key paths. */
export function makeLeaf(dir: string, ca: { ca: string; caKey: string }, name: string, opts: ServerCertOptions = {}): { cert: string; key: string } {
  ossl(['genrsa', '-out', `${name}-key.pem`, '2048'], dir);
  ossl(['req', '-new', '-key', `${name}-key.pem`, '-sha256', '-subj', `/CN=${opts.cn ?? name}`, '-out', `${name}.csr`], dir);
  const ext = [opts.san ? `subjectAltName = ${opts.san}` : '', opts.eku ? `extendedKeyUsage = ${opts.eku}` : ''].filter(Boolean).join('\n');
  writeFileSync(path.join(dir, `${name}.cnf`), `${ext}\n`);
  ossl(['x509', '-req', '-days', String(opts.days ?? 2), '-sha256', '-in', `${name}.csr`, '-CA', ca.ca, '-CAkey', ca.caKey, '-CAcreateserial', '-out', `${name}.pem`, '-extfile', `${name}.cnf`], dir);
  return { cert: path.join(dir, `${name}.pem`), key: path.join(dir, `${name}-key.pem`) };
}

export function makeCertSet(dir: string): CertSet {
  const ca = makeCa(dir);
  const server = makeLeaf(dir, ca, 'server', { cn: 'localhost', san: 'IP:127.0.0.1,DNS:localhost', eku: 'serverAuth' });
  const client = makeLeaf(dir, ca, 'client', { eku: 'clientAuth' });
  return { dir, ...ca, serverCert: server.cert, serverKey: server.key, clientCert: client.cert, clientKey: client.key };
}

export const pem = (p: string) => readFileSync(p, 'utf8');

/** The protected `certs` setting as the handler receives it after parsing (PEM text). */
export function certsSetting(c: { ca: string; serverCert: string; serverKey: string }): { ca: string; cert: string; key: string } {
  const norm = (s: string) => s.replace(/\r\n/g, '\n').trim() + '\n';
  return { ca: norm(pem(c.ca)), cert: norm(pem(c.serverCert)), key: norm(pem(c.serverKey)) };
}

/** A CA with an ECDSA P-256 key (the issuer case node-forge could not sign with). */
export function makeEcCa(dir: string, name = 'ec-ca', days = 30): { ca: string; caKey: string } {
  mkdirSync(dir, { recursive: true });
  ossl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}-key.pem`], dir);
  ossl(['req', '-new', '-x509', '-days', String(days), '-key', `${name}-key.pem`, '-sha256', '-subj', `/CN=${name}`, '-out', `${name}.pem`], dir);
  return { ca: path.join(dir, `${name}.pem`), caKey: path.join(dir, `${name}-key.pem`) };
}

/** A CA certificate whose validity ended in 2020 (openssl ca sets the dates that req -x509 cannot). */
export function makeExpiredCa(dir: string, name = 'expired-ca'): { ca: string; caKey: string } {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `${name}-index.txt`), '');
  writeFileSync(path.join(dir, `${name}-serial`), '01\n');
  writeFileSync(
    path.join(dir, `${name}.cnf`),
    [
      '[ca]', 'default_ca = d', '[d]', `database = ${name}-index.txt`, 'new_certs_dir = .', `serial = ${name}-serial`, 'default_md = sha256', 'policy = p', 'unique_subject = no',
      '[p]', 'commonName = supplied', '[v3_ca]', 'basicConstraints = critical,CA:TRUE', 'keyUsage = critical,keyCertSign,cRLSign', '',
    ].join('\n'),
  );
  ossl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}-key.pem`, '-subj', `/CN=${name}`, '-out', `${name}.csr`], dir);
  ossl(['ca', '-batch', '-selfsign', '-config', `${name}.cnf`, '-keyfile', `${name}-key.pem`, '-in', `${name}.csr`, '-out', `${name}.pem`, '-startdate', '20200101000000Z', '-enddate', '20200201000000Z', '-extensions', 'v3_ca', '-notext'], dir);
  return { ca: path.join(dir, `${name}.pem`), caKey: path.join(dir, `${name}-key.pem`) };
}

/** The protected `certs` setting with an issuer instead of cert + key. */
export function issuerSetting(clientCa: string, issuer: { ca: string; caKey: string }): { ca: string; issuer: { cert: string; key: string } } {
  return { ca: pem(clientCa), issuer: { cert: pem(issuer.ca), key: pem(issuer.caKey) } };
}

/**
 * The PKI of a VM that issues its own certificate: a client CA, an ECDSA issuer (each 30 days) and
 * a client certificate. `prot` is the protected settings; `client` the PEMs a TLS client presents
 * and trusts (the issuer, which signs the VM's certificate).
 */
export function issuerPki(dir: string): { prot: { certs: ReturnType<typeof issuerSetting> }; client: { ca: string; cert: string; key: string } } {
  const clientCa = makeCa(dir, 'client-ca', 30);
  const issuer = makeEcCa(dir, 'server-issuer', 30);
  const c = makeLeaf(dir, clientCa, 'client', { eku: 'clientAuth' });
  return { prot: { certs: issuerSetting(clientCa.ca, issuer) }, client: { ca: pem(issuer.ca), cert: pem(c.cert), key: pem(c.key) } };
}
