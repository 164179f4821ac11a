import { describe, expect, test } from '@jest/globals';
import { buildEvent } from '../../../handler/agent/events.js';
import { capMessage } from '../../../handler/agent/status.js';
import { capCodePoints, capUtf8, cleanText } from '../../../handler/agent/text.js';

// The agent re-encodes what we publish as UTF-8: a lone surrogate (half an emoji) makes it fail to
// encode the whole event and drop it.
const utf8RoundTrips = (s: string) => Buffer.from(s, 'utf8').toString('utf8') === s;

describe('text that crosses into the agent', () => {
  test('control characters become spaces (tab and newline stay); lone surrogates become U+FFFD', () => {
    expect(cleanText('a\u0000b\u001bc\u007fd\u009fe\tf\ng\rh')).toBe('a b c d e\tf\ng h');
    expect(cleanText('x\ud83dy')).toBe('x\ufffdy');
    expect(cleanText('ok \ud83d\ude00')).toBe('ok \ud83d\ude00');
  });

  test('cuts never split a character', () => {
    const emoji = '\ud83d\ude00'.repeat(10);
    const cut = capCodePoints(emoji, 5, '');
    expect(Array.from(cut)).toHaveLength(5);
    expect(utf8RoundTrips(cut)).toBe(true);
    for (let n = 0; n < 45; n++) {
      const b = capUtf8(`é${emoji}`, n, '...');
      expect(Buffer.byteLength(b, 'utf8')).toBeLessThanOrEqual(Math.max(n, 3));
      expect(utf8RoundTrips(b)).toBe(true);
    }
  });

  test('an event message is at most 3072 UTF-8 bytes, cut at a character, with no control characters', () => {
    const message = `\u0007${'€\ud83d\ude00'.repeat(2000)}`;
    const ev = JSON.parse(buildEvent({ taskName: 'Enable', level: 'Error', message }, { version: '2.0.0', operationId: 'op', now: new Date(0), pid: 1 }));
    expect(Buffer.byteLength(ev.Message, 'utf8')).toBeLessThanOrEqual(3072);
    expect(ev.Message.endsWith('...')).toBe(true);
    expect(utf8RoundTrips(ev.Message)).toBe(true);
    expect(ev.Message).not.toMatch(/[\u0000-\u001f]/);
  });

  test('a status message is capped at 1024 characters the same way', () => {
    const m = capMessage('\ud83d\ude00'.repeat(2000));
    expect(Array.from(m).length).toBeLessThanOrEqual(1024);
    expect(utf8RoundTrips(m)).toBe(true);
    expect(m.endsWith('…[truncated, see the handler log]')).toBe(true);
  });
});
