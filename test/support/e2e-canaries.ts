// Secret canaries inside the test VM: the same needles as on this machine (secret-canary.ts: as
// is, JSON-escaped, base64, sha256 prefix), looked for in the VM's files and journal, and in the
// argv and environment of every VM process, sampled by a unit of its own while the scenario runs.
import { canaryForms } from './secret-canary.js';
import { VM_HARNESS_STATE } from './vm/harness.js';
import type { Vm } from './vm/vm.js';

const NEEDLES = '/var/tmp/adx-canary-needles';
const HITS = '/var/tmp/adx-canary-proc-hits';
const SAMPLES = '/var/tmp/adx-canary-proc-samples';
const UNIT = 'adx-e2e-canary-sampler';

/** Where the scan looks: everything the handler, dockerd, systemd and the agent write. */
const SCANNED = ['/var/log', '/var/lib/waagent', '/etc', '/run', '/root', '/tmp', '/var/lib/docker/containers', VM_HARNESS_STATE];

export interface VmCanaryReport {
  /** `/proc/<pid>/<cmdline|environ> <the process's command line>` for every sampled hit. */
  processHits: string[];
  /** Sampling rounds over all processes. */
  processRounds: number;
  fileHits: string[];
  journalHits: number;
}

/** Starts sampling; with `canaries`, afresh, without (after a reboot, which ends the unit) it resumes. */
export async function startVmCanarySampler(vm: Vm, canaries?: readonly string[]): Promise<void> {
  if (canaries) {
    const needles = [...new Set(canaries.flatMap((c) => canaryForms(c).map((f) => f.needle)))];
    await vm.writeFile(NEEDLES, needles.join('\n') + '\n', '0600');
    await vm.exec(['rm', '-f', HITS, SAMPLES]);
  }
  await vm.exec(['systemctl', 'reset-failed', UNIT]);
  // One grep per round over every process's argv and environment; a hit records the process.
  await vm.check([
    'systemd-run', '--quiet', '--collect', '--unit', UNIT, '-p', 'KillMode=control-group',
    'bash', '-c',
    `while :; do for f in $(grep -laF -f ${NEEDLES} /proc/[0-9]*/cmdline /proc/[0-9]*/environ 2>/dev/null); do ` +
      `echo "$f $(tr '\\0' ' ' < "\${f%/*}/cmdline" 2>/dev/null | cut -c1-300)" >> ${HITS}; done; echo >> ${SAMPLES}; sleep 0.1; done`,
  ]);
}

/** Stops the sampler and scans files (the harness's staged inputs excepted) and the journal. */
export async function vmCanaryReport(vm: Vm): Promise<VmCanaryReport> {
  await vm.exec(['systemctl', 'stop', UNIT]);
  const processHits = [...new Set((await vm.exec(['cat', HITS])).stdout.split('\n').filter(Boolean))];
  const processRounds = (await vm.exec(['sh', '-c', `wc -l < ${SAMPLES}`])).stdout.trim();
  // The harness's inputs hold the plaintext settings it encrypts (state.json a later step's):
  // they are the test's, not the handler's.
  const files = await vm.exec([
    'sh', '-c',
    `grep -rlaF -f ${NEEDLES} --exclude-dir=input --exclude=state.json --exclude=adx-canary-needles ${SCANNED.join(' ')} 2>/dev/null || true`,
  ], { timeoutMs: 180_000 });
  const journal = await vm.exec(['sh', '-c', `journalctl -o export --no-pager 2>/dev/null | grep -caF -f ${NEEDLES} || true`], { timeoutMs: 180_000 });
  return {
    processHits,
    processRounds: Number(processRounds) || 0,
    fileHits: files.stdout.split('\n').filter((l) => l && !l.startsWith('/proc/')),
    journalHits: Number(journal.stdout.trim()) || 0,
  };
}
