import * as z from 'zod/mini';
import { ENGINE_SOURCES, PEM_RE, ProtectedSettingsSchema, PublicSettingsSchema } from './settings.js';
import { PROTECTED_SETTINGS_DOCS, PUBLIC_SETTINGS_DOCS, type SettingDoc } from './settings-docs.js';

// The JSON Schema published in manifest/ (never hand-edited: `npm run schema`), generated from the
// zod schemas, with each key's description and example (settings-docs.ts) and the rules the zod
// schemas check in code but a JSON Schema can still say (the *_RULES below). What it cannot say (a rule
// that compares two values, the contents of a certificate, the dockerd flags) is listed in the
// README ("The JSON Schema as a contract"), and test/unit/agent/schema-agreement.test.ts holds the
// schema and the handler to the same corpus, where every difference must be one of those.
//
// Draft-07: the draft that VS Code's JSON language service, ajv's default export and most editors
// and validators load without options; 2019-09 and 2020-12 are not supported everywhere yet, and
// add nothing these settings need (if/then/else, const, examples and propertyNames are draft-07).

type Json = Record<string, unknown>;
const DRAFT_07 = 'http://json-schema.org/draft-07/schema#';

/** A port as the handler takes it, 1 to 65535, as a number or a string of digits. */
const PORT_STRING = '^0*([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$';

/** A certificate or key: a PEM block anywhere in the text, or base64 (of a PEM file, which a schema cannot decode). */
const PEM_OR_BASE64 = { type: 'string', anyOf: [{ pattern: PEM_RE.source }, { pattern: '^\\s*[A-Za-z0-9+/][A-Za-z0-9+/\\s]*={0,2}\\s*$' }] };

/** Each rule: a dotted path of properties and what to merge into the schema there. */
const PUBLIC_RULES: Array<[string, Json]> = [
  ['docker.port', { anyOf: [{ type: 'integer', minimum: 1, maximum: 65535 }, { type: 'string', pattern: PORT_STRING }] }],
  ['docker.tls.days', { type: 'integer' }],
  ['docker.tls.testValiditySeconds', { type: 'integer' }],
  // A version pin needs a source that has versions: the distribution's package has one per release.
  [
    'docker.engine',
    {
      if: { required: ['version'] },
      then: { required: ['source'], properties: { source: { enum: ENGINE_SOURCES.filter((s) => s !== 'distro') } } },
    },
  ],
];

const PROTECTED_RULES: Array<[string, Json]> = [
  ['certs.ca', PEM_OR_BASE64],
  ['certs.cert', PEM_OR_BASE64],
  ['certs.key', PEM_OR_BASE64],
  ['certs.issuer.cert', PEM_OR_BASE64],
  ['certs.issuer.key', PEM_OR_BASE64],
  // Exactly one of "issuer" and "cert" + "key".
  ['certs', { if: { required: ['issuer'] }, then: { not: { anyOf: [{ required: ['cert'] }, { required: ['key'] }] } }, else: { required: ['cert', 'key'] } }],
];

/** Rules between the two halves: the schema of the whole settings (as the handler receives both). */
const has = (side: string, path: string[], value?: unknown): Json => {
  let inner: Json = value === undefined ? {} : { const: value };
  for (const k of [...path].reverse()) inner = { type: 'object', required: [k], properties: { [k]: inner } };
  return { type: 'object', required: [side], properties: { [side]: inner } };
};
const CROSS_RULES: Json[] = [
  // A TCP listener has TLS, unless the admin explicitly opts out.
  { if: { allOf: [has('publicSettings', ['docker', 'port']), { not: has('publicSettings', ['docker', 'allowInsecureTcp'], true) }] }, then: has('protectedSettings', ['certs']) },
  // An explicit opt-out of TLS with certificates given is a contradiction.
  { if: has('publicSettings', ['docker', 'allowInsecureTcp'], true), then: { not: has('protectedSettings', ['certs']) } },
];

export function settingsJsonSchema(): Json {
  const opts = { io: 'input', unrepresentable: 'any', target: 'draft-07' } as const;
  const half = (schema: z.ZodMiniType, docs: Record<string, SettingDoc>, rules: Array<[string, Json]>): Json => {
    const js = z.toJSONSchema(schema, opts) as Json;
    delete js.$schema;
    for (const [path, rule] of rules) mergeAt(js, path, rule);
    document(js, docs);
    return js;
  };
  return {
    $schema: DRAFT_07,
    title: 'Docker extension settings',
    description:
      'The settings of the Docker VM extension (Microsoft.Azure.Extensions.DockerExtension): "publicSettings" (the ARM/Bicep "settings") and ' +
      '"protectedSettings" (encrypted for the VM; never logged). An editor validating one half uses #/definitions/publicSettings or ' +
      '#/definitions/protectedSettings; this schema as a whole also holds the rules between the halves. ' +
      'Generated from handler/agent/settings.ts and settings-docs.ts by `npm run schema`.',
    definitions: {
      publicSettings: {
        title: 'Public settings',
        description: 'Visible in the Azure portal and ARM: never put a certificate key, password or other secret here.',
        ...half(PublicSettingsSchema, PUBLIC_SETTINGS_DOCS, PUBLIC_RULES),
      },
      protectedSettings: {
        title: 'Protected settings',
        description: 'Encrypted by the platform for the VM; never logged or shown in the status.',
        ...half(ProtectedSettingsSchema, PROTECTED_SETTINGS_DOCS, PROTECTED_RULES),
      },
    },
    type: 'object',
    properties: {
      publicSettings: { $ref: '#/definitions/publicSettings' },
      protectedSettings: { $ref: '#/definitions/protectedSettings' },
    },
    additionalProperties: false,
    allOf: CROSS_RULES,
  };
}

/** The schema of the property at a dotted path (through "properties" only). */
function at(js: Json, path: string): Json {
  let cur = js;
  for (const k of path.split('.')) {
    const next = (cur.properties as Record<string, Json> | undefined)?.[k];
    if (!next) throw new Error(`settings-json-schema: no property "${path}" in the zod schema`);
    cur = next;
  }
  return cur;
}

function mergeAt(js: Json, path: string, rule: Json): void {
  const node = at(js, path);
  // A rule that gives its own type or alternatives replaces the generated type, alternatives and string checks.
  if ('anyOf' in rule || 'type' in rule) for (const k of ['type', 'anyOf', 'pattern', 'minLength']) delete node[k];
  Object.assign(node, rule);
}

/** Adds description and examples to every property; a key without docs, or docs without a key, is a generator error. */
function document(js: Json, docs: Record<string, SettingDoc>): void {
  const documented = new Set<string>();
  const walk = (node: Json, prefix: string[]): void => {
    for (const [k, child] of Object.entries((node.properties ?? {}) as Record<string, Json>)) {
      const path = [...prefix, k].join('.');
      const doc = docs[path];
      if (!doc) throw new Error(`settings-docs.ts has no description for "${path}": add one (with an example)`);
      child.description = doc.description;
      child.examples = [doc.example];
      documented.add(path);
      walk(child, [...prefix, k]);
    }
  };
  walk(js, []);
  const stale = Object.keys(docs).filter((p) => !documented.has(p));
  if (stale.length) throw new Error(`settings-docs.ts describes ${stale.join(', ')}, which the schema does not have`);
}
