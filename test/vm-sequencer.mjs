// The order jest hands test files to its two workers: its own (the slowest first, from the last
// run's durations), except that only the first VM suite goes first and the other VM suites go
// last. With one VM suite at a time (test/vm-suite-lock.mjs), a worker that picked a second VM
// suite at the start would wait for the lock instead of running the suites that need no VM.
import Sequencer from '@jest/test-sequencer';

const isVmSuite = (t) => /\/test\/e2e\/[^/]+\.test\.ts$/.test(t.path);

export default class VmLastSequencer extends Sequencer {
  async sort(tests) {
    const sorted = await super.sort(tests);
    const vm = sorted.filter(isVmSuite);
    const rest = sorted.filter((t) => !isVmSuite(t));
    return vm.length ? [vm[0], ...rest, ...vm.slice(1)] : rest;
  }
}
