// zod/mini, like every schema the handler loads: classic zod (with its locales) costs about 10 ms
// at every enable and half of the bundle. The messages an admin reads are this file's own.
import * as z from 'zod/mini';
import { ConfigError } from '../errors.js';
import { nonEmpty } from '../schema-mini.js';
import { closest } from './closest.js';
import { normaliseOldForms, type Side } from './old-forms.js';
import { isRegistryHost, REGISTRY_HOST_RE } from './registry-host.js';

export { closest };

// The DockerExtension settings contract: every key of the retired Go extension is accepted,
// plus the keys this handler adds. This file is the single source of the types, the
// validation and the JSON Schema in manifest/ (scripts/gen-schema.mjs).

export const PEM_RE = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----/;
const BASE64_RE = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * The Go extension took base64 of the PEM files; users also paste raw PEM. Both normalise to
 * PEM text. The value is never echoed back in a message: it may be a private key.
 */
const pemOrBase64 = (what: string) =>
  z.pipe(
    z.string().check(z.minLength(1, `must be a non-empty ${what} (PEM text, or base64 of it)`)),
    z.transform((raw: string, ctx) => {
      const trimmed = raw.trim();
      if (PEM_RE.test(trimmed)) return normalisePem(trimmed);
      const compact = trimmed.replace(/\s+/g, '');
      if (compact.length % 4 === 0 && BASE64_RE.test(compact)) {
        const decoded = Buffer.from(compact, 'base64').toString('utf8').trim();
        if (PEM_RE.test(decoded)) return normalisePem(decoded);
      }
      ctx.issues.push({ code: 'custom', message: `must be a ${what} in PEM format ("-----BEGIN …"), or base64 of the PEM file`, input: '' });
      return z.NEVER;
    }),
  );

function normalisePem(pem: string): string {
  return pem.replace(/\r+\n?/g, '\n').trim() + '\n';
}

const PORT_EXPECTED = 'must be a port number, for example 2376';
const portSchema = z.pipe(
  z.pipe(
    z.union([z.number(), z.string().check(z.regex(/^\d+$/, PORT_EXPECTED))], { error: PORT_EXPECTED }),
    z.transform((v: number | string) => Number(v)),
  ),
  z.number().check(z.refine(Number.isInteger, 'must be a whole number'), z.gte(1, 'must be between 1 and 65535'), z.lte(65535, 'must be between 1 and 65535')),
);

const ENV_NAME_EXPECTED = 'letters, digits and _, not starting with a digit';
/**
 * An environment variable's name as a shell and compose take it. A value may be anything but NUL
 * (C strings end there): refused for every string of the settings by parseSettings' first pass.
 */
const envName = () => z.string().check(z.regex(/^[A-Za-z_][A-Za-z0-9_]*$/, `must be ${ENV_NAME_EXPECTED}`));
const envSchema = () => z.record(envName(), z.string());

const REGISTRY_EXPECTED =
  'must be a registry host name with an optional port, for example myregistry.azurecr.io or registry.example.com:5000 ' +
  '(an optional leading https://; no path, spaces or other characters)';

export const ENGINE_SOURCES = ['distro', 'docker-ce', 'moby'] as const;

export const EngineSchema = z.strictObject({
  /** distro: the distribution's own package (docker.io, moby-engine); docker-ce: Docker's repository; moby: Microsoft's. */
  source: z._default(z.enum(ENGINE_SOURCES), 'distro'),
  /** Package version pin, as the package manager spells it (e.g. "5:27.5.1-1~ubuntu.24.04~noble"). */
  version: z.optional(z.string().check(z.regex(/^[A-Za-z0-9.:+~_-]+$/, 'must be a package version, for example 5:27.5.1-1~ubuntu.24.04~noble'))),
  /** Uninstalling the extension keeps the engine, images and containers unless this is true. */
  removeOnUninstall: z._default(z.boolean(), false),
});

const RENEW_EXPECTED = 'must be a fraction of the validity such as "1/3", or a number of days';
/** `certs.issuer`: what the certificate this VM issues itself looks like and when it is renewed. */
export const TlsSchema = z.strictObject({
  /** Extra names (DNS names or IP addresses) besides the VM's own host name, FQDN and addresses. */
  subjectAltNames: z._default(z.array(z.string().check(z.regex(/^[A-Za-z0-9.:*_-]+$/, 'must hold DNS names or IP addresses, for example docker.example.com or 10.0.0.4'))), []),
  days: z._default(z.number().check(z.refine(Number.isInteger, 'must be a whole number of days'), z.gte(1, 'must be between 1 and 825 days'), z.lte(825, 'must be between 1 and 825 days')), 90),
  renewBefore: z._default(
    z.union([z.string().check(z.regex(/^1\/[2-9]$/, RENEW_EXPECTED)), z.number().check(z.gt(0, RENEW_EXPECTED))], { error: RENEW_EXPECTED }),
    '1/3',
  ),
  /**
   * TEST ONLY: a validity of seconds instead of `days`, so that a test sees the monitor renew the
   * certificate within a minute. Never use it on a real VM: the certificate is renewed constantly.
   */
  testValiditySeconds: z.optional(z.number().check(z.refine(Number.isInteger, 'must be a whole number'), z.gte(30, 'must be at least 30'))),
});

export const DockerSchema = z.strictObject({
  port: z.optional(portSchema),
  tls: z.prefault(TlsSchema, {}),
  options: z._default(z.array(z.string()), []),
  engine: z.prefault(EngineSchema, {}),
  /** Explicit opt-in to a TCP listener without TLS: anyone who reaches the port is root on the VM. */
  allowInsecureTcp: z._default(z.boolean(), false),
  /**
   * dockerd's live-restore: containers keep running while the extension restarts dockerd for a
   * configuration change. Off in swarm mode, where Docker does not support it.
   */
  liveRestore: z._default(z.boolean(), true),
});

export const AZURE_ENVIRONMENTS = ['AzureCloud', 'AzureChinaCloud', 'AzureUSGovernment', 'AzureGermanCloud'] as const;

export const PublicSettingsSchema = z.strictObject({
  docker: z.prefault(DockerSchema, {}),
  compose: z.optional(z.record(z.string(), z.unknown())),
  'compose-environment': z.optional(envSchema()),
  'azure-environment': z._default(z.enum(AZURE_ENVIRONMENTS), 'AzureCloud'),
});

export const IssuerSchema = z.strictObject({
  cert: pemOrBase64('CA certificate'),
  key: pemOrBase64('private key'),
});

export const CertsSchema = z.strictObject({
  /** The CA dockerd verifies client certificates with. */
  ca: pemOrBase64('CA certificate'),
  cert: z.optional(pemOrBase64('server certificate')),
  key: z.optional(pemOrBase64('private key')),
  /**
   * A CA that signs this VM's own server certificate (instead of cert + key): the VM makes its key
   * and the monitor renews the certificate. Best a server-only issuing CA, not the one in "ca".
   */
  issuer: z.optional(IssuerSchema),
});

export const LoginSchema = z.strictObject({
  // The pattern (published in the JSON Schema) and, for what a pattern cannot say, the port's
  // range and the length; the second check passes what the first refuses, so one message each.
  server: z.optional(z.string().check(z.regex(REGISTRY_HOST_RE, REGISTRY_EXPECTED), z.refine((v) => !REGISTRY_HOST_RE.test(v) || isRegistryHost(v), REGISTRY_EXPECTED))),
  // Both reach dockerd's /auth and docker's config.json ("auth": base64 of "user:password", which
  // a ":" in the user name would make ambiguous). Never echoed in a message.
  username: nonEmpty('must not be empty').check(z.regex(/^[^\x00-\x1f\x7f:]*$/, 'must be a user name without ":", line breaks or other control characters')),
  password: nonEmpty('must not be empty').check(z.regex(/^[^\x00-\x1f\x7f]*$/, 'must not contain line breaks or other control characters')),
  /** Accepted for compatibility; `docker login --email` was removed in Docker 17.06. */
  email: z.optional(z.string()),
});

export const ProtectedSettingsSchema = z.strictObject({
  certs: z.optional(CertsSchema),
  login: z.optional(LoginSchema),
  environment: z.optional(envSchema()),
});

export type PublicSettings = z.output<typeof PublicSettingsSchema>;
export type ProtectedSettings = z.output<typeof ProtectedSettingsSchema>;
export type Certs = z.output<typeof CertsSchema>;
export type Issuer = z.output<typeof IssuerSchema>;
export type TlsSettings = z.output<typeof TlsSchema>;
/** The files dockerd is given: from the settings, or issued on the VM (handler/docker/issuance.ts). */
export interface ServerCerts {
  ca: string;
  cert: string;
  key: string;
}
export type DockerSettings = z.output<typeof DockerSchema>;
export interface HandlerSettings {
  public: PublicSettings;
  protected: ProtectedSettings;
  /** The old extension's forms that were taken (old-forms.ts), each saying what to write instead. */
  warnings?: readonly string[];
}

export const DEFAULT_TLS_PORT = 2376;

/**
 * Validates both halves and reports every problem at once, each naming the setting and what is
 * expected. `raw*` are parsed JSON (null when the agent sent none).
 */
export function parseSettings(rawPublic: unknown, rawProtected: unknown): HandlerSettings {
  const r = collectSettings(rawPublic, rawProtected);
  if (!r.settings) throw settingsError(r.problems);
  return r.settings;
}

/** The one error every settings problem is reported with (handler/docker/preflight.ts adds the options' and certificates'). */
export function settingsError(problems: readonly string[]): ConfigError {
  return new ConfigError(`Invalid extension settings: ${problems.join('; ')}. Nothing was changed.`, 'ESETTINGS');
}

export interface CollectedSettings {
  /** Set when there is no problem. */
  settings?: HandlerSettings;
  problems: string[];
  warnings: string[];
  /**
   * Each half after the old extension's forms are brought to their meaning, unvalidated: what
   * the deeper checks (dockerd options, certificates) look at when another setting is wrong, so
   * that those problems are said in the same message.
   */
  normalised: { public: unknown; protected: unknown };
}

export function collectSettings(rawPublic: unknown, rawProtected: unknown): CollectedSettings {
  const problems: string[] = [];
  const warnings: string[] = [];
  problems.push(...secretsInPublicProblems(rawPublic));
  const pub = checkSide(rawPublic ?? {}, 'public', PublicSettingsSchema, problems, warnings);
  const prot = checkSide(rawProtected ?? {}, 'protected', ProtectedSettingsSchema, problems, warnings);
  problems.push(...certsChoiceProblems(prot.normalised));
  if (pub.data && prot.data) problems.push(...crossFieldProblems(pub.data, prot.data));
  const normalised = { public: pub.normalised, protected: prot.normalised };
  if (problems.length > 0) return { problems, warnings, normalised };
  return { settings: { public: pub.data!, protected: prot.data!, ...(warnings.length ? { warnings } : {}) }, problems, warnings, normalised };
}

/**
 * Public settings are stored in plain text and shown to anyone who can read the VM (portal, ARM
 * template export, az vm extension show): a secret put there is published already, and refusing
 * it now does not take it back. The admin must know to replace it, not only to move it.
 */
const SECRET_KEYS: Record<string, string> = {
  certs:
    'the private key in it is now exposed: make a new key and certificate (and stop trusting the old ones), then give them in the protected settings',
  login: 'the registry password in it is now exposed: change it at the registry, then give the new one in the protected settings',
  environment: 'its values are now exposed: change every secret among them, then give them in the protected settings',
};

function secretsInPublicProblems(rawPublic: unknown): string[] {
  if (!rawPublic || typeof rawPublic !== 'object' || Array.isArray(rawPublic)) return [];
  return Object.keys(rawPublic)
    .filter((k) => Object.prototype.hasOwnProperty.call(SECRET_KEYS, k.toLowerCase()))
    .map(
      (k) =>
        `"${k}" is in the public settings, which are stored in plain text and visible in the Azure portal and ARM (az vm extension show): ` +
        `${SECRET_KEYS[k.toLowerCase()]}; public settings never hold "${k.toLowerCase()}"`,
    );
}

function checkSide<T extends z.ZodMiniType>(
  raw: unknown,
  side: Side,
  schema: T,
  problems: string[],
  warnings: string[],
): { data: z.output<T> | undefined; normalised: unknown } {
  // What zod cannot be trusted with comes first: it drops a "__proto__" key of a record without a
  // word (and without validating its value), and a stack overflow is no message for an admin.
  const structural = structureProblems(raw, side, schema);
  problems.push(...structural.problems);
  if (structural.tooDeep) return { data: undefined, normalised: undefined };
  // The rest is still checked, without the reserved keys, so that every problem is said at once.
  // The old extension's spellings and empty values are brought to their meaning first.
  const old = normaliseOldForms(structural.reservedKeys ? withoutReservedKeys(raw) : raw, side);
  problems.push(...old.problems);
  warnings.push(...old.warnings);
  const r = schema.safeParse(old.value);
  if (!r.success) problems.push(...describeIssues(r.error.issues, side, schema, old.value));
  const ok = r.success && structural.problems.length === 0 && old.problems.length === 0;
  return { data: ok ? r.data : undefined, normalised: old.value };
}

/** Deeper than any setting goes (compose files included); bounded so that every walk is. */
export const MAX_SETTINGS_DEPTH = 32;
const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const MAX_STRUCTURE_PROBLEMS = 10;

/**
 * Reserved key names (__proto__, constructor, prototype), NUL characters in keys or strings, and
 * nesting deeper than MAX_SETTINGS_DEPTH, anywhere in one side's settings. Iterative: the input
 * may be nested a million levels deep.
 */
function structureProblems(raw: unknown, side: Side, schema: z.ZodMiniType): { problems: string[]; tooDeep: boolean; reservedKeys: boolean } {
  const out: string[] = [];
  const stack: Array<{ v: unknown; path: string[] }> = [{ v: raw, path: [] }];
  let more = 0;
  let tooDeep = false;
  let reservedKeys = false;
  const report = (text: string): void => {
    if (out.length < MAX_STRUCTURE_PROBLEMS) out.push(text);
    else more++;
  };
  while (stack.length) {
    const { v, path } = stack.pop()!;
    if (typeof v === 'string') {
      if (v.includes('\0')) report(`${label(side, schema, path)} contains a NUL character: remove it`);
      continue;
    }
    if (!v || typeof v !== 'object') continue;
    if (path.length >= MAX_SETTINGS_DEPTH) {
      tooDeep = true;
      report(`${label(side, schema, path.slice(0, 3))} is nested more than ${MAX_SETTINGS_DEPTH} levels deep: no setting goes that deep`);
      continue;
    }
    const entries: Array<[string, unknown]> = Array.isArray(v) ? v.map((x, i) => [String(i), x]) : Object.keys(v).map((k) => [k, (v as Record<string, unknown>)[k]]);
    for (const [k, x] of entries.reverse()) {
      if (RESERVED_KEYS.has(k)) {
        reservedKeys = true;
        report(`${label(side, schema, path)}: a key named "${k}" is not accepted (__proto__, constructor and prototype are reserved names)`);
      } else if (k.includes('\0')) report(`${label(side, schema, path)}: a key has a NUL character in its name; remove it`);
      else stack.push({ v: x, path: [...path, k] });
    }
  }
  if (more) out.push(`and ${more} more such problem(s) in the ${side} settings`);
  return { problems: out, tooDeep, reservedKeys };
}

/** A copy without the reserved keys; only called on input no deeper than MAX_SETTINGS_DEPTH. */
function withoutReservedKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutReservedKeys);
  if (!v || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) if (!RESERVED_KEYS.has(k)) out[k] = withoutReservedKeys((v as Record<string, unknown>)[k]);
  return out;
}

/**
 * How a message names a setting. A public one by its full path. A protected one only down to the
 * last key the schema itself defines: below that a key is the user's (an environment variable's
 * name, or a secret pasted as a key by mistake) and is never shown.
 */
function label(side: Side, schema: z.ZodMiniType, path: readonly string[]): string {
  if (side === 'public') return path.length ? `public setting "${path.join('.')}"` : 'public settings';
  const shown = shownPrefix(schema, path);
  const base = shown.length ? `protected setting "${shown.join('.')}"` : 'protected settings';
  return shown.length < path.length ? `${base} (at a key whose name is not shown: protected settings are secret)` : base;
}

function shownPrefix(schema: z.ZodMiniType, path: readonly string[]): string[] {
  const shown: string[] = [];
  for (const seg of path) {
    if (!knownKeysAt(schema, shown).includes(seg)) break;
    shown.push(seg);
  }
  return shown;
}

/**
 * Exactly one of "certs.issuer" and "certs.cert" + "certs.key". Judged on the raw value, by which
 * keys are present, so that it is said together with any problem of the values themselves.
 */
function certsChoiceProblems(rawProtected: unknown): string[] {
  const c = (rawProtected as { certs?: unknown } | null)?.certs;
  if (!c || typeof c !== 'object' || Array.isArray(c)) return [];
  const has = (k: string) => Object.prototype.hasOwnProperty.call(c, k) && (c as Record<string, unknown>)[k] !== undefined;
  if (has('issuer')) {
    return has('cert') || has('key')
      ? [`protected setting "certs.issuer" is given together with "certs.cert"/"certs.key": give either an issuer (each VM issues its own certificate) or a certificate and its key, not both`]
      : [];
  }
  const missing = ['cert', 'key'].filter((k) => !has(k));
  return missing.map((k) => `protected setting "certs.${k}" is required (the server ${k === 'cert' ? 'certificate' : "certificate's key"}), unless "certs.issuer" is given instead of "certs.cert" and "certs.key"`);
}

function crossFieldProblems(pub: PublicSettings, prot: ProtectedSettings): string[] {
  const out: string[] = [];
  if (pub.docker.port !== undefined && !prot.certs && !pub.docker.allowInsecureTcp) {
    out.push(
      `public setting "docker.port" asks for a TCP listener, but protected setting "certs" is missing, and dockerd is never opened to the network without TLS: ` +
        `add to the protected settings "certs": {"ca": <CA certificate>, "cert": <server certificate>, "key": <its private key>} ` +
        `(PEM or base64 of it; or "ca" and "issuer" for a certificate issued on the VM), or remove "docker.port" to serve the local socket only ` +
        `(a listener without TLS needs the explicit public setting "docker.allowInsecureTcp": true)`,
    );
  }
  if (pub.docker.tls.testValiditySeconds !== undefined && pub.docker.tls.testValiditySeconds >= pub.docker.tls.days * 86_400) {
    out.push(`public setting "docker.tls.testValiditySeconds" is for tests only and must be shorter than "docker.tls.days"`);
  }
  if (typeof pub.docker.tls.renewBefore === 'number' && pub.docker.tls.renewBefore >= pub.docker.tls.days && pub.docker.tls.testValiditySeconds === undefined) {
    out.push(`public setting "docker.tls.renewBefore" (${pub.docker.tls.renewBefore} days) must be less than "docker.tls.days" (${pub.docker.tls.days}), or the certificate would be renewed all the time`);
  }
  if (pub.docker.allowInsecureTcp && prot.certs) {
    out.push(`public setting "docker.allowInsecureTcp" is true while protected setting "certs" is given: remove one of them`);
  }
  if (pub.docker.engine.version !== undefined && pub.docker.engine.source === 'distro') {
    out.push(
      `public setting "docker.engine.version" needs "docker.engine.source" set to "docker-ce" or "moby": ` +
        `the distribution's package has one version per release`,
    );
  }
  out.push(...composeProblems(pub, prot));
  return out;
}

/** compose's own rule for project names (lower case since compose 2; v1 lower-cases silently). */
export const COMPOSE_PROJECT_RE = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/**
 * The compose project's name and HTTP timeout are overridden as the old extension let them be: by
 * COMPOSE_PROJECT_NAME and COMPOSE_HTTP_TIMEOUT in "compose-environment". Public: the name is
 * shown in the status and recorded, so that a later removal knows which project to take down.
 */
function composeProblems(pub: PublicSettings, prot: ProtectedSettings): string[] {
  const out: string[] = [];
  const env = pub['compose-environment'] ?? {};
  const name = env['COMPOSE_PROJECT_NAME'];
  if (name !== undefined && !COMPOSE_PROJECT_RE.test(name)) {
    out.push(`public setting "compose-environment.COMPOSE_PROJECT_NAME" must be a compose project name: lower-case letters, digits, _ and -, starting with a letter or digit, at most 63 characters (default "compose")`);
  }
  const timeout = env['COMPOSE_HTTP_TIMEOUT'];
  if (timeout !== undefined && !/^[1-9][0-9]{0,5}$/.test(timeout)) {
    out.push(`public setting "compose-environment.COMPOSE_HTTP_TIMEOUT" must be a whole number of seconds, for example "600" (the default)`);
  }
  // The extension's own: the file it writes, dockerd's local socket, root's client configuration
  // (where the registry login stored its credentials).
  const ours: Record<string, string> = { COMPOSE_FILE: 'the file it writes', DOCKER_HOST: "dockerd's local socket", DOCKER_CONFIG: 'the registry login\'s credentials in /root/.docker' };
  for (const k of ['COMPOSE_PROJECT_NAME', 'COMPOSE_HTTP_TIMEOUT', ...Object.keys(ours)]) {
    if (prot.environment && k in prot.environment) out.push(`protected setting "environment" must not set ${k}: it is not a secret; ${k.startsWith('COMPOSE_P') || k.startsWith('COMPOSE_H') ? 'put it in the public "compose-environment"' : 'the extension sets it'}`);
    if (k in ours && k in env) out.push(`public setting "compose-environment" must not set ${k}: the extension sets it (${ours[k]})`);
  }
  if (pub.compose) {
    const services = 'services' in pub.compose ? pub.compose['services'] : pub.compose;
    if (typeof services !== 'object' || services === null || Array.isArray(services)) out.push(`public setting "compose.services" must be an object of services, for example {"web": {"image": "nginx"}}`);
    else {
      const bad = Object.entries(services).filter(([k, v]) => !k.startsWith('x-') && k !== 'version' && (typeof v !== 'object' || v === null || Array.isArray(v)));
      if (bad.length) out.push(`public setting "compose" must hold each service as an object such as {"image": "nginx"}; not: ${bad.map(([k]) => JSON.stringify(k)).join(', ')}`);
    }
  }
  return out;
}

type Issue = z.core.$ZodIssue;

function describeIssues(issues: readonly Issue[], side: Side, schema: z.ZodMiniType, raw: unknown): string[] {
  return issues.map((issue) => {
    const path = issue.path.map(String);
    const where = path.join('.');
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeysAt(schema, path);
      if (side === 'protected') {
        // Never the key itself: a secret pasted as a key name would be published with it.
        const shown = shownPrefix(schema, path);
        const at = shown.length ? ` at "${shown.join('.')}"` : '';
        // A typo's guess reveals nothing of a pasted secret: no secret is within a few edits of "certs".
        return issue.keys
          .map((k) => {
            const guess = closest(k, known);
            const hint = guess ? `did you mean "${[...shown, guess].join('.')}"?` : `valid keys here: ${known.join(', ')}`;
            return `an unknown protected setting${at} (its name is not shown: protected settings are secret); ${hint}`;
          })
          .join('; ');
      }
      return issue.keys
        // Said by secretsInPublicProblems, with what to do about the exposed secret.
        .filter((k) => where !== '' || !Object.prototype.hasOwnProperty.call(SECRET_KEYS, k.toLowerCase()))
        .map((k) => {
          const full = where ? `${where}.${k}` : k;
          const guess = closest(k, known);
          const hint = guess ? `; did you mean "${where ? `${where}.${guess}` : guess}"?` : known.length ? `; valid keys here: ${known.join(', ')}` : '';
          return `unknown ${side} setting "${full}"${hint}`;
        })
        .join('; ');
    }
    if (issue.code === 'invalid_key') {
      // A record's key (an environment variable's name): named only on the public side.
      const key = path[path.length - 1] ?? '';
      const inner = issue.issues[0];
      const why = inner ? ownWords(inner) : 'is not valid';
      const name = side === 'public' ? `the name ${JSON.stringify(key)}` : 'a name (not shown: protected settings are secret)';
      return `${label(side, schema, path.slice(0, -1))}: ${name} ${why}`;
    }
    const lbl = label(side, schema, path);
    // Never a text that quotes the value: it may be a secret.
    if (issue.code === 'invalid_type') return `${lbl} ${valueAt(raw, issue.path) === undefined ? 'is required' : `must be ${article(issue.expected)}`}`;
    if (issue.code === 'invalid_value' && 'values' in issue) return `${lbl} must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    return `${lbl} ${ownWords(issue)}`;
  }).filter((m) => m !== '');
}

/**
 * The schema's own message ("must be …", "is …"); zod's defaults ("Invalid input", "Too small:
 * expected …", capitalised) are replaced, so that a key added without a message of its own still
 * says something an admin can act on (test/unit/agent/no-zod-phrasing.test.ts walks every key).
 */
function ownWords(issue: Issue): string {
  if (/^[a-z]/.test(issue.message)) return issue.message;
  switch (issue.code) {
    case 'too_small':
      return issue.origin === 'array' || issue.origin === 'string' ? `must have at least ${issue.minimum} ${issue.origin === 'array' ? 'entries' : 'characters'}` : `must be at least ${issue.minimum}`;
    case 'too_big':
      return issue.origin === 'array' || issue.origin === 'string' ? `must have at most ${issue.maximum} ${issue.origin === 'array' ? 'entries' : 'characters'}` : `must be at most ${issue.maximum}`;
    case 'invalid_union':
      return 'is none of the forms this setting takes (see manifest/settings.schema.json or the settings table in the README)';
    default:
      return 'is not valid here (see manifest/settings.schema.json or the settings table in the README)';
  }
}

/** The raw value at a path, to tell a missing setting from one of the wrong type (never shown). */
function valueAt(raw: unknown, p: readonly PropertyKey[]): unknown {
  let cur = raw;
  for (const seg of p) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[seg];
  }
  return cur;
}

function article(expected: string): string {
  if (expected === 'object' || expected === 'record' || expected === 'map') return 'a JSON object';
  if (expected === 'int') return 'a whole number';
  if (expected === 'array') return 'a JSON array';
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}

/** The certificate files as the settings give them, or undefined while an issuer's are not issued yet. */
export function givenServerCerts(c: Certs | undefined): ServerCerts | undefined {
  return c && c.cert !== undefined && c.key !== undefined ? { ca: c.ca, cert: c.cert, key: c.key } : undefined;
}

/** Keys that the (strict) object schema at `path` accepts, walking through wrappers. */
function knownKeysAt(schema: z.ZodMiniType, path: string[]): string[] {
  let node: unknown = schema;
  for (const seg of [...path, '']) {
    node = unwrap(node);
    const shape = (node as { shape?: Record<string, z.ZodMiniType> }).shape;
    if (!shape) return [];
    if (seg === '') return Object.keys(shape);
    node = shape[seg];
  }
  return [];
}

function unwrap(node: unknown): unknown {
  let cur = node as { def?: { type?: string; innerType?: unknown; in?: unknown } } | undefined;
  for (let i = 0; i < 10 && cur?.def; i++) {
    const t = cur.def.type;
    if (t === 'optional' || t === 'default' || t === 'prefault' || t === 'nullable') cur = cur.def.innerType as typeof cur;
    else if (t === 'pipe') cur = cur.def.in as typeof cur;
    else break;
  }
  return cur;
}
