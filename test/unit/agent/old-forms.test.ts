import { describe, expect, test } from '@jest/globals';
import { parseSettings } from '../../../handler/agent/settings.js';
import { settingsError } from '../../support/settings-error.js';
import { exampleSettings } from '../../../handler/demo/example-settings.js';

// The forms the retired Go extension accepted (encoding/json: names matched whatever their
// capitals, "" and null meaning "not set", empty certs and login meaning none), as its users'
// templates hold them.

const ex = exampleSettings();
const certs = ex.protectedSettings.certs as { ca: string; cert: string; key: string };
const b64 = (s: string) => Buffer.from(s).toString('base64');

const errorOf = settingsError;

describe('old forms: accepted in their old meaning, one warning each', () => {
  test('"Docker", "Port", "Options" in other capitals are the lower-case settings', () => {
    const s = parseSettings({ Docker: { Port: '2376', OPTIONS: ['--debug'] } }, { Certs: { CA: b64(certs.ca), Cert: b64(certs.cert), KEY: b64(certs.key) } });
    expect(s.public.docker.port).toBe(2376);
    expect(s.public.docker.options).toEqual(['--debug']);
    expect(s.protected.certs?.ca).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(s.warnings).toEqual([
      'public setting "docker" is written "Docker": setting names are lower case; write "docker"',
      'public setting "docker.port" is written "Port": setting names are lower case; write "port"',
      'public setting "docker.options" is written "OPTIONS": setting names are lower case; write "options"',
      'protected setting "certs" is written with capitals: setting names are lower case; write "certs"',
      'protected setting "certs.ca" is written with capitals: setting names are lower case; write "ca"',
      'protected setting "certs.cert" is written with capitals: setting names are lower case; write "cert"',
      'protected setting "certs.key" is written with capitals: setting names are lower case; write "key"',
    ]);
  });

  test('"Azure-Environment", "Compose-Environment", "Environment", "Login" and its fields', () => {
    const s = parseSettings(
      { 'Azure-Environment': 'AzureChinaCloud', Compose: { web: { image: 'nginx' } }, 'COMPOSE-ENVIRONMENT': { A: '1' } },
      { Environment: { B: '2' }, Login: { Username: 'u', Password: 'p@ss', Server: 'r.example', Email: 'e@x' } },
    );
    expect(s.public['azure-environment']).toBe('AzureChinaCloud');
    expect(s.public['compose-environment']).toEqual({ A: '1' });
    expect(s.protected.environment).toEqual({ B: '2' });
    expect(s.protected.login).toEqual({ username: 'u', password: 'p@ss', server: 'r.example', email: 'e@x' });
    expect(s.warnings).toHaveLength(9);
  });

  test('a protected key in other capitals is named only by its lower-case spelling', () => {
    const s = parseSettings({}, { ENVIRONMENT: { A: '1' } });
    expect(s.warnings).toEqual(['protected setting "environment" is written with capitals: setting names are lower case; write "environment"']);
    expect(JSON.stringify(s.warnings)).not.toContain('ENVIRONMENT');
  });

  test('Go\'s own folds: the long s matches "s" ("ſerver")', () => {
    const s = parseSettings({}, { login: { '\u017ferver': 'r.example', username: 'u', password: 'p' } });
    expect(s.protected.login?.server).toBe('r.example');
  });

  test('"port": "" is no TCP listener (local socket only)', () => {
    const s = parseSettings({ docker: { port: '' } }, {});
    expect(s.public.docker.port).toBeUndefined();
    expect(s.warnings).toEqual(['public setting "docker.port" is an empty string, which is taken as not set: remove it']);
  });

  test('"azure-environment": "" is the default AzureCloud', () => {
    const s = parseSettings({ 'azure-environment': '' }, {});
    expect(s.public['azure-environment']).toBe('AzureCloud');
    expect(s.warnings).toEqual(['public setting "azure-environment" is an empty string, which is taken as not set: remove it']);
  });

  test('null for an old setting is not set', () => {
    const s = parseSettings({ docker: { port: null, options: null }, compose: null }, { login: null });
    expect(s.public.docker.port).toBeUndefined();
    expect(s.public.docker.options).toEqual([]);
    expect(s.public.compose).toBeUndefined();
    expect(s.protected.login).toBeUndefined();
    expect(s.warnings).toEqual([
      'public setting "docker.port" is null, which is taken as not set: remove it',
      'public setting "docker.options" is null, which is taken as not set: remove it',
      'public setting "compose" is null, which is taken as not set: remove it',
      'protected setting "login" is null, which is taken as not set: remove it',
    ]);
  });

  test.each([
    ['"certs": {}', {}],
    ['"certs" with three empty strings', { ca: '', cert: '', key: '' }],
  ])('%s is no certificates, in one warning', (_name, c) => {
    const s = parseSettings({}, { certs: c });
    expect(s.protected.certs).toBeUndefined();
    expect(s.warnings).toEqual(['protected setting "certs" has no values (no TLS certificates, as the old extension took it): remove "certs"']);
  });

  test('a login without username and password is no login, in one warning', () => {
    const s = parseSettings({}, { login: { server: '', username: '', password: '', email: '' } });
    expect(s.protected.login).toBeUndefined();
    expect(s.warnings).toEqual(['protected setting "login" has no username and password (no registry login, as the old extension took it): remove "login"']);
  });

  test('a login with only a server (no username, no password) never logged in: no login, in one warning', () => {
    const s = parseSettings({}, { login: { server: 'r.example' } });
    expect(s.protected.login).toBeUndefined();
    expect(s.warnings).toEqual(['protected setting "login" has no username and password (no registry login, as the old extension took it): remove "login"']);
  });

  test('an empty login email is dropped; the login stays', () => {
    const s = parseSettings({}, { login: { username: 'u', password: 'p', email: '' } });
    expect(s.protected.login).toEqual({ username: 'u', password: 'p' });
    expect(s.warnings).toEqual(['protected setting "login.email" is an empty string, which is taken as not set: remove it']);
  });

  test('an empty login server is Docker Hub, as before', () => {
    const s = parseSettings({}, { login: { server: '', username: 'u', password: 'p' } });
    expect(s.protected.login).toEqual({ username: 'u', password: 'p' });
    expect(s.warnings).toEqual(['protected setting "login.server" is an empty string, which is taken as not set: remove it']);
  });

  test('a whole old template: every form at once, every warning in order', () => {
    const s = parseSettings({ Docker: { port: '', options: ['-g /mnt/docker'] }, 'azure-environment': '' }, { certs: { ca: '', cert: '', key: '' } });
    expect(s.public.docker.port).toBeUndefined();
    expect(s.protected.certs).toBeUndefined();
    expect(s.warnings).toHaveLength(4);
  });

  test('the current forms give no warnings at all', () => {
    const s = parseSettings(ex.publicSettings, ex.protectedSettings);
    expect(s.warnings).toBeUndefined();
  });
});

describe('old forms: what stays refused', () => {
  test('a typo is still an error with a suggestion, whatever its capitals', () => {
    expect(errorOf({ Dockr: {} }, {})).toMatch(/unknown public setting "Dockr"; did you mean "docker"\?/);
    expect(errorOf({ docker: { prot: '2376' } }, {})).toMatch(/unknown public setting "docker.prot"; did you mean "docker.port"\?/);
  });

  test('a key the old extension never had is not matched by capitals', () => {
    expect(errorOf({ docker: { AllowInsecureTcp: true } }, {})).toMatch(/unknown public setting "docker.AllowInsecureTcp"/);
  });

  test('the same setting twice with different capitals is refused (public: both spellings named)', () => {
    expect(errorOf({ docker: {}, Docker: {} }, {})).toMatch(/public setting "docker" is given twice, as "docker" and "Docker"/);
  });

  test('the same protected setting twice: neither spelling is shown', () => {
    const msg = errorOf({}, { environment: {}, ENVIRONMENT: {} });
    expect(msg).toMatch(/protected setting "environment" is given twice, with different capitals: keep only "environment"/);
    expect(msg).not.toContain('ENVIRONMENT');
  });

  test('a port without certificates (empty certs too) is refused, saying exactly what to add', () => {
    for (const prot of [{}, { certs: {} }, { Certs: { ca: '', cert: '', key: '' } }]) {
      const msg = errorOf({ docker: { port: '2376' } }, prot);
      expect(msg).toContain('add to the protected settings "certs": {"ca": <CA certificate>, "cert": <server certificate>, "key": <its private key>}');
      expect(msg).toContain('or remove "docker.port"');
    }
  });

  test('certs with only some values are an error naming what is missing (never TLS without a key)', () => {
    expect(errorOf({}, { certs: { ca: b64(certs.ca), cert: b64(certs.cert), key: '' } })).toMatch(/protected setting "certs.key" is required/);
  });

  test('a login with a username but no password is an error, not silently no login', () => {
    expect(errorOf({}, { login: { username: 'u', password: '' } })).toMatch(/protected setting "login.password" is required/);
  });

  test('a whitespace port or an unknown environment stays an error', () => {
    expect(errorOf({ docker: { port: ' ' } }, {})).toMatch(/public setting "docker.port" must be a port number/);
    expect(errorOf({ 'azure-environment': 'azurecloud' }, {})).toMatch(/"azure-environment" must be one of "AzureCloud"/);
  });
});
