import { describe, expect, test } from '@jest/globals';
import { buildStatus, capMessage, scrubSecrets, STATUS_VALUES, MAX_MESSAGE_CHARS } from '../../../handler/agent/status.js';
import { buildHeartbeat } from '../../../handler/agent/heartbeat.js';

const now = new Date('2026-11-28T01:02:03.456Z');

/**
 * The agent's parse_ext_status / parse_ext_substatus / parse_formatted_message rules
 * (agent-contract.md §5.1), as a checker: any violation is what the agent reports as 1012.
 */
function agentAccepts(text: string): string[] {
  const problems: string[] = [];
  if (text.charCodeAt(0) === 0xfeff) problems.push('BOM');
  let doc: any;
  try {
    doc = JSON.parse(text);
  } catch {
    return ['invalid JSON'];
  }
  if (!Array.isArray(doc)) return ['top level is not an array'];
  const st = doc[0]?.status;
  if (!st || typeof st.status !== 'string') problems.push('missing status.status');
  if (!STATUS_VALUES.includes(st?.status)) problems.push(`status ${st?.status} not lowercase-valid`);
  const fm = (m: any, where: string) => {
    if (m === undefined || m === null) return;
    if (typeof m.lang !== 'string' || typeof m.message !== 'string') problems.push(`${where}: formattedMessage needs lang and message`);
  };
  fm(st?.formattedMessage, 'status');
  if (st?.code !== undefined && !Number.isInteger(st.code)) problems.push('code not an int');
  for (const [i, s] of (st?.substatus ?? []).entries()) {
    if (!STATUS_VALUES.includes(s.status)) problems.push(`substatus ${i} status`);
    fm(s.formattedMessage, `substatus ${i}`);
  }
  return problems;
}

describe('buildStatus', () => {
  test.each(STATUS_VALUES)('a %s status is accepted by the agent rules', (status) => {
    const text = buildStatus(
      { operation: 'Enable', status, message: 'm', substatus: [{ name: 'engine', status, message: 's' }] },
      { name: 'Ext', now },
    );
    expect(agentAccepts(text)).toEqual([]);
    const doc = JSON.parse(text);
    expect(doc[0].status).toMatchObject({ operation: 'Enable', status, formattedMessage: { lang: 'en-US', message: 'm' } });
    expect(doc[0].timestampUTC).toBe('2026-11-28T01:02:03Z');
  });

  test('error defaults to a non-zero code, success carries configurationAppliedTime', () => {
    expect(JSON.parse(buildStatus({ operation: 'Enable', status: 'error', message: 'x' }, { name: 'E', now }))[0].status.code).toBe(1);
    expect(JSON.parse(buildStatus({ operation: 'Enable', status: 'success', message: 'x' }, { name: 'E', now }))[0].status.configurationAppliedTime).toBe(
      '2026-11-28T01:02:03Z',
    );
  });

  test('messages are capped for the portal and stay valid JSON with control characters', () => {
    const text = buildStatus({ operation: 'Enable', status: 'error', message: 'a\u0000b'.repeat(5000) }, { name: 'E', now });
    const msg = JSON.parse(text)[0].status.formattedMessage.message as string;
    expect(msg.length).toBeLessThanOrEqual(MAX_MESSAGE_CHARS);
    expect(msg).toMatch(/truncated/);
    expect(msg).not.toContain('\u0000');
    expect(agentAccepts(text)).toEqual([]);
  });

  test('secrets are scrubbed from messages and substatus, including single PEM lines', () => {
    const key = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n';
    const text = buildStatus(
      { operation: 'Enable', status: 'error', message: 'login failed for p4ssw0rd!', substatus: [{ name: 'x', status: 'error', message: 'line MIIEvQIBADANBgkqhkiG9w0BAQEFAASC seen' }] },
      { name: 'E', now, secrets: ['p4ssw0rd!', key] },
    );
    expect(text).not.toContain('p4ssw0rd!');
    expect(text).not.toContain('MIIEvQIBADANBgkqhkiG9w0BAQEFAASC');
    expect(text).toContain('[redacted]');
  });

  test('capMessage keeps short text intact', () => {
    expect(capMessage('short')).toBe('short');
    expect(scrubSecrets('abc', ['ab'])).toBe('abc'); // too short to scrub safely
  });
});

describe('buildHeartbeat', () => {
  test("matches the agent's collect_heartbeat schema", () => {
    const hb = JSON.parse(buildHeartbeat('Ready', 'fine'));
    expect(hb[0].heartbeat).toEqual({ status: 'Ready', code: 0, formattedMessage: { lang: 'en-US', message: 'fine' } });
    expect(JSON.parse(buildHeartbeat('NotReady', 'bad'))[0].heartbeat.code).toBe(1);
  });
});
