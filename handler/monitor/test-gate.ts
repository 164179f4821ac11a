// TEST ONLY: DOCKER_EXTENSION_TEST_RENEWAL_GATE=<file> holds a renewal at a known point: the new
// key and certificate are written, the worker lock is held, dockerd is not restarted yet. There
// the monitor writes <file>.reached (its pid) and waits while <file> exists, so that a test can
// start an enable, or kill -9 the monitor, exactly inside the renewal instead of "somewhere
// around" it. A file, not a timer: the test decides when the renewal goes on. Nothing in the
// extension sets this variable, and no agent passes one to a handler.
import { existsSync, promises as fsp } from 'node:fs';
import type { Clock } from '../system/ports.js';

export const TEST_RENEWAL_GATE_ENV = 'DOCKER_EXTENSION_TEST_RENEWAL_GATE';

/** The hook renewCertificate calls before its restart; undefined when the variable is not set. */
export function renewalGate(file: string | undefined, clock: Clock): (() => Promise<void>) | undefined {
  if (!file) return undefined;
  return async () => {
    if (!existsSync(file)) return;
    await fsp.writeFile(`${file}.reached`, String(process.pid), { mode: 0o600 });
    while (existsSync(file)) await clock.sleep(50);
  };
}
