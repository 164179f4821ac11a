// Every problem at once: a settings typo, a bad dockerd option and an expired certificate (made
// with openssl at test time) are reported in one message, as enable and the dry run check them.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { preflight } from '../../../handler/docker/preflight.js';
import { ConfigError } from '../../../handler/errors.js';
import { certsSetting, issuerSetting, makeCertSet, makeExpiredCa, pem, type CertSet } from '../../support/tls-certs.js';

let dir: string;
let set: CertSet;
let expiredCa: { ca: string; caKey: string };
const DAY = 86_400_000;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'preflight-'));
  set = makeCertSet(dir);
  expiredCa = makeExpiredCa(dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const refusal = (pub: unknown, prot: unknown, now = Date.now()): string => {
  try {
    preflight(pub, prot, now);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('preflight: settings, dockerd options and certificates in one pass', () => {
  test('good settings pass and come back typed', () => {
    const s = preflight({ docker: { port: 2376, options: ['--log-level=warn'] } }, { certs: certsSetting(set) }, Date.now());
    expect(s.public.docker.port).toBe(2376);
  });

  test('a typo and an expired certificate are said together', () => {
    const msg = refusal({ docker: { port: 2376, optons: [], engine: { source: 'moby' } }, 'azure-environment': 'AzureCloud' }, { certs: certsSetting(set) }, Date.now() + 5 * DAY);
    expect(msg).toMatch(/^Invalid extension settings: /);
    expect(msg).toMatch(/unknown public setting "docker\.optons"; did you mean "docker\.options"\?/);
    expect(msg).toMatch(/"certs\.cert": the server certificate expired on/);
    expect(msg).toMatch(/Nothing was changed\.$/);
  });

  test('the options are checked even when another setting is wrong', () => {
    const msg = refusal({ docker: { port: 'x', options: ['--nope', '--debug'] } }, { certs: certsSetting(set) });
    expect(msg).toMatch(/"docker\.port" must be a port number/);
    expect(msg).toMatch(/unknown dockerd option "--nope"/);
  });

  test('a certificate whose key does not match is said with a protected typo', () => {
    const msg = refusal({}, { certs: { ...certsSetting(set), key: pem(set.clientKey) }, logn: {} });
    expect(msg).toMatch(/an unknown protected setting .*did you mean "login"\?/);
    expect(msg).toMatch(/"certs\.key" does not belong to the certificate in "certs\.cert"/);
  });

  test('an expired issuer is said together with a bad option', () => {
    const msg = refusal({ docker: { options: ['--tlsverify=maybe'] } }, { certs: issuerSetting(set.ca, expiredCa) });
    expect(msg).toMatch(/"certs\.issuer\.cert": the issuer CA expired on/);
    expect(msg).toMatch(/docker\.options/);
  });
});
