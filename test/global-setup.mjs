// Built once per test run, before any worker starts: the bundle and the x64 runtime that the
// package and harness suites zip. Concurrent suites building dist/ at once would race.
import { execFileSync } from 'node:child_process';
import { ensureCompressedRuntime } from '../scripts/package-lib.mjs';
import { vmInfraProcesses } from './vm-infra.mjs';

export default async function globalSetup() {
  // What of the VM suites' dockerd and containerd already ran: the teardown stops only what this
  // run starts (jest shares globalThis between the global setup and teardown).
  globalThis.__adxVmInfraBefore = vmInfraProcesses();
  execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: ['ignore', 'ignore', 'inherit'] });
  // The LZMA member of the x64 runtime, once (about a minute on a fresh clone), before the suites
  // that package the handler start in parallel and would each make it.
  ensureCompressedRuntime('x64');
}
