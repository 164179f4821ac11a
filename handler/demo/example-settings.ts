import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

// The embedded default behind `npm start` and a dry run outside an Azure VM: the settings a
// typical deployment sends (TLS on 2376, a log option), with a throwaway CA and server
// certificate made in memory so the whole validation path runs for real. Nothing is written.

export interface ExampleSettings {
  publicSettings: Record<string, unknown>;
  protectedSettings: Record<string, unknown>;
}

export function exampleSettings(now = new Date()): ExampleSettings {
  const ca = makeCert({ cn: 'Example Docker CA', isCa: true, now });
  const server = makeCert({ cn: 'localhost', isCa: false, now, issuer: ca });
  return {
    publicSettings: { docker: { port: 2376, options: ['--log-opt', 'max-size=10m'] } },
    protectedSettings: { certs: { ca: ca.certPem, cert: server.certPem, key: server.keyPem } },
  };
}

interface Made {
  certPem: string;
  keyPem: string;
  cert: forge.pki.Certificate;
  key: forge.pki.rsa.PrivateKey;
}

function makeCert(o: { cn: string; isCa: boolean; now: Date; issuer?: Made }): Made {
  // node:crypto makes the key (forge's pure-JS keygen takes seconds); forge builds the X.509.
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const key = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  cert.serialNumber = '01' + randomBytes(8).toString('hex');
  cert.validity.notBefore = new Date(o.now.getTime() - 60_000);
  cert.validity.notAfter = new Date(o.now.getTime() + 90 * 86_400_000);
  cert.setSubject([{ name: 'commonName', value: o.cn }]);
  cert.setIssuer(o.issuer ? o.issuer.cert.subject.attributes : [{ name: 'commonName', value: o.cn }]);
  cert.setExtensions(
    o.isCa
      ? [{ name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true }]
      : [
          { name: 'basicConstraints', cA: false },
          { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
          { name: 'extKeyUsage', serverAuth: true },
          { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] },
        ],
  );
  cert.sign(o.issuer ? o.issuer.key : key, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem, cert, key };
}
