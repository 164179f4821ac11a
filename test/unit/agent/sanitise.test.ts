import { afterAll, afterEach, describe, expect, test } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { buildEvent } from '../../../handler/agent/events.js';
import { buildHeartbeat } from '../../../handler/agent/heartbeat.js';
import { clearSecrets, protectedSecrets, registerSecrets, sanitise, secretForms } from '../../../handler/agent/sanitise.js';
import { buildStatus } from '../../../handler/agent/status.js';
import { exampleSettings } from '../../../handler/demo/example-settings.js';
import { createLogger } from '../../../handler/log/logger.js';
import { LineLog } from '../../../handler/log/line-log.js';

// Issue 8, item 7: one sanitiser for every output, fed as soon as the secrets are known.

const key = (exampleSettings().protectedSettings.certs as { key: string }).key;
const keyLines = key.split('\n').filter((l) => l.length >= 16 && !l.startsWith('-----'));
const PASSWORD = 'CANARY-pw-"quoted"\\back';
const tmp = mkdtempSync(path.join(tmpdir(), 'sanitise-'));

afterEach(() => clearSecrets());
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('secretForms', () => {
  test('a PEM key: the whole, each line, and JSON-escaped', () => {
    const forms = secretForms(key);
    expect(forms).toContain(key);
    for (const l of keyLines) expect(forms).toContain(l);
    expect(forms).toContain(JSON.stringify(key).slice(1, -1));
  });

  test('base64 of a PEM (the old extension\'s form): the base64 and the lines it decodes to', () => {
    const b64 = Buffer.from(key).toString('base64');
    const forms = secretForms(b64);
    expect(forms).toContain(b64);
    for (const l of keyLines) expect(forms).toContain(l);
  });

  test('a one-line secret base64-encoded (an auth header) is scrubbed too', () => {
    registerSecrets(['user:CANARY-pass']);
    expect(sanitise(`Authorization: Basic ${Buffer.from('user:CANARY-pass').toString('base64')}`)).toBe('Authorization: Basic [redacted]');
  });

  test('short values are not scrubbed (they would blank ordinary words)', () => {
    expect(secretForms('abc')).toEqual([]);
  });
});

describe('protectedSecrets: every value and user key of raw protected settings', () => {
  test('unknown keys, values, numbers; not the schema\'s own key names; a registry host is shown', () => {
    const raw = { login: { server: 'reg.example.com', username: 'admin-user', password: 'pw-secret' }, 'CANARY-as-key': { x: 'nested-value' }, environment: { TOKEN_NAME: 'tok' }, pin: 123456 };
    const got = protectedSecrets(raw);
    expect(got).toEqual(expect.arrayContaining(['admin-user', 'pw-secret', 'CANARY-as-key', 'nested-value', 'TOKEN_NAME', 'tok', '123456', 'pin']));
    for (const k of ['login', 'server', 'username', 'password', 'environment', 'reg.example.com']) expect(got).not.toContain(k);
  });

  test('a typo of a schema key is no secret: its hint stays readable', () => {
    expect(protectedSecrets({ cert: { ca: 'x' }, loginn: {}, [`CANARY-key-name`]: 1 })).toEqual(expect.arrayContaining(['CANARY-key-name']));
    expect(protectedSecrets({ cert: {}, loginn: {} })).toEqual([]);
  });

  test('the reserved key names validation refuses are not registered (its message names them)', () => {
    expect(protectedSecrets(JSON.parse('{"environment":{"__proto__":"x-secret-value","constructor":"y"}}'))).toEqual(['y', 'x-secret-value']);
  });

  test('a login.server that is not a host name is a secret like any other value', () => {
    expect(protectedSecrets({ login: { server: 'reg.io; my-password' } })).toContain('reg.io; my-password');
  });

  test('hostile nesting does not overflow the stack', () => {
    let v: unknown = 'deep-secret';
    for (let i = 0; i < 200_000; i++) v = [v];
    expect(protectedSecrets(v)).toContain('deep-secret');
  });
});

describe('every writer goes through it', () => {
  const leak = `failed: ${PASSWORD} and ${keyLines[1]} and ${JSON.stringify(key)}`;

  test('status, heartbeat and events', () => {
    registerSecrets([PASSWORD, key]);
    const outputs = [
      buildStatus({ operation: 'Enable', status: 'error', message: leak, substatus: [{ name: PASSWORD, status: 'error', message: leak }] }, { name: 'x', now: new Date() }),
      buildHeartbeat('NotReady', leak),
      buildEvent({ taskName: 'Enable', level: 'Error', message: leak }, { version: '1', operationId: 'op', now: new Date(), pid: 1 }),
    ];
    for (const out of outputs) {
      expect(out).not.toContain('CANARY');
      for (const l of keyLines) expect(out).not.toContain(l);
      expect(out).toContain('[redacted]');
    }
  });

  test('handler.log (pino): message, nested fields and errors, once the secrets are registered', () => {
    const file = path.join(tmp, 'handler.log');
    const log = createLogger({ file });
    registerSecrets([PASSWORD, key]);
    log.error({ event: 'x', detail: { deep: [leak] }, err: new Error(leak) }, leak);
    log.info(`plain ${PASSWORD}`);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('CANARY');
    for (const l of keyLines) expect(text).not.toContain(l);
    expect(text.split('\n').filter(Boolean).map((l) => JSON.parse(l))).toHaveLength(2);
  });

  test('a log line stays valid JSON whatever the secret (a number, a JSON word, a key)', () => {
    const file = path.join(tmp, 'words.log');
    const log = createLogger({ file });
    registerSecrets(['1234', 'true', 'secret-key-name']);
    log.info({ count: 1234, ok: true, note: 'pin 1234 is true', 'secret-key-name': 1 }, 'done');
    const line = JSON.parse(readFileSync(file, 'utf8').trim());
    expect(line).toMatchObject({ count: 1234, ok: true, note: 'pin [redacted] is [redacted]', '[redacted]': 1, msg: 'done' });
  });

  test('monitor.log (LineLog)', () => {
    const file = path.join(tmp, 'monitor.log');
    const log = new LineLog(file, { maxBytes: 1 << 20 });
    registerSecrets([PASSWORD]);
    log.warn({ why: leak }, leak);
    log.close();
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('CANARY');
    expect(JSON.parse(text.trim()).why).toContain('[redacted]');
  });

  test('sanitise with extra secrets (the status writer\'s explicit list) works without registering them', () => {
    expect(sanitise(`x ${PASSWORD} y`, [PASSWORD])).toBe('x [redacted] y');
    expect(sanitise(`x ${PASSWORD} y`)).toContain('CANARY');
  });
});
