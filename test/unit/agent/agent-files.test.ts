import { describe, expect, test } from '@jest/globals';
import { handlerEnvCandidates, parseHandlerEnvironment } from '../../../handler/agent/handler-env.js';
import { parseSettingsFile } from '../../../handler/agent/settings-file.js';
import { buildEvent, eventFileName } from '../../../handler/agent/events.js';

const linuxAgentFile = JSON.stringify([
  {
    name: 'Microsoft.Azure.Extensions.DockerExtension',
    version: 1.0,
    handlerEnvironment: {
      logFolder: '/var/log/azure/Microsoft.Azure.Extensions.DockerExtension',
      configFolder: '/var/lib/waagent/Microsoft.Azure.Extensions.DockerExtension-1.2.2/config',
      statusFolder: '/var/lib/waagent/Microsoft.Azure.Extensions.DockerExtension-1.2.2/status',
      heartbeatFile: '/var/lib/waagent/Microsoft.Azure.Extensions.DockerExtension-1.2.2/heartbeat.log',
      eventsFolder: '/var/log/azure/Microsoft.Azure.Extensions.DockerExtension/events',
      eventsFolder_preview: '/var/log/azure/Microsoft.Azure.Extensions.DockerExtension/events',
    },
  },
]);

describe('HandlerEnvironment.json', () => {
  test("the Linux agent's exact file", () => {
    const env = parseHandlerEnvironment(linuxAgentFile, '/var/lib/waagent/Microsoft.Azure.Extensions.DockerExtension-1.2.2');
    expect(env.libDir).toBe('/var/lib/waagent');
    expect(env.dataDir).toBe('/var/lib/waagent/Microsoft.Azure.Extensions.DockerExtension');
    expect(env.eventsFolder).toBe('/var/log/azure/Microsoft.Azure.Extensions.DockerExtension/events');
  });

  test('Windows-only keys and the old seqNo are tolerated; events folder is optional', () => {
    const doc = JSON.parse(linuxAgentFile);
    Object.assign(doc[0], { seqNo: '0' });
    Object.assign(doc[0].handlerEnvironment, { deploymentid: 'd', rolename: 'r', instance: 'i', hostResolverAddress: 'h' });
    delete doc[0].handlerEnvironment.eventsFolder;
    const env = parseHandlerEnvironment('\uFEFF' + JSON.stringify(doc), '/x');
    expect(env.eventsFolder).toBeUndefined();
    expect(env.configFolder).toMatch(/config$/);
  });

  test.each([
    ['not JSON', '{', /not valid JSON/],
    ['not an array', '{}', /layout/],
    ['missing statusFolder', JSON.stringify([{ name: 'x', handlerEnvironment: { logFolder: 'a', configFolder: 'b', heartbeatFile: 'c' } }]), /handlerEnvironment\.statusFolder/],
  ])('%s gives a clear error', (_, text, re) => {
    expect(() => parseHandlerEnvironment(text, '/x')).toThrow(re);
  });

  test('search order: agent variable, next to the code, one level above', () => {
    expect(handlerEnvCandidates('/ext', '/ext/dist')).toEqual(['/ext', '/ext/dist']);
    expect(handlerEnvCandidates(undefined, '/a/b/dist')).toEqual(['/a/b/dist', '/a/b']);
  });
});

describe('N.settings', () => {
  const envelope = (hs: unknown) => JSON.stringify({ runtimeSettings: [{ handlerSettings: hs }] });

  test('the zero-byte 0.settings of an extension without settings', () => {
    expect(parseSettingsFile('', '0.settings')).toEqual({ publicSettings: null });
  });

  test('all three keys null', () => {
    expect(parseSettingsFile(envelope({ publicSettings: null, protectedSettings: null, protectedSettingsCertThumbprint: null }), 'f')).toEqual({ publicSettings: null });
  });

  test('protected settings with a thumbprint', () => {
    const r = parseSettingsFile(envelope({ publicSettings: { a: 1 }, protectedSettings: 'MIIB', protectedSettingsCertThumbprint: 'AB' }), 'f');
    expect(r).toEqual({ publicSettings: { a: 1 }, protectedSettings: 'MIIB', thumbprint: 'AB' });
  });

  test('protected settings without a thumbprint is a clear error', () => {
    expect(() => parseSettingsFile(envelope({ publicSettings: null, protectedSettings: 'MIIB', protectedSettingsCertThumbprint: null }), 'f')).toThrow(
      /no protectedSettingsCertThumbprint/,
    );
  });

  test.each([
    ['invalid JSON', '{"runtimeSettings":', /not valid JSON at line 1, column 20 \(expected a value, but the text ends\)/],
    ['two runtimeSettings', JSON.stringify({ runtimeSettings: [{ handlerSettings: {} }, { handlerSettings: {} }] }), /exactly one entry/],
  ])('%s', (_, text, re) => {
    expect(() => parseSettingsFile(text, 'f')).toThrow(re);
  });
});

describe('events', () => {
  test('all eight keys, as strings, message bounded', () => {
    const e = JSON.parse(buildEvent({ taskName: 'Enable', level: 'Error', message: 'x'.repeat(5000) }, { version: '1.0.0', operationId: 'op', now: new Date(0), pid: 42 }));
    expect(Object.keys(e).sort()).toEqual(['EventLevel', 'EventPid', 'EventTid', 'Message', 'OperationId', 'TaskName', 'Timestamp', 'Version']);
    for (const v of Object.values(e)) expect(typeof v).toBe('string');
    expect((e.Message as string).length).toBeLessThanOrEqual(3072);
    expect(JSON.stringify(e).length).toBeLessThan(6144);
  });

  test('file names match ^\\d+\\.json$ and increase', () => {
    const a = eventFileName(1000);
    const b = eventFileName(1000);
    expect(a).toMatch(/^\d+\.json$/);
    expect(b > a).toBe(true);
  });
});
