import { expect, test } from '@jest/globals';
import { forAgentStream, MAX_STREAM_BYTES } from '../../../handler/agent/std-streams.js';

test('short text is kept; tab and newline survive, other control characters do not', () => {
  expect(forAgentStream('enable: done')).toBe('enable: done');
  expect(forAgentStream('a\tb\nc\u001b[2Jd\u0007e\u009bf\r')).toBe('a\tb\nc [2Jd e f ');
});

test('long text is cut at 4 KiB of UTF-8 on a character boundary, saying so', () => {
  const out = forAgentStream('é'.repeat(10_000));
  expect(Buffer.byteLength(out)).toBeLessThanOrEqual(MAX_STREAM_BYTES);
  expect(out).toMatch(/^é+\n… \(cut at 4 KiB; the status file and handler\.log hold the rest\)$/);
});
