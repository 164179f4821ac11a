// Certificates for the VM end-to-end suite, made at test time with the openssl CLI on the host (never
// committed): a CA, a server certificate for 127.0.0.1/localhost (serverAuth), a client certificate
// (clientAuth) from the same CA, and an unrelated second CA with its own client certificate (a client that
// dockerd must refuse).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

export interface PemPair {
  cert: string;
  key: string;
  certPath: string;
  keyPath: string;
}

export interface E2eCerts {
  dir: string;
  ca: PemPair;
  server: PemPair;
  client: PemPair;
  otherCa: PemPair;
  otherClient: PemPair;
}

function ossl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`openssl ${args.join(' ')} failed: ${err.stderr?.toString() ?? err.message}`);
  }
}

function pair(dir: string, name: string): PemPair {
  const certPath = path.join(dir, `${name}.pem`);
  const keyPath = path.join(dir, `${name}-key.pem`);
  return { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8'), certPath, keyPath };
}

function makeCa(dir: string, name: string): PemPair {
  ossl(['genrsa', '-out', `${name}-key.pem`, '2048'], dir);
  ossl(
    ['req', '-new', '-x509', '-days', '365', '-sha256', '-key', `${name}-key.pem`, '-subj', `/CN=${name}`,
     '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
     '-out', `${name}.pem`],
    dir,
  );
  return pair(dir, name);
}

function makeLeaf(dir: string, ca: string, name: string, cn: string, ext: string[]): PemPair {
  ossl(['genrsa', '-out', `${name}-key.pem`, '2048'], dir);
  ossl(['req', '-new', '-sha256', '-key', `${name}-key.pem`, '-subj', `/CN=${cn}`, '-out', `${name}.csr`], dir);
  writeFileSync(path.join(dir, `${name}.ext`), `${ext.join('\n')}\n`);
  ossl(
    ['x509', '-req', '-days', '90', '-sha256', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}-key.pem`,
     '-CAcreateserial', '-extfile', `${name}.ext`, '-out', `${name}.pem`],
    dir,
  );
  return pair(dir, name);
}

/** Everything the scenario needs, in `dir` (created). */
export function makeE2eCerts(dir: string): E2eCerts {
  mkdirSync(dir, { recursive: true });
  const ca = makeCa(dir, 'e2e-ca');
  const server = makeLeaf(dir, 'e2e-ca', 'server', 'localhost', [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]);
  const client = makeLeaf(dir, 'e2e-ca', 'client', 'e2e-client', [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=clientAuth',
  ]);
  const otherCa = makeCa(dir, 'other-ca');
  const otherClient = makeLeaf(dir, 'other-ca', 'other-client', 'intruder', [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=clientAuth',
  ]);
  return { dir, ca, server, client, otherCa, otherClient };
}

export const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

/** The protected `certs` setting: base64 of the PEM files (the old extension's form) or raw PEM. */
export function certsSetting(c: E2eCerts, form: 'base64' | 'pem', key = c.server.key): { ca: string; cert: string; key: string } {
  return form === 'base64'
    ? { ca: b64(c.ca.cert), cert: b64(c.server.cert), key: b64(key) }
    : { ca: c.ca.cert, cert: c.server.cert, key };
}
