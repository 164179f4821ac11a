// One VM suite at a time (jest's setupFilesAfterEnv; only files under test/e2e/ take part).
// Two suites that each boot VMs on the shared outer dockerd, on a two-core machine, slow each
// other past their timeouts and race on what a VM boot shares (the test network's addresses, apt
// mirrors, the CPU the agent's timers assume). Each VM suite takes an exclusive lock for its whole
// run: held by a `flock` child whose stdin is this worker's pipe, so a worker that dies (kill -9,
// a jest timeout) closes the pipe and the lock is free again. test/vm-sequencer.mjs keeps the
// other worker busy with the suites that need no VM meanwhile.
import { afterAll, beforeAll, expect } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

const LOCK = process.env.ADX_E2E_SUITE_LOCK || '/run/lock/adx-e2e-vm-suite.lock';
const WAIT_LIMIT_MS = 80 * 60_000;

const isVmSuite = /\/test\/e2e\/[^/]+\.test\.ts$/.test(expect.getState().testPath ?? '');

if (isVmSuite && process.env.ADX_E2E !== '0') {
  let holder;
  beforeAll(async () => {
    const t0 = Date.now();
    mkdirSync(path.dirname(LOCK), { recursive: true });
    holder = spawn('flock', ['-x', LOCK, 'sh', '-c', 'echo locked; exec cat >/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise((resolve, reject) => {
      holder.stdout.once('data', resolve);
      holder.once('error', reject);
      holder.once('exit', (code) => reject(new Error(`flock ${LOCK} ended (exit ${code}) before the lock was taken`)));
    });
    const waited = Date.now() - t0;
    if (waited > 1000) console.log(`VM suite lock ${LOCK}: waited ${Math.round(waited / 1000)} s for another VM suite`);
  }, WAIT_LIMIT_MS);
  afterAll(() => {
    holder?.stdin.end();
  });
}
