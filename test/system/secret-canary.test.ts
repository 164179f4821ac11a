// The canary scanner itself: a scan that finds nothing proves something only if it finds a leak
// in each form a leak takes.
import { describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { scanCanaryPaths, scanCanaryText, startProcessSampler } from '../support/secret-canary.js';

const canary = `CANARY-${randomBytes(6).toString('hex')}`;

describe('scanCanaryText finds every form of a leak', () => {
  test.each([
    ['as is', `x ${canary} y`],
    ['JSON-escaped', JSON.stringify({ a: `"${canary}\n` })],
    ['sha256 prefix', `password sha256:${createHash('sha256').update(canary).digest('hex').slice(0, 12)}`],
    ...[0, 1, 2].map((pad) => [`base64 at offset ${pad}`, Buffer.from('p'.repeat(pad) + canary + 'tail').toString('base64')]),
  ])('%s', (_form, text) => {
    expect(scanCanaryText(text, [canary], 'text').length).toBeGreaterThan(0);
  });

  test('nothing in text without it', () => {
    expect(scanCanaryText('CANARY- nothing here', [canary], 'text')).toEqual([]);
  });
});

test('scanCanaryPaths walks folders and names the file', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'canary-'));
  try {
    mkdirSync(path.join(dir, 'a/b'), { recursive: true });
    writeFileSync(path.join(dir, 'a/b/leak.log'), `{"msg":"${canary}"}`);
    writeFileSync(path.join(dir, 'clean.log'), 'nothing');
    const r = scanCanaryPaths([dir], [canary]);
    expect(r.files).toBe(2);
    expect(r.hits.map((h) => h.where)).toEqual([path.join(dir, 'a/b/leak.log')]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the process sampler sees a canary in another process\'s argv and environment, never in its own', async () => {
  const sampler = await startProcessSampler([canary], { intervalMs: 10, watch: / 3\.5$/ });
  const inArgv = spawn('sleep', ['3.5'], { stdio: 'ignore', argv0: `sleep-${canary}` });
  const inEnv = spawn('sleep', ['3.5'], { stdio: 'ignore', env: { LEAK: canary } });
  await new Promise((r) => setTimeout(r, 300));
  const report = await sampler.stop();
  inArgv.kill();
  inEnv.kill();
  const where = report.hits.map((h) => h.where);
  expect(where.some((w) => w.startsWith(`the argv of pid ${inArgv.pid} `))).toBe(true);
  expect(where.some((w) => w.startsWith(`the environment of pid ${inEnv.pid} `))).toBe(true);
  expect(report.hits).toHaveLength(2);
  expect([...new Set(report.watched.map((w) => w.pid))].sort()).toEqual([inArgv.pid, inEnv.pid].sort());
  expect(report.watched[0]!.coreSoft).toMatch(/^(\d+|unlimited)$/);
  expect(report.watched[0]!.coreHard).toMatch(/^(\d+|unlimited)$/);
});
