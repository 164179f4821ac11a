import { describe, expect, test } from '@jest/globals';
import { parseSettings } from '../../../handler/agent/settings.js';
import { settingsError } from '../../support/settings-error.js';
import { summariseSettings } from '../../../handler/agent/settings-summary.js';
import { sha256Prefix } from '../../../handler/digest.js';
import { isRegistryHost } from '../../../handler/agent/registry-host.js';

// Issue 8, items 5 and 6: hostile strings in the settings, and no hash of a password anywhere.

const errorOf = settingsError;
const login = (server: string) => ({ login: { server, username: 'user', password: 'pass' } });
const CANARY = 'CANARY-9f3e1c7a5b2d4e6f';

describe('protected login.server is a registry host with an optional port', () => {
  test.each(['myregistry.azurecr.io', 'registry.example.com:5000', 'https://myregistry.azurecr.io', 'localhost:5000', '10.0.0.4:443', '[fd00::1]:5000', '[::1]', 'docker.io'])(
    'accepted: %s',
    (server) => {
      expect(parseSettings(null, login(server)).protected.login?.server).toBe(server);
    },
  );

  test.each([
    'reg.io; curl evil',
    'reg.io && rm -rf /',
    '$(reboot)',
    '`id`',
    'reg.io|sh',
    'reg io',
    ' reg.io',
    'reg.io\n',
    'http://reg.io',
    'ftp://reg.io',
    'reg.io/path',
    'https://reg.io/v2/',
    'reg.io:0',
    'reg.io:65536',
    'reg.io:port',
    '::1',
    '-reg.io',
    'reg..io',
    // '' is not here: the old extension's "not set" (Docker Hub), see old-forms.test.ts.
    'a'.repeat(300),
  ])('refused without echoing it: %j', (server) => {
    const msg = errorOf(null, login(server));
    expect(msg).toContain('protected setting "login.server" must be a registry host name with an optional port');
    if (server.length > 2) expect(msg).not.toContain(server.trim());
  });

  test('isRegistryHost bounds the port', () => {
    expect(isRegistryHost('r.io:65535')).toBe(true);
    expect(isRegistryHost('r.io:99999')).toBe(false);
  });
});

describe('environment variable names and values', () => {
  test.each(['A B', '1ABC', 'A-B', 'A=B', '', 'A.B', 'Ä'])('public compose-environment name %j is refused and named (public)', (name) => {
    const msg = errorOf({ 'compose-environment': { [name]: 'v' } }, null);
    expect(msg).toContain(`public setting "compose-environment": the name ${JSON.stringify(name)} must be letters, digits and _, not starting with a digit`);
  });

  test('a protected environment name that is not valid is refused and not echoed', () => {
    const name = `${CANARY} X`;
    const msg = errorOf(null, { environment: { [name]: 'v' } });
    expect(msg).toContain('protected setting "environment": a name (not shown: protected settings are secret) must be letters, digits and _');
    expect(msg).not.toContain(CANARY);
  });

  test('valid names pass; the summary gives their number, not their names', () => {
    const s = parseSettings({ 'compose-environment': { _A1: 'x' } }, { environment: { TOKEN_1: 'v', b: '' } });
    expect(summariseSettings(s)).toContain('2 protected environment variable(s) set');
    expect(summariseSettings(s)).not.toContain('TOKEN_1');
  });

  test('a NUL in a value is refused on either side; the protected variable is not named', () => {
    const msg = errorOf({ 'compose-environment': { A: 'x\u0000y' } }, { environment: { [CANARY.replace(/-/g, '_')]: 'x\u0000y' } });
    expect(msg).toContain('public setting "compose-environment.A" contains a NUL character');
    expect(msg).toContain('protected setting "environment" (at a key whose name is not shown: protected settings are secret) contains a NUL character');
    expect(msg).not.toContain('CANARY');
  });
});

describe('unknown protected keys are never echoed', () => {
  test('at the top and inside login, with the valid keys listed', () => {
    const msg = errorOf(null, { [CANARY]: 'x', login: { username: 'u', password: 'p', [CANARY + '2']: 'y' } });
    expect(msg).toContain('an unknown protected setting (its name is not shown: protected settings are secret); valid keys here: certs, login, environment');
    expect(msg).toContain('an unknown protected setting at "login" (its name is not shown: protected settings are secret); valid keys here: server, username, password, email');
    expect(msg).not.toContain('CANARY');
  });

  test('public unknown keys are still named with a guess', () => {
    expect(errorOf({ dokcer: {} }, null)).toContain('unknown public setting "dokcer"; did you mean "docker"?');
  });
});

describe('__proto__, constructor, deep nesting, NUL in keys', () => {
  test('JSON.parse makes "__proto__" an own key; refused on either side, never silently dropped', () => {
    const pub = JSON.parse('{"compose-environment":{"__proto__":"x","A":"1"}}');
    const prot = JSON.parse('{"environment":{"__proto__":{"polluted":"yes"}},"login":{"constructor":"c","username":"u","password":"p"}}');
    const msg = errorOf(pub, prot);
    expect(msg).toContain('public setting "compose-environment": a key named "__proto__" is not accepted');
    expect(msg).toContain('protected setting "environment": a key named "__proto__" is not accepted');
    expect(msg).toContain('protected setting "login": a key named "constructor" is not accepted');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  test('the other problems are still reported with a reserved key', () => {
    const msg = errorOf(JSON.parse('{"__proto__":1,"docker":{"port":"x"}}'), null);
    expect(msg).toContain('public settings: a key named "__proto__" is not accepted');
    expect(msg).toContain('public setting "docker.port" must be a port number');
  });

  test('a million levels of nesting is a clear error, not a stack overflow', () => {
    const n = 1_000_000;
    const deep = JSON.parse('{"compose":' + '['.repeat(n) + ']'.repeat(n) + '}');
    expect(errorOf(deep, null)).toContain('public setting "compose.0.0" is nested more than 32 levels deep');
    const deepProt = JSON.parse('{"environment":' + '{"a":'.repeat(1000) + '1' + '}'.repeat(1000) + '}');
    const msg = errorOf(null, deepProt);
    expect(msg).toContain('protected setting "environment" (at a key whose name is not shown: protected settings are secret) is nested more than 32 levels deep');
  });

  test('a NUL in a key name is refused', () => {
    expect(errorOf({ 'compose-environment': { 'A\u0000': '1' } }, null)).toContain('public setting "compose-environment": a key has a NUL character in its name');
  });
});

describe('item 6: no hash of a password or user name is ever published', () => {
  test('the summary says "set" and carries no hash of either', () => {
    const password = 'hunter2';
    const s = parseSettings(null, { login: { server: 'r.example.com', username: 'admin', password } });
    const text = summariseSettings(s);
    expect(text).toContain("registry login to r.example.com for root and the VM's provisioned account: user name and password set");
    for (const v of [password, 'admin']) {
      expect(text).not.toContain(sha256Prefix(v));
      expect(text).not.toContain(sha256Prefix(v, 8));
    }
    expect(text).not.toMatch(/sha256/);
  });
});
