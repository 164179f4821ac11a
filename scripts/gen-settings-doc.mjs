// Writes docs/settings.md, the settings reference, from the published JSON Schema
// (manifest/settings.schema.json, itself generated from handler/agent/settings.ts by
// `npm run schema`): one row per key with its type, default, allowed values and the schema's
// description and examples. A key without a description gets a dash, never a guess.
// `npm run schema` runs it after writing the schema; test/system/docs-examples.test.ts fails when
// the committed page differs from what this writes.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Local "$ref": "#/…" (draft-07 definitions, 2020-12 $defs) resolved against the whole document. */
function resolve(root, node) {
  let n = node;
  for (let i = 0; n && typeof n.$ref === 'string' && n.$ref.startsWith('#/') && i < 32; i++) {
    const target = n.$ref
      .slice(2)
      .split('/')
      .reduce((o, k) => (o ? o[k.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined), root);
    const { $ref: _ref, ...rest } = n;
    n = { ...target, ...rest };
  }
  return n ?? {};
}

// A string with a line break (a PEM example) is shown as JSON, so that the break stays visible.
const code = (v) => '`' + (typeof v === 'string' && !v.includes('\n') ? v : JSON.stringify(v)) + '`';
// A table cell: GitHub ends a cell at every "|", in code spans too, unless it is escaped.
const cell = (s) => String(s).replace(/\|/g, '\\|').replace(/\n+/g, ' ');

function typeOf(root, s) {
  const n = resolve(root, s);
  if (Array.isArray(n.enum)) return `one of ${n.enum.map(code).join(', ')}`;
  if ('const' in n) return code(n.const);
  // Alternatives that only add rules (patterns) to the node's own type are rules, not types.
  const alts = (n.anyOf ?? n.oneOf ?? []).map((a) => resolve(root, a));
  if (alts.some((a) => a.type || a.enum || a.const !== undefined || a.anyOf || a.oneOf)) return alts.map((a) => typeOf(root, a)).join(' or ');
  if (n.type === 'array') return `list of ${typeOf(root, n.items ?? {})}`;
  if (n.type === 'object' && !n.properties) {
    const values = n.additionalProperties && Object.keys(n.additionalProperties).length ? typeOf(root, n.additionalProperties) : 'anything';
    return `object (names → ${values})`;
  }
  if (Array.isArray(n.type)) return n.type.join(' or ');
  if (n.type === 'number' || n.type === 'integer') return n.type === 'integer' ? 'whole number' : 'number';
  return n.type ?? 'any';
}

/** Ranges, patterns and lengths, as the schema states them. */
function rulesOf(root, s) {
  const n = resolve(root, s);
  const out = [];
  if (n.minimum !== undefined) out.push(`≥ ${n.minimum}`);
  if (n.exclusiveMinimum !== undefined) out.push(`> ${n.exclusiveMinimum}`);
  if (n.maximum !== undefined) out.push(`≤ ${n.maximum}`);
  if (n.exclusiveMaximum !== undefined) out.push(`< ${n.exclusiveMaximum}`);
  if (n.minLength !== undefined) out.push(n.minLength === 1 ? 'not empty' : `at least ${n.minLength} characters`);
  if (n.maxLength !== undefined) out.push(`at most ${n.maxLength} characters`);
  if (n.pattern) out.push(`matches ${code(n.pattern)}`);
  if (n.propertyNames?.pattern) out.push(`names match ${code(n.propertyNames.pattern)}`);
  const alts = (n.anyOf ?? n.oneOf ?? []).map((a) => rulesOf(root, a).join(', ')).filter(Boolean);
  if (alts.length) out.push(alts.join(' or '));
  if (n.type === 'array' && n.items) out.push(...rulesOf(root, n.items).map((r) => `each ${r}`));
  return out;
}

/** An object's default ({}: its keys' own defaults apply) is not shown. */
function defaultOf(s, isRequired) {
  if ('default' in s && !(typeof s.default === 'object' && s.default !== null && !Array.isArray(s.default))) return code(s.default);
  return isRequired ? 'required' : '–';
}

function rows(root, schema, prefix, required = []) {
  const n = resolve(root, schema);
  const out = [];
  for (const [key, sub] of Object.entries(n.properties ?? {})) {
    const s = resolve(root, sub);
    const name = prefix ? `${prefix}.${key}` : key;
    const isRequired = (n.required ?? required).includes(key);
    const examples = Array.isArray(s.examples) ? s.examples : s.example !== undefined ? [s.example] : [];
    out.push(
      `| ${code(name)} | ${cell(typeOf(root, s))} | ${cell(defaultOf(s, isRequired))} | ${cell(rulesOf(root, s).join('; ') || '–')} | ${cell((s.description ?? '–') + (examples.length ? ` Example: ${examples.map(code).join(', ')}` : ''))} |`,
    );
    if (s.properties) out.push(...rows(root, s, name));
  }
  return out;
}

export function settingsDoc(schema) {
  const side = (key) => {
    const s = schema.properties?.[key];
    if (!s) throw new Error(`manifest/settings.schema.json has no properties.${key}: this generator reads the public and protected settings from there`);
    return s;
  };
  const table = (key) => ['| key | type | default | rules | meaning |', '|---|---|---|---|---|', ...rows(schema, side(key), '')].join('\n');
  return [
    '# Settings reference',
    '',
    '<!-- generated by scripts/gen-settings-doc.mjs from manifest/settings.schema.json: edit handler/agent/settings.ts and run `npm run schema` -->',
    '',
    'The settings the extension accepts, from its published JSON Schema',
    '([manifest/settings.schema.json](../manifest/settings.schema.json), which editors and ARM tooling can load).',
    'Some rules span several keys (a `docker.port` needs `certs` unless `docker.allowInsecureTcp`; `certs` takes',
    '`cert` and `key`, or `issuer`, not both); the extension checks every one of them before it changes anything',
    'and reports all problems at once, each naming the setting. The [README](../README.md#settings) explains',
    'each key at length, and [settings from the old extension](../README.md#settings-from-the-old-extension) the',
    'forms DockerExtension 1.x accepted.',
    '',
    '## Public settings (`settings`)',
    '',
    'Visible to everyone who can read the VM\'s resource. Never put a certificate key here.',
    '',
    table('publicSettings'),
    '',
    '## Protected settings (`protectedSettings`)',
    '',
    'Encrypted by the platform to the VM\'s certificate; never written to a log, a status or the output.',
    '',
    table('protectedSettings'),
    '',
  ].join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const schema = JSON.parse(readFileSync(path.join(ROOT, 'manifest/settings.schema.json'), 'utf8'));
  writeFileSync(path.join(ROOT, 'docs/settings.md'), settingsDoc(schema));
  console.log('wrote docs/settings.md');
}
