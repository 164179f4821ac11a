// The published JSON Schema (manifest/settings.schema.json) as a contract: one corpus of good and
// bad settings goes through the schema (ajv 8, draft-07, as editors and ARM tooling load it) and
// through the handler (preflight: settings, dockerd options and certificates made by openssl at
// test time). Where they disagree, the case must name one of KNOWN_DIFFERENCES, which says which
// side accepts and why; any other disagreement fails, and so does a listed difference that no
// longer happens. The README's "The JSON Schema as a contract" says the same list for admins.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseSettings } from '../../../handler/agent/settings.js';
import { PROTECTED_SETTINGS_DOCS, PUBLIC_SETTINGS_DOCS } from '../../../handler/agent/settings-docs.js';
import { preflight } from '../../../handler/docker/preflight.js';
import { publishedSchema, validateSettings } from '../../support/settings-schema.js';
import { certsSetting, issuerSetting, makeCa, makeCertSet, makeExpiredCa, pem, type CertSet } from '../../support/tls-certs.js';

/** Where the schema and the handler may disagree: what a JSON Schema cannot say, or says on purpose. */
const KNOWN_DIFFERENCES = {
  'old-forms': {
    handler: 'accepts',
    why: 'the old extension\'s spellings (any capitals, "" and null for not set, "certs": {}) are taken with a warning; the schema teaches the canonical form',
  },
  'compares-values': { handler: 'refuses', why: 'a rule between two values (renewBefore < days, testValiditySeconds < days) has no draft-07 keyword' },
  'dockerd-options': { handler: 'refuses', why: 'each docker.options entry is checked against dockerd\'s flags and the flags the extension manages' },
  'certificate-contents': { handler: 'refuses', why: 'expiry, key match, chain to the CA and key usage need the certificate parsed' },
  'base64-decoding': { handler: 'refuses', why: 'base64 must decode to PEM, which a pattern cannot see' },
  'registry-host': { handler: 'refuses', why: 'a registry port above 65535 or a host name too long passes the published pattern' },
  structure: { handler: 'refuses', why: 'reserved key names (__proto__, constructor, prototype), NUL characters and nesting deeper than 32 anywhere' },
} as const;
type Known = keyof typeof KNOWN_DIFFERENCES;

interface Case {
  name: string;
  pub?: unknown;
  prot?: unknown;
  known?: Known;
}

const validate = validateSettings;
const schema = publishedSchema as { definitions: { publicSettings: Record<string, unknown>; protectedSettings: Record<string, unknown> } };

let dir: string;
let set: CertSet;
let certs: { ca: string; cert: string; key: string };
let issuer: { ca: string; issuer: { cert: string; key: string } };
let expiredCa: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'schema-agreement-'));
  set = makeCertSet(dir);
  certs = certsSetting(set);
  issuer = issuerSetting(set.ca, makeCa(dir, 'issuing-ca', 30));
  expiredCa = pem(makeExpiredCa(dir).ca);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** Built after the certificates exist. */
const corpus = (): Case[] => [
  // Good.
  { name: 'nothing at all', pub: {}, prot: {} },
  { name: 'the local socket only, with options', pub: { docker: { options: ['--log-driver=journald', '--data-root /mnt/docker'] } } },
  { name: 'TLS on 2376', pub: { docker: { port: 2376 } }, prot: { certs } },
  { name: 'certificates alone serve 2376', prot: { certs } },
  { name: 'the port as a string', pub: { docker: { port: '2376' } }, prot: { certs } },
  { name: 'certificates as base64 of the PEM', pub: { docker: { port: 2376 } }, prot: { certs: { ca: b64(certs.ca), cert: b64(certs.cert), key: b64(certs.key) } } },
  { name: 'an issuer instead of cert + key', pub: { docker: { port: 2376, tls: { days: 30, renewBefore: 10, subjectAltNames: ['docker.example.com'] } } }, prot: { certs: issuer } },
  { name: 'an insecure listener, explicitly', pub: { docker: { port: 2375, allowInsecureTcp: true } } },
  { name: 'a pinned docker-ce', pub: { docker: { engine: { source: 'docker-ce', version: '5:27.5.1-1~ubuntu.24.04~noble', removeOnUninstall: true } } } },
  { name: 'compose and its environments', pub: { compose: { web: { image: 'nginx' } }, 'compose-environment': { A_1: 'x' } }, prot: { environment: { TOKEN: 'x' } } },
  { name: 'a registry login', prot: { login: { server: 'myregistry.azurecr.io:5000', username: 'u', password: 'p', email: 'a@b.c' } } },
  { name: 'a sovereign cloud', pub: { 'azure-environment': 'AzureChinaCloud', docker: { liveRestore: false } } },
  { name: 'a port string with a leading zero', pub: { docker: { port: '02376' } }, prot: { certs } },
  { name: 'the highest port', pub: { docker: { port: 65535 } }, prot: { certs } },

  // Bad, and both say so.
  { name: 'a typo of a key', pub: { docker: { prot: 2376 } } },
  { name: 'a port out of range', pub: { docker: { port: 70000 } }, prot: { certs } },
  { name: 'port 0', pub: { docker: { port: '0' } }, prot: { certs } },
  { name: 'a port that is not a whole number', pub: { docker: { port: 2376.5 } }, prot: { certs } },
  { name: 'a port that is not a number', pub: { docker: { port: 'http' } }, prot: { certs } },
  { name: 'a port without certificates', pub: { docker: { port: 2376 } } },
  { name: 'insecure TCP together with certificates', pub: { docker: { port: 2376, allowInsecureTcp: true } }, prot: { certs } },
  { name: 'a version without a source', pub: { docker: { engine: { version: '27.5.1' } } } },
  { name: 'a version with the distro source', pub: { docker: { engine: { source: 'distro', version: '27.5.1' } } } },
  { name: 'an unknown engine source', pub: { docker: { engine: { source: 'snap' } } } },
  { name: 'an issuer and cert + key together', prot: { certs: { ...certs, issuer: issuer.issuer } } },
  { name: 'cert without key', prot: { certs: { ca: certs.ca, cert: certs.cert } } },
  { name: 'certificates without the CA', prot: { certs: { cert: certs.cert, key: certs.key } } },
  { name: 'a certificate that is neither PEM nor base64', prot: { certs: { ...certs, cert: 'not a certificate!' } } },
  { name: 'certs in the public settings', pub: { certs } },
  { name: 'validity of 0 days', pub: { docker: { tls: { days: 0 } } } },
  { name: 'validity of 1.5 days', pub: { docker: { tls: { days: 1.5 } } } },
  { name: 'renewBefore as a fraction out of range', pub: { docker: { tls: { renewBefore: '1/10' } } } },
  { name: 'a login without a password', prot: { login: { username: 'u' , server: 'r.example.com' } } },
  { name: 'a registry with a path', prot: { login: { server: 'r.example.com/path', username: 'u', password: 'p' } } },
  { name: 'an environment name starting with a digit', pub: { 'compose-environment': { '1A': 'x' } } },
  { name: 'an unknown cloud', pub: { 'azure-environment': 'Mars' } },
  { name: 'options that are not a list', pub: { docker: { options: '--debug' } } },
  { name: 'a port string above the range', pub: { docker: { port: '65536' } }, prot: { certs } },
  { name: 'renewBefore of 0 days', pub: { docker: { tls: { renewBefore: 0 } } } },
  { name: 'a subjectAltName with a space', pub: { docker: { tls: { subjectAltNames: ['a b'] } } } },
  { name: 'an environment value that is not a string', prot: { environment: { A: 1 } } },
  { name: 'an unknown protected key', prot: { certz: certs } },

  // Known differences.
  { name: 'capitals of the old extension', pub: { Docker: { Port: '2376' } }, prot: { Certs: certs }, known: 'old-forms' },
  { name: 'an empty port of the old extension', pub: { docker: { port: '' } }, known: 'old-forms' },
  { name: 'a null of the old extension', pub: { docker: { options: null } }, known: 'old-forms' },
  { name: 'empty certs of the old extension', prot: { certs: {} }, known: 'old-forms' },
  { name: 'a null login of the old extension', prot: { login: null }, known: 'old-forms' },
  { name: 'renewBefore not below days', pub: { docker: { tls: { days: 10, renewBefore: 10 } } }, known: 'compares-values' },
  { name: 'a test validity longer than days', pub: { docker: { tls: { days: 1, testValiditySeconds: 90_000 } } }, known: 'compares-values' },
  { name: 'an unknown dockerd flag', pub: { docker: { options: ['--grpah=/mnt'] } }, known: 'dockerd-options' },
  { name: 'a flag the extension manages', pub: { docker: { options: ['-H tcp://0.0.0.0:2375'] } }, known: 'dockerd-options' },
  { name: 'a CA that has expired', pub: { docker: { port: 2376 } }, prot: { certs: { ...certs, ca: expiredCa } }, known: 'certificate-contents' },
  { name: 'a key of another certificate', prot: { certs: { ...certs, key: pem(set.clientKey) } }, known: 'certificate-contents' },
  { name: 'base64 of something else', prot: { certs: { ...certs, key: b64('hello world!') } }, known: 'base64-decoding' },
  { name: 'a registry port above 65535', prot: { login: { server: 'r.example.com:99999', username: 'u', password: 'p' } }, known: 'registry-host' },
  { name: 'a NUL character', pub: { docker: { options: ['--label=a\u0000b'] } }, known: 'structure' },
  { name: 'a reserved key name in compose', pub: { compose: JSON.parse('{"__proto__": {"x": 1}}') }, known: 'structure' },
];

function schemaAccepts(c: Case): boolean {
  const doc: Record<string, unknown> = {};
  if (c.pub !== undefined) doc.publicSettings = c.pub;
  if (c.prot !== undefined) doc.protectedSettings = c.prot;
  return validate(doc) as boolean;
}

function handlerAccepts(c: Case): boolean {
  try {
    preflight(c.pub ?? null, c.prot ?? null, Date.now());
    return true;
  } catch {
    return false;
  }
}

describe('the JSON Schema and the handler agree on one corpus', () => {
  test('every disagreement is a known difference, and every listed difference still happens', () => {
    const unexplained: string[] = [];
    const seen = new Set<Known>();
    for (const c of corpus()) {
      const s = schemaAccepts(c);
      const h = handlerAccepts(c);
      if (s === h) {
        if (c.known) unexplained.push(`${c.name}: listed as "${c.known}", but both ${h ? 'accept' : 'refuse'} it`);
        continue;
      }
      const side = h ? 'accepts' : 'refuses';
      if (c.known && KNOWN_DIFFERENCES[c.known].handler === side) seen.add(c.known);
      else unexplained.push(`${c.name}: the handler ${side} it, the schema ${s ? 'accepts' : 'refuses'} it${c.known ? ` (listed as "${c.known}", where the handler ${KNOWN_DIFFERENCES[c.known].handler})` : ''}`);
    }
    expect(unexplained).toEqual([]);
    expect([...seen].sort()).toEqual(Object.keys(KNOWN_DIFFERENCES).sort());
  });

  test('the good cases are good and the bad ones bad, on both sides (the corpus means what it says)', () => {
    const cases = corpus();
    const good = cases.slice(0, cases.findIndex((c) => c.name === 'a typo of a key'));
    expect(good.filter((c) => !handlerAccepts(c) || !schemaAccepts(c)).map((c) => c.name)).toEqual([]);
  });
});

describe('every key is documented with an example that both sides accept', () => {
  type Json = Record<string, unknown>;
  const walk = (node: Json, prefix: string, out: string[]): string[] => {
    for (const [k, v] of Object.entries((node.properties ?? {}) as Record<string, Json>)) {
      if (typeof v.description !== 'string' || !Array.isArray(v.examples) || v.examples.length === 0) out.push(`${prefix}${k}`);
      walk(v, `${prefix}${k}.`, out);
    }
    return out;
  };

  test('descriptions and examples everywhere', () => {
    expect(walk(schema.definitions.publicSettings, '', [])).toEqual([]);
    expect(walk(schema.definitions.protectedSettings, '', [])).toEqual([]);
  });

  const setAt = (root: Json, p: string, v: unknown): Json => {
    const keys = p.split('.');
    let cur = root;
    keys.slice(0, -1).forEach((k) => (cur = (cur[k] ??= {}) as Json));
    cur[keys.at(-1)!] = v;
    return root;
  };
  /** The rest a documented example needs to be valid settings (the certificates a port needs, a login's user). */
  const PEM_CERT = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
  const PEM_KEY = '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n';
  const context = (p: string): Json =>
    p.startsWith('certs.issuer')
      ? { certs: { ca: PEM_CERT, issuer: { cert: PEM_CERT, key: PEM_KEY } } }
      : p.startsWith('certs.')
        ? { certs: { ca: PEM_CERT, cert: PEM_CERT, key: PEM_KEY } }
        : p.startsWith('login.')
          ? { login: { username: 'u', password: 'p' } }
          : {};

  test.each([
    ...Object.entries(PUBLIC_SETTINGS_DOCS).map(([p, d]) => ['public', p, d.example] as const),
    ...Object.entries(PROTECTED_SETTINGS_DOCS).map(([p, d]) => ['protected', p, d.example] as const),
  ])('%s %s', (side, p, example) => {
    const pub = side === 'public' ? setAt({ docker: { engine: { source: 'docker-ce' } } }, p, structuredClone(example)) : {};
    const prot = side === 'protected' ? setAt(context(p), p, structuredClone(example)) : { certs: { ca: PEM_CERT, cert: PEM_CERT, key: PEM_KEY } };
    expect(() => parseSettings(pub, prot)).not.toThrow();
    expect(validate({ publicSettings: pub, protectedSettings: prot }) ? [] : validate.errors).toEqual([]);
  });
});
