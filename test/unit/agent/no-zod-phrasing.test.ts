// No message of the validation library reaches an admin: every setting of the schema (found by
// walking the published JSON Schema, so that a new key is covered without editing this test) is
// given every kind of wrong value, and each refusal must be the handler's own wording.
import { describe, expect, test } from '@jest/globals';
import { settingsJsonSchema } from '../../../handler/agent/settings-json-schema.js';
import { preflight } from '../../../handler/docker/preflight.js';
import { settingsError } from '../../support/settings-error.js';

/** Phrases of zod's own messages (English locale) and of its issue codes. */
const ZOD_PHRASES = /Invalid (input|option|key|value|type|string|element|union|record|literal|date|format)|must be a record|expected (string|number|boolean|object|array|record|int|nan)|Too (big|small)|Unrecognized key|received |NaN|\bnonoptional\b|must be an? (nan|int|record|map|set|never|unknown)\b/;

const WRONG: unknown[] = [1.5, -1, 0, 70000, '', 'x', ' ', true, [], [1], ['a b'], {}, { a: 1 }, { __x: [] }, null, 'null'];

type Json = Record<string, unknown>;
function paths(schema: Json, prefix: string[] = []): string[][] {
  const out: string[][] = [];
  const props = (schema.properties ?? {}) as Record<string, Json>;
  for (const [k, v] of Object.entries(props)) {
    out.push([...prefix, k]);
    out.push(...paths(v, [...prefix, k]));
  }
  for (const alt of [...((schema.anyOf as Json[]) ?? []), ...((schema.oneOf as Json[]) ?? [])]) out.push(...paths(alt, prefix));
  return out;
}

function withValue(path: string[], value: unknown): Json {
  const root: Json = {};
  let cur = root;
  path.forEach((k, i) => {
    if (i === path.length - 1) cur[k] = value;
    else cur = (cur[k] = {}) as Json;
  });
  return root;
}

const schema = settingsJsonSchema() as Json;
const { publicSettings, protectedSettings } = (schema.definitions ?? schema.properties) as Record<string, Json>;

function refusal(pub: unknown, prot: unknown): string | undefined {
  try {
    preflight(pub, prot, Date.now());
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

describe('no zod phrasing reaches an admin', () => {
  test.each([
    ['public', publicSettings!],
    ['protected', protectedSettings!],
  ] as const)('every %s setting given every kind of wrong value', (side, s) => {
    const seen: string[] = [];
    expect(paths(s).length).toBeGreaterThan(side === 'public' ? 15 : 10);
    for (const p of paths(s)) {
      for (const v of WRONG) {
        const one = withValue(p, v);
        const msg = side === 'public' ? refusal(one, {}) : refusal({}, one);
        if (msg !== undefined && ZOD_PHRASES.test(msg)) seen.push(`${p.join('.')} = ${JSON.stringify(v)}: ${msg}`);
      }
    }
    expect(seen).toEqual([]);
  });

  test('whole halves of the wrong kind, and unions given neither of their forms', () => {
    const corpus: Array<[unknown, unknown]> = [
      [[], {}], ['x', {}], [1, {}], [{}, []], [{}, 'x'], [{}, 7],
      [{ docker: [] }, {}], [{ docker: { tls: { renewBefore: [] } } }, {}], [{ docker: { tls: { renewBefore: {} } } }, {}],
      [{ docker: { port: [] } }, {}], [{ docker: { port: {} } }, {}], [{ docker: { port: '1.5' } }, {}],
      [{ compose: [] }, {}], [{ compose: 'x' }, {}], [{ 'compose-environment': [] }, {}], [{ 'compose-environment': { '1A': 'x', B: 1 } }, {}],
      [{}, { environment: [] }], [{}, { environment: { '1A': 'x', B: 1 } }], [{}, { certs: [] }], [{}, { certs: { ca: 1, issuer: [] } }],
      [{}, { login: [] }], [{}, { login: { server: 1, username: [], password: {} } }],
    ];
    const seen = corpus.map(([pub, prot]) => settingsError(pub, prot)).filter((m) => ZOD_PHRASES.test(m));
    expect(seen).toEqual([]);
  });

  test('secrets put in the public settings are said to be exposed, with what to do', () => {
    const msg = settingsError({ certs: { ca: 'x', cert: 'y', key: 'z' }, Login: { username: 'u', password: 'p' } }, {});
    expect(msg).toMatch(/"certs" is in the public settings, which are stored in plain text and visible in the Azure portal and ARM .*the private key in it is now exposed: make a new key and certificate/);
    expect(msg).toMatch(/"Login" is in the public settings.*the registry password in it is now exposed: change it at the registry/);
    expect(msg).not.toMatch(/unknown public setting "certs"/);
  });
});
