import { describe, expect, test } from '@jest/globals';
import { closest, parseSettings, PublicSettingsSchema } from '../../../handler/agent/settings.js';
import { settingsError } from '../../support/settings-error.js';
import { summariseSettings, secretValues } from '../../../handler/agent/settings-summary.js';
import { exampleSettings } from '../../../handler/demo/example-settings.js';

const ex = exampleSettings();
const certs = ex.protectedSettings.certs as { ca: string; cert: string; key: string };
const b64 = (s: string) => Buffer.from(s).toString('base64');

const errorOf = settingsError;

describe('parseSettings: every key of the old DockerExtension', () => {
  test('null public and protected settings give the secure defaults: local socket only', () => {
    const s = parseSettings(null, null);
    expect(s.public.docker).toEqual({ options: [], engine: { source: 'distro', removeOnUninstall: false }, allowInsecureTcp: false, liveRestore: true, tls: { subjectAltNames: [], days: 90, renewBefore: '1/3' } });
    expect(s.public['azure-environment']).toBe('AzureCloud');
    expect(s.protected).toEqual({});
    expect(summariseSettings(s)).toMatch(/local socket only/);
  });

  test('the full old contract, certs as base64 (the Go extension) and the port as a string', () => {
    const s = parseSettings(
      {
        docker: { port: '2376', options: ['--debug'] },
        compose: { web: { image: 'nginx' } },
        'compose-environment': { A: '1' },
        'azure-environment': 'AzureChinaCloud',
      },
      {
        certs: { ca: b64(certs.ca), cert: b64(certs.cert), key: b64(certs.key) },
        login: { server: 'r.example', username: 'u', password: 'p@ss', email: 'e@x' },
        environment: { SECRET: 'v' },
      },
    );
    expect(s.public.docker.port).toBe(2376);
    expect(s.protected.certs!.key).toBe(certs.key.replace(/\r+\n?/g, '\n').trim() + '\n');
    expect(s.protected.certs!.ca.startsWith('-----BEGIN CERTIFICATE-----')).toBe(true);
  });

  test('raw PEM with CRLF is accepted and normalised', () => {
    const s = parseSettings({ docker: { port: 2376 } }, { certs: { ca: certs.ca.replace(/\n/g, '\r\n'), cert: certs.cert, key: certs.key } });
    expect(s.protected.certs!.ca).not.toContain('\r');
  });
});

describe('parseSettings: clear errors, all at once', () => {
  test('unknown keys are named with the closest valid key', () => {
    const msg = errorOf({ docker: { prot: 2376, optoins: [] }, 'azure-enviroment': 'AzureCloud', composee: {} }, { cert: {} });
    expect(msg).toContain('unknown public setting "docker.prot"; did you mean "docker.port"?');
    expect(msg).toContain('"docker.optoins"; did you mean "docker.options"?');
    expect(msg).toContain('"azure-enviroment"; did you mean "azure-environment"?');
    expect(msg).toContain('"composee"; did you mean "compose"?');
    // A protected key is never echoed (it may be a pasted secret); the guess is.
    expect(msg).toContain('an unknown protected setting (its name is not shown: protected settings are secret); did you mean "certs"?');
    expect(msg).not.toContain('"cert"');
  });

  test('type and range problems name the setting and what is expected', () => {
    const msg = errorOf({ docker: { port: 70000, options: 'x' }, 'azure-environment': 'Mars' }, { certs: { ca: 'nope', cert: certs.cert } });
    expect(msg).toContain('public setting "docker.port" must be between 1 and 65535');
    expect(msg).toContain('public setting "docker.options" must be a JSON array');
    expect(msg).toContain('public setting "azure-environment"');
    expect(msg).toContain('protected setting "certs.ca" must be a CA certificate in PEM format');
    expect(msg).toContain('protected setting "certs.key" is required');
    expect(errorOf({ docker: { port: true } }, null)).toContain('public setting "docker.port" must be a port number, for example 2376');
    expect(errorOf({ docker: { port: 'https' } }, null)).toContain('public setting "docker.port" must be a port number, for example 2376');
  });

  test('a TCP port without certificates is refused unless explicitly opted in', () => {
    expect(errorOf({ docker: { port: 2376 } }, null)).toMatch(/"docker.port".*"certs".*missing/);
    expect(parseSettings({ docker: { port: 2375, allowInsecureTcp: true } }, null).public.docker.allowInsecureTcp).toBe(true);
  });

  test('no secret value is ever echoed in an error', () => {
    const msg = errorOf(null, { login: { username: 'u', password: 12345678 }, certs: { ca: 'SECRETCA', cert: 'SECRETCERT', key: 'SECRETKEY' } });
    for (const s of ['12345678', 'SECRETCA', 'SECRETCERT', 'SECRETKEY']) expect(msg).not.toContain(s);
  });

  test('protected settings that are not an object', () => {
    expect(errorOf(null, 'text')).toContain('protected settings must be a JSON object');
  });
});

describe('summary and secrets', () => {
  test('the summary proves decryption with fingerprints and shows no secret', () => {
    const s = parseSettings({ docker: { port: 2376 } }, { certs, login: { username: 'admin', password: 'hunter2-long' }, environment: { TOKEN: 'tok-123456' } });
    const text = summariseSettings(s);
    expect(text).toMatch(/TCP 2376 with TLS client verification \(ca SHA-256 fingerprint (?:[0-9A-F]{2}:){31}[0-9A-F]{2}; cert SHA-256 fingerprint (?:[0-9A-F]{2}:){31}[0-9A-F]{2}; key set, never fingerprinted\)/);
    expect(text).toContain('1 protected environment variable(s) set');
    expect(text).not.toContain('TOKEN');
    for (const v of secretValues(s)) expect(text).not.toContain(v);
    expect(secretValues(s)).toEqual(expect.arrayContaining(['hunter2-long', 'tok-123456', s.protected.certs!.key]));
  });

  test('closest() only suggests plausible typos', () => {
    expect(closest('compse', ['compose', 'docker'])).toBe('compose');
    expect(closest('zzzzzzzz', ['compose', 'docker'])).toBeUndefined();
    // A swap of two neighbours is one edit; a short word gets no guess that shares nothing with it.
    expect(closest('prot', ['port', 'tls'])).toBe('port');
    expect(closest('g', ['ip', 'tls', 'dns'])).toBeUndefined();
    expect(closest('dryrun', ['dry-run', 'root'])).toBe('dry-run');
  });

  test('the public schema is exportable as JSON Schema (manifest/)', async () => {
    const { z } = await import('zod');
    const js = z.toJSONSchema(PublicSettingsSchema, { io: 'input', unrepresentable: 'any' }) as any;
    expect(js.properties.docker.properties.port).toBeDefined();
    expect(js.additionalProperties).toBe(false);
  });
});
