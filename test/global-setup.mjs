// Built once per test run, before any worker starts: the bundle and the x64 runtime that the
// package and harness suites zip. Concurrent suites building dist/ at once would race.
import { execFileSync } from 'node:child_process';
import { ensureRuntime } from '../scripts/package-lib.mjs';

export default async function globalSetup() {
  execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: ['ignore', 'ignore', 'inherit'] });
  ensureRuntime('x64');
}
