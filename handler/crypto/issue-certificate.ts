// Issues the VM's own TLS server certificate from the CA in protected "certs.issuer".
//
// Why @peculiar/x509: node:crypto verifies certificates but cannot make one, and node-forge
// (already bundled for the CMS settings) signs only with RSA keys, so an ECDSA issuer would be
// refused. @peculiar/x509 builds and signs through node:crypto's WebCrypto, so RSA and ECDSA
// (P-256, P-384) issuers both work, with no native code. It is loaded only when a certificate is
// actually issued (dynamic import), from a bundle of its own (dist/x509.cjs): the no-op re-enable
// and the monitor's ticks never load it.
import { createPrivateKey, generateKeyPairSync, randomBytes, webcrypto, X509Certificate, type KeyObject } from 'node:crypto';

export interface Issuer {
  cert: string;
  key: string;
}

export interface VmNames {
  dns: string[];
  ips: string[];
}

export interface IssuedCertificate {
  certPem: string;
  /** PKCS#8 PEM of a P-256 key made here; it never leaves the VM. */
  keyPem: string;
  notBefore: number;
  notAfter: number;
  fingerprint256: string;
}

const DAY = 86_400_000;
/** Backdated a little: a client whose clock lags the VM's by a minute still accepts a fresh certificate. */
const BACKDATE_MS = 5 * 60_000;

type X509Lib = typeof import('@peculiar/x509');
let lib: Promise<X509Lib> | undefined;
async function x509(): Promise<X509Lib> {
  installMetadataShim();
  lib ??= import('@peculiar/x509').then((ns) => {
    // From the package's own bundle (dist/x509.cjs, scripts/build.mjs) the named exports may sit
    // on the CommonJS default export only.
    const m = ((ns as { cryptoProvider?: unknown }).cryptoProvider ? ns : (ns as unknown as { default: X509Lib }).default) as X509Lib;
    m.cryptoProvider.set(webcrypto as unknown as Parameters<typeof m.cryptoProvider.set>[0]);
    return m;
  });
  return lib;
}

/**
 * @peculiar/x509 registers its algorithms in tsyringe, which refuses to load without the
 * reflect-metadata polyfill. It only stores and reads back the metadata of its own decorators
 * (getMetadata, getOwnMetadata, defineMetadata), so these three over a WeakMap do, without a
 * second package; installed only in a process that issues a certificate, and never over a real one.
 */
function installMetadataShim(): void {
  const R = Reflect as unknown as Record<string, unknown>;
  if (typeof R.getMetadata === 'function') return;
  const store = new WeakMap<object, Map<unknown, unknown>>();
  const own = (target: object, key: unknown) => store.get(target)?.get(key);
  R.defineMetadata = (key: unknown, value: unknown, target: object) => {
    let m = store.get(target);
    if (!m) store.set(target, (m = new Map()));
    m.set(key, value);
  };
  R.getOwnMetadata = own;
  R.getMetadata = (key: unknown, target: object) => {
    for (let t: object | null = target; t; t = Object.getPrototypeOf(t) as object | null) {
      const v = own(t, key);
      if (v !== undefined) return v;
    }
    return undefined;
  };
}

/** WebCrypto's name for the issuer key's signature algorithm (the hash follows the curve's size). */
function signingAlgorithm(key: KeyObject): { importAlg: webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams; sign: webcrypto.Algorithm | webcrypto.EcdsaParams } {
  if (key.asymmetricKeyType === 'rsa') {
    return { importAlg: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, sign: { name: 'RSASSA-PKCS1-v1_5' } };
  }
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    const named = curve === 'prime256v1' ? 'P-256' : curve === 'secp384r1' ? 'P-384' : curve === 'secp521r1' ? 'P-521' : undefined;
    if (!named) throw new Error(`the issuer key's curve ${curve ?? '(unknown)'} is not one of P-256, P-384, P-521`);
    const hash = named === 'P-256' ? 'SHA-256' : named === 'P-384' ? 'SHA-384' : 'SHA-512';
    return { importAlg: { name: 'ECDSA', namedCurve: named }, sign: { name: 'ECDSA', hash } as webcrypto.EcdsaParams };
  }
  throw new Error(`the issuer key is ${key.asymmetricKeyType ?? 'of an unknown type'}; an RSA or ECDSA key is expected`);
}

/**
 * A new P-256 key and a certificate for `names` signed by the issuer, valid `days` from `now`.
 * The issuer has been checked (checkIssuer) before.
 */
export async function issueServerCertificate(issuer: Issuer, names: VmNames, validityMs: number, now: number): Promise<IssuedCertificate> {
  const x = await x509();
  const subtle = webcrypto.subtle;
  const issuerKey = createPrivateKey(issuer.key);
  const alg = signingAlgorithm(issuerKey);
  const signingKey = await subtle.importKey('pkcs8', issuerKey.export({ format: 'der', type: 'pkcs8' }), alg.importAlg, false, ['sign']);
  const issuerCert = new x.X509Certificate(firstCertificate(issuer.cert));

  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicKey = await subtle.importKey('spki', pair.publicKey.export({ format: 'der', type: 'spki' }), { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']);
  const notBefore = now - BACKDATE_MS;
  const notAfter = now + validityMs;
  const cn = names.dns[0] ?? names.ips[0] ?? 'localhost';
  const cert = await x.X509CertificateGenerator.create({
    // Positive, 16 random bytes (RFC 5280 allows up to 20 octets).
    serialNumber: `01${randomBytes(15).toString('hex')}`,
    subject: [{ CN: [cn] }],
    // The CA's subject as it is encoded, byte for byte: clients match issuer and subject exactly.
    issuer: issuerCert.subjectName,
    notBefore: new Date(notBefore),
    notAfter: new Date(notAfter),
    signingAlgorithm: alg.sign as never,
    publicKey: publicKey as never,
    signingKey: signingKey as never,
    extensions: [
      new x.BasicConstraintsExtension(false, undefined, true),
      new x.KeyUsagesExtension(x.KeyUsageFlags.digitalSignature | x.KeyUsageFlags.keyEncipherment, true),
      new x.ExtendedKeyUsageExtension([x.ExtendedKeyUsage.serverAuth], false),
      new x.SubjectAlternativeNameExtension([...names.dns.map((value) => ({ type: 'dns' as const, value })), ...names.ips.map((value) => ({ type: 'ip' as const, value }))], false),
      await x.SubjectKeyIdentifierExtension.create(publicKey as never),
      await x.AuthorityKeyIdentifierExtension.create(issuerCert),
    ],
  });
  const certPem = cert.toString('pem').replace(/\r\n/g, '\n').trim() + '\n';
  const keyPem = pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  return { certPem, keyPem, notBefore, notAfter, fingerprint256: new X509Certificate(certPem).fingerprint256 };
}

export function firstCertificate(pem: string): string {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)?.[0] ?? pem;
}

export const validityMs = (days: number) => days * DAY;
