// Built once per test run, before any worker starts: the bundle and the x64 runtime that the
// package and harness suites zip. Concurrent suites building dist/ at once would race.
import { execFileSync } from 'node:child_process';
import { ensureCompressedRuntime } from '../scripts/package-lib.mjs';

export default async function globalSetup() {
  execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: ['ignore', 'ignore', 'inherit'] });
  // The LZMA member of the x64 runtime, once (about a minute on a fresh clone), before the suites
  // that package the handler start in parallel and would each make it.
  ensureCompressedRuntime('x64');
}
