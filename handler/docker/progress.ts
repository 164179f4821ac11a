// The applier's progress: which step of the plan finished last. It is written into the rollback
// record of the apply in flight (stateDir/engine-rollback.json), so a run that is killed (kill -9,
// a reboot, an agent restart that takes the worker with it) leaves behind both the configuration
// that served before it and how far it got. The next run recovers from that record by
// construction: it restarts dockerd with the files as they are (written or not, each one whole:
// every write is a rename) and goes back to the snapshot when that does not serve. The record
// stays until the whole plan is done: the steps after the proof (the live-restore hand-over, an
// uninstall's clean-up) and an uninstall's stop, purge and data-root emptying are recorded too;
// what a killed run left undone there the next run plans again from the machine it finds.
//
// TEST ONLY: AZURE_DOCKER_EXTENSION_TEST_KILL_AFTER_STEP=N makes the process SIGKILL itself right
// after the N-th step it finished (counted from 1 over the whole process), so that a test can
// interrupt an apply at every step in turn with a real kill -9 at a known point. An external
// killer that watches this journal would race the applier, which goes on with the next step while
// the killer reacts; the kill would land "somewhere after" the step instead of exactly after it.
// Nothing in the extension sets this variable, and no agent passes one to a handler.
import type { FileSystem } from '../system/ports.js';
import { writeRollback, type RollbackRecord } from './state.js';

export const TEST_KILL_ENV = 'AZURE_DOCKER_EXTENSION_TEST_KILL_AFTER_STEP';

let finished = 0;

/** Marks a step as finished: the test hook's kill point. */
export function stepFinished(): void {
  finished += 1;
  const killAfter = process.env[TEST_KILL_ENV];
  if (killAfter !== undefined && Number(killAfter) === finished) process.kill(process.pid, 'SIGKILL');
}

/** Records a finished step in the rollback record of the apply in flight (when there is one), then marks it. */
export async function recordStep(fs: FileSystem, stateDir: string, rec: RollbackRecord | undefined, step: string): Promise<void> {
  if (rec) {
    rec.done = [...(rec.done ?? []), step];
    await writeRollback(fs, stateDir, rec);
  }
  stepFinished();
}
