import { sha256Prefix } from '../digest.js';
import { DEFAULT_TLS_PORT, type HandlerSettings } from './settings.js';
import { describeEnv, desiredCompose } from '../compose/desired.js';

/**
 * A value the admin can compare with their own copy without it being shown: sha256:<12 hex>.
 * Only for high-entropy material: certificates (public anyway) and the private key, whose 48-bit
 * hash prefix says nothing about 2048 bits of key. Never for a password or a user name: an
 * unsalted hash of a human-chosen string is recovered offline in milliseconds.
 */
export function fingerprint(value: string): string {
  return `sha256:${sha256Prefix(value)}`;
}

/**
 * What enable will configure, in one line for the status substatus. Proves the protected
 * settings were decrypted and validated without showing a single secret.
 */
export function summariseSettings(s: HandlerSettings): string {
  const parts: string[] = [];
  const d = s.public.docker;
  const certs = s.protected.certs;
  if (certs?.issuer) {
    const t = d.tls;
    parts.push(
      `TCP ${d.port ?? DEFAULT_TLS_PORT} with TLS client verification (ca ${fingerprint(certs.ca)}); a server certificate issued on this VM by issuer ${fingerprint(certs.issuer.cert)} ` +
        `for ${t.testValiditySeconds !== undefined ? `${t.testValiditySeconds} s (test-only validity)` : `${t.days} days`}, renewed ${typeof t.renewBefore === 'number' ? `${t.renewBefore} days` : `${t.renewBefore} of its validity`} before it expires`,
    );
  } else if (certs?.cert !== undefined && certs.key !== undefined) {
    parts.push(
      `TCP ${d.port ?? DEFAULT_TLS_PORT} with TLS client verification (ca ${fingerprint(certs.ca)}, cert ${fingerprint(certs.cert)}, key ${fingerprint(certs.key)})`,
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
  if (login) parts.push(`registry login (not applied yet) to ${login.server ?? 'Docker Hub'}: user and password set`);
  const env = s.protected.environment;
  if (env && Object.keys(env).length) parts.push(`${Object.keys(env).length} protected environment variable(s) set`);
  if (s.public['azure-environment'] !== 'AzureCloud') parts.push(`cloud ${s.public['azure-environment']}`);
  return parts.join('; ');
}

/**
 * Settings this version accepts (the old extension's keys) but does not act on yet: said in the
 * status so that no admin believes a registry login happened.
 */
export function notYetApplied(s: HandlerSettings): string[] {
  const out: string[] = [];
  if (s.protected.login) out.push('protected "login" is accepted but no registry login is done by this version');
  return out;
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
  if (login) out.push(login.username, login.password, ...(login.email ? [login.email] : []));
  if (environment) for (const [k, v] of Object.entries(environment)) out.push(k, v);
  return out;
}
