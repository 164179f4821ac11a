import { describe, expect, test } from '@jest/globals';
import { decideSeq, requestedSeq, type LastRun } from '../../../handler/agent/seqnum.js';

const ok = (seq: number, version = '1.0.0'): LastRun => ({ seq, version, result: 'success' });
const enableSuccess = { status: 'success', operation: 'Enable' };

describe('requestedSeq', () => {
  test.each([
    ['env wins over files', '3', [{ seq: 7, mtimeMs: 9 }], 3],
    ['env with whitespace', ' 12 ', [], 12],
    ['newest mtime, not highest number', undefined, [{ seq: 9, mtimeMs: 1 }, { seq: 2, mtimeMs: 5 }], 2],
    ['mtime tie goes to the higher number', undefined, [{ seq: 1, mtimeMs: 5 }, { seq: 4, mtimeMs: 5 }], 4],
    ['empty env falls back to files', '', [{ seq: 0, mtimeMs: 1 }], 0],
    ['nothing at all', undefined, [], undefined],
  ])('%s', (_, env, files, want) => {
    expect(requestedSeq(env, files)).toBe(want);
  });

  test('a non-numeric ConfigSequenceNumber is an error naming the variable', () => {
    expect(() => requestedSeq('1; rm -rf /', [])).toThrow(/ConfigSequenceNumber/);
    expect(() => requestedSeq('-1', [])).toThrow(/non-negative integer/);
  });

  test.each(['007', '1e3', '+5', '0x10', '1.5', '99999999999999999999'])('%j is not what the agent writes: refused, never read as another number', (v) => {
    expect(() => requestedSeq(v, [])).toThrow(/ConfigSequenceNumber .* is not a sequence number/);
  });
});

describe('decideSeq', () => {
  // requested, mrseq, lastRun, status now, expected
  test.each([
    ['first enable ever', 0, undefined, undefined, undefined, 'run'],
    ['same seq, applied by this version, status success', 4, 4, ok(4), enableSuccess, 'skip:already-applied'],
    ['same seq but the last run failed: retried', 4, 3, { seq: 4, version: '1.0.0', result: 'error' as const }, { status: 'error', operation: 'Enable' }, 'run'],
    ['same seq, status overwritten to transitioning by a twin', 4, 4, ok(4), { status: 'transitioning', operation: 'Enable' }, 'run'],
    ['same seq, status file missing', 4, 4, ok(4), undefined, 'run'],
    ['same seq, success written by disable (copied on update)', 4, 4, ok(4), { status: 'success', operation: 'Disable' }, 'run'],
    ['same seq after an update: mrseq copied, no lastRun of this version', 4, 4, undefined, enableSuccess, 'run'],
    ['same seq, lastRun from another version', 4, 4, ok(4, '0.9.0'), enableSuccess, 'run'],
    ['newer seq', 5, 4, ok(4), enableSuccess, 'run'],
    ['older seq never overwrites a newer result', 3, 4, ok(4), undefined, 'skip:stale'],
    ['older seq even across versions', 3, 4, undefined, undefined, 'skip:stale'],
  ])('%s', (_, requested, mrseq, lastRun, status, want) => {
    const d = decideSeq(requested, mrseq, lastRun, status, '1.0.0');
    expect(d.action === 'skip' ? `skip:${d.reason}` : d.action).toBe(want);
  });
});
