// After the last suite: stop the VM suites' dockerd and containerd if this run started them
// (test/vm-infra.mjs says why they outlive the suites, and what is never touched).
import { stopVmInfraStartedSince } from './vm-infra.mjs';

export default async function globalTeardown() {
  const done = stopVmInfraStartedSince(globalThis.__adxVmInfraBefore ?? {});
  // Not thrown: jest would then write no report at all. .ci/run runs `scripts/vm.sh down` after.
  if (done) process.stderr.write(`\nglobal teardown: ${done}\n`);
}
