// apt-get's answers to the engine's purge, recorded on Debian 12 (apt 2.6) against this machine's
// docker.io, whose dockerd the tests use and which therefore cannot really be removed here:
// `apt-get -s` (simulate) prints what the purge does. The second answer is apt's for a package in
// its lists that is no longer installed: what the purge gets again after a run killed once dpkg
// had removed the engine. test/e2e/vm-remove-engine.test.ts runs the real purge on a VM.
import type { CommandResult, CommandRunner, RunOptions } from '../../handler/system/ports.js';

export const APT_PURGE_DOCKER_IO: CommandResult = {
  exitCode: 0,
  timedOut: false,
  stderr: '',
  stdout:
    'Reading package lists...\nBuilding dependency tree...\nReading state information...\n' +
    'The following packages were automatically installed and are no longer required:\n  containerd iptables libip6tc2 libnetfilter-conntrack3 libnfnetlink0\n  libnftnl11 runc tini\n' +
    "Use 'apt autoremove' to remove them.\nThe following packages will be REMOVED:\n  docker.io*\n0 upgraded, 0 newly installed, 1 to remove and 141 not upgraded.\n" +
    'Purg docker.io [20.10.24+dfsg1-1+deb12u1+b6]\n',
};

export const APT_PURGE_NOT_INSTALLED: CommandResult = {
  exitCode: 0,
  timedOut: false,
  stderr: '',
  stdout: "Reading package lists...\nBuilding dependency tree...\nReading state information...\nPackage 'docker.io' is not installed, so not removed\n0 upgraded, 0 newly installed, 0 to remove and 141 not upgraded.\n",
};

/** Answers `apt-get … purge` with the recordings (the first purge removes, later ones find nothing); everything else goes to `next`. */
export class RecordedPurgeRunner implements CommandRunner {
  readonly purges: string[][] = [];
  constructor(
    private readonly next: CommandRunner,
    private purged = false,
  ) {}
  async run(file: string, args: readonly string[], opts?: RunOptions): Promise<CommandResult> {
    if (file === 'apt-get' && args.includes('purge')) {
      this.purges.push([file, ...args]);
      const r = this.purged ? APT_PURGE_NOT_INSTALLED : APT_PURGE_DOCKER_IO;
      this.purged = true;
      return r;
    }
    return this.next.run(file, args, opts);
  }
}
