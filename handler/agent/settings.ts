// zod/mini, like every schema the handler loads: classic zod (with its locales) costs about 10 ms
// at every enable and half of the bundle. The messages an admin reads are this file's own.
import * as z from 'zod/mini';
import { ConfigError } from '../errors.js';
import { nonEmpty } from '../schema-mini.js';

// The DockerExtension settings contract: every key of the retired Go extension is accepted,
// plus the keys this handler adds. This file is the single source of the types, the
// validation and the JSON Schema in manifest/ (scripts/gen-schema.mjs).

const PEM_RE = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----/;
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
  z.number().check(z.int('must be a whole number'), z.gte(1, 'must be between 1 and 65535'), z.lte(65535, 'must be between 1 and 65535')),
);

export const ENGINE_SOURCES = ['distro', 'docker-ce', 'moby'] as const;

export const EngineSchema = z.strictObject({
  /** distro: the distribution's own package (docker.io, moby-engine); docker-ce: Docker's repository; moby: Microsoft's. */
  source: z._default(z.enum(ENGINE_SOURCES), 'distro'),
  /** Package version pin, as the package manager spells it (e.g. "5:27.5.1-1~ubuntu.24.04~noble"). */
  version: z.optional(z.string().check(z.regex(/^[A-Za-z0-9.:+~_-]+$/, 'must be a package version, for example 5:27.5.1-1~ubuntu.24.04~noble'))),
  /** Uninstalling the extension keeps the engine, images and containers unless this is true. */
  removeOnUninstall: z._default(z.boolean(), false),
});

export const DockerSchema = z.strictObject({
  port: z.optional(portSchema),
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
  'compose-environment': z.optional(z.record(z.string(), z.string())),
  'azure-environment': z._default(z.enum(AZURE_ENVIRONMENTS), 'AzureCloud'),
});

export const CertsSchema = z.strictObject({
  ca: pemOrBase64('CA certificate'),
  cert: pemOrBase64('server certificate'),
  key: pemOrBase64('private key'),
});

export const LoginSchema = z.strictObject({
  server: z.optional(nonEmpty('must not be empty')),
  username: nonEmpty('must not be empty'),
  password: nonEmpty('must not be empty'),
  /** Accepted for compatibility; `docker login --email` was removed in Docker 17.06. */
  email: z.optional(z.string()),
});

export const ProtectedSettingsSchema = z.strictObject({
  certs: z.optional(CertsSchema),
  login: z.optional(LoginSchema),
  environment: z.optional(z.record(z.string(), z.string())),
});

export type PublicSettings = z.output<typeof PublicSettingsSchema>;
export type ProtectedSettings = z.output<typeof ProtectedSettingsSchema>;
export type Certs = z.output<typeof CertsSchema>;
export type DockerSettings = z.output<typeof DockerSchema>;
export interface HandlerSettings {
  public: PublicSettings;
  protected: ProtectedSettings;
}

export const DEFAULT_TLS_PORT = 2376;

/**
 * Validates both halves and reports every problem at once, each naming the setting and what is
 * expected. `raw*` are parsed JSON (null when the agent sent none).
 */
export function parseSettings(rawPublic: unknown, rawProtected: unknown): HandlerSettings {
  const problems: string[] = [];
  const pub = PublicSettingsSchema.safeParse(rawPublic ?? {});
  if (!pub.success) problems.push(...describeIssues(pub.error.issues, 'public', PublicSettingsSchema, rawPublic ?? {}));
  const prot = ProtectedSettingsSchema.safeParse(rawProtected ?? {});
  if (!prot.success) problems.push(...describeIssues(prot.error.issues, 'protected', ProtectedSettingsSchema, rawProtected ?? {}));
  if (pub.success && prot.success) problems.push(...crossFieldProblems(pub.data, prot.data));
  if (problems.length > 0) {
    throw new ConfigError(`Invalid extension settings: ${problems.join('; ')}.`, 'ESETTINGS');
  }
  return { public: pub.data!, protected: prot.data! };
}

function crossFieldProblems(pub: PublicSettings, prot: ProtectedSettings): string[] {
  const out: string[] = [];
  if (pub.docker.port !== undefined && !prot.certs && !pub.docker.allowInsecureTcp) {
    out.push(
      `public setting "docker.port" asks for a TCP listener, but protected setting "certs" (ca, cert, key) is missing: ` +
        `supply the certificates, or remove "docker.port" to serve the local socket only ` +
        `(a listener without TLS needs the explicit "docker.allowInsecureTcp": true)`,
    );
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
  return out;
}

type Issue = z.core.$ZodIssue;

function describeIssues(issues: readonly Issue[], side: 'public' | 'protected', schema: z.ZodMiniType, raw: unknown): string[] {
  return issues.map((issue) => {
    const where = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeysAt(schema, issue.path.map(String));
      return issue.keys
        .map((k) => {
          const full = where ? `${where}.${k}` : k;
          const guess = closest(k, known);
          const hint = guess ? `; did you mean "${where ? `${where}.${guess}` : guess}"?` : known.length ? `; valid keys here: ${known.join(', ')}` : '';
          return `unknown ${side} setting "${full}"${hint}`;
        })
        .join('; ');
    }
    const label = where ? `${side} setting "${where}"` : `${side} settings`;
    // Never a text that quotes the value: it may be a secret.
    if (issue.code === 'invalid_type') return `${label} ${valueAt(raw, issue.path) === undefined ? 'is required' : `must be ${article(issue.expected)}`}`;
    if (issue.code === 'invalid_value' && 'values' in issue) return `${label} must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    return `${label} ${issue.message}`;
  });
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
  if (expected === 'object') return 'a JSON object';
  if (expected === 'array') return 'a JSON array';
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
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

/** Closest known key by edit distance (case-insensitive), if it is plausibly a typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}
