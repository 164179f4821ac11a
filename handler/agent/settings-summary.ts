import { describeFingerprint } from '../crypto/fingerprint.js';
import { DEFAULT_TLS_PORT, type HandlerSettings } from './settings.js';
import { describeEnv, desiredCompose } from '../compose/desired.js';

/**
 * What enable will configure, in one line for the status substatus. Proves the protected
 * settings were decrypted and validated without showing a single secret: certificates by their
 * X.509 SHA-256 fingerprint (as `openssl x509 -noout -fingerprint -sha256` prints it), the key
 * and the credentials only as "set" (no hash of a key, password or user name is ever shown).
 */
export function summariseSettings(s: HandlerSettings): string {
  const parts: string[] = [];
  const d = s.public.docker;
  const certs = s.protected.certs;
  if (certs?.issuer) {
    const t = d.tls;
    parts.push(
      `TCP ${d.port ?? DEFAULT_TLS_PORT} with TLS client verification (ca ${describeFingerprint(certs.ca)}); a server certificate issued on this VM by issuer ${describeFingerprint(certs.issuer.cert)} ` +
        `for ${t.testValiditySeconds !== undefined ? `${t.testValiditySeconds} s (test-only validity)` : `${t.days} days`}, renewed ${typeof t.renewBefore === 'number' ? `${t.renewBefore} days` : `${t.renewBefore} of its validity`} before it expires`,
    );
  } else if (certs?.cert !== undefined && certs.key !== undefined) {
    parts.push(
      `TCP ${d.port ?? DEFAULT_TLS_PORT} with TLS client verification (ca ${describeFingerprint(certs.ca)}; cert ${describeFingerprint(certs.cert)}; key set, never fingerprinted)`,
    );
  } else if (d.port !== undefined && d.allowInsecureTcp) {
    parts.push(`TCP ${d.port} WITHOUT TLS (docker.allowInsecureTcp)`);
  } else {
    parts.push('local socket only (no TCP listener: no certificates given)');
  }
  parts.push(`engine from ${d.engine.source}${d.engine.version ? ` ${d.engine.version}` : ''}`);
  if (d.options.length) parts.push(`daemon options: ${d.options.join(' ')}`);
  const compose = desiredCompose(s);
  if (compose) parts.push(`compose project ${compose.project} (services ${compose.services.join(', ') || '(none)'}; environment ${describeEnv(compose)})`);
  const login = s.protected.login;
  // Credentials are never shown, not even hashed: "set" is all the admin needs to see that they
  // arrived. The server is a validated host name (registry-host.ts); the variables' names may be
  // secrets pasted in the wrong place, so only their number is shown.
  if (login) parts.push(`registry login to ${login.server ?? 'Docker Hub'} for root and the VM's provisioned account: user name and password set`);
  const env = s.protected.environment;
  if (env && Object.keys(env).length) parts.push(`${Object.keys(env).length} protected environment variable(s) set`);
  if (s.public['azure-environment'] !== 'AzureCloud') parts.push(`cloud ${s.public['azure-environment']}`);
  return parts.join('; ');
}

/**
 * Every protected value but the registry's host name, as validated (the key normalised to PEM), and the environment's names:
 * scrubbed from anything the handler publishes. The certificates are public by nature, but
 * nothing the handler writes ever quotes them, so scrubbing them costs nothing.
 */
export function secretValues(s: HandlerSettings): string[] {
  const out: string[] = [];
  const { certs, login, environment } = s.protected;
  if (certs) out.push(certs.ca, ...[certs.key, certs.cert, certs.issuer?.key, certs.issuer?.cert].filter((v): v is string => v !== undefined));
  // Not the server: a host name, shown in the status (registry-host.ts).
  // "user:password" too: docker's config.json and an auth header hold it base64-encoded.
  if (login) out.push(login.username, login.password, `${login.username}:${login.password}`, ...(login.email ? [login.email] : []));
  if (environment) for (const [k, v] of Object.entries(environment)) out.push(k, v);
  return out;
}
