// The waagent harness (/work/shared/tools/waagent-harness/run_with_waagent.py: the real Azure Linux Agent code
// driving a handler) run INSIDE the test VM.
//
//   runHarness(vm, {...})          one call of the unmodified run_with_waagent.py (all steps in one agent process)
//   openHarnessSession(vm, {...})  the same agent code, one step group per call: inspect or change the VM between
//                                  steps, restart the agent, reboot the VM (see harness_driver.py for how the
//                                  state persists)
//
// Both run the agent code as a transient systemd service (systemd-run), as waagent runs under systemd on a VM;
// KillMode=process keeps what a handler leaves running alive after the agent process ends.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ovfEnvXml } from '../ovf-env.js';
import type { ExecResult, RestartResult, Vm } from './vm.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** The harness on the host (read-only; copied into each VM). */
// shared/ sits beside the repository (also in CI's clean clone).
export const HARNESS_SRC =
  process.env.ADX_E2E_HARNESS_DIR ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../shared/tools/waagent-harness');

/**
 * Why suites that need the harness cannot run here, or undefined when they can. A clone without
 * shared/ beside it is a normal state (the harness is not part of the repository): those suites
 * skip and say what is missing, the rest of `npm test` runs.
 */
export function harnessMissing(): string | undefined {
  const entry = path.join(HARNESS_SRC, 'run_with_waagent.py');
  if (existsSync(entry)) return undefined;
  return `the waagent harness is missing: ${entry} does not exist (put the shared/ folder beside the repository, or set ADX_E2E_HARNESS_DIR to the folder holding run_with_waagent.py)`;
}

/**
 * Why a VM suite skips (ADX_E2E=0, or the harness it needs is missing), or undefined when it runs.
 * A missing harness is also printed, so that a skipped suite never passes unnoticed.
 */
export function vmSuiteSkip(suite: string, needs: { harness: boolean }): string | undefined {
  if (process.env.ADX_E2E === '0') return 'ADX_E2E=0';
  const missing = needs.harness ? harnessMissing() : undefined;
  // (stderr, not console: jest shows no console output of a suite whose tests all skipped)
  if (missing) process.stderr.write(`${suite} skipped: ${missing}\n`);
  return missing;
}
/** Where it lives in the VM. */
export const VM_HARNESS_DIR = '/opt/waagent-harness';
export const VM_HARNESS_PY = `${VM_HARNESS_DIR}/run_with_waagent.py`;
export const VM_DRIVER = '/opt/adx-e2e/harness_driver.py';
/** Harness work dirs in the VM: under /var/lib (persists across reboots; /tmp is emptied at boot). */
export const VM_HARNESS_STATE = '/var/lib/adx-e2e-harness';

export type HarnessStepName =
  | 'install_enable'
  | 'enable_new_seq'
  | 'reenable_same_seq'
  | 'update'
  | 'disable'
  | 'uninstall'
  | 'enable';

export const DEFAULT_STEPS: HarnessStepName[] = [
  'install_enable',
  'enable_new_seq',
  'reenable_same_seq',
  'update',
  'disable',
  'uninstall',
];

/** Settings: a JSON value, or a JSON file on the host, or a JSON file already in the VM. */
export type SettingsInput = { hostFile: string } | { vmFile: string } | Record<string, unknown> | unknown[];

/** A handler: an unpacked directory or a ZIP on the host, or a directory already in the VM. */
export type HandlerInput = { hostDir: string } | { hostZip: string } | { vmDir: string };

export interface HarnessOptions {
  handler: HandlerInput;
  /** Version X+1 for the `update` step (default: the same handler). */
  updateHandler?: HandlerInput;
  publicSettings: SettingsInput;
  protectedSettings?: SettingsInput;
  /** Settings for the new sequence number (enable_new_seq); default: the first ones. */
  publicSettings2?: SettingsInput;
  protectedSettings2?: SettingsInput;
  /** <Publisher>.<Type>, e.g. Microsoft.Azure.Extensions.DockerExtension (harness default Harness.Test.DemoHandler). */
  name?: string;
  version?: string;
  updateVersion?: string;
  updateSameSeq?: boolean;
  /** --wait-terminal seconds (harness default 60). */
  waitTerminalS?: number;
  /** e.g. 'protected_sha256={protected_sha256}'. */
  expectMessage?: string;
  contentCipher?: 'des3' | 'aes128' | 'aes256';
  inheritEnv?: boolean;
  fullOutput?: boolean;
  verbose?: boolean;
  /** More run_with_waagent.py arguments (paths in them are VM paths), e.g. ['--agent-path', '/opt/wala']. */
  extraArgs?: string[];
}

export interface HarnessCommand {
  cmd_name: string;
  handler_version: string;
  command: string;
  full_command?: string;
  cwd?: string;
  timeout_s: number;
  exit_code: number | null;
  timed_out: boolean;
  error: string | null;
  error_code: number | null;
  output: string | null;
  env: Record<string, string> | null;
  duration_s?: number;
  [k: string]: unknown;
}

export interface HarnessExtensionStatus {
  status: string;
  code: number;
  operation?: string;
  message?: string;
  substatus?: { name: string; status: string; code: number; message?: string }[];
  [k: string]: unknown;
}

export interface HarnessAgentStatus {
  handlerVersion: string;
  status: string;
  code: number | null;
  message: string | null;
  sequenceNumber?: number;
  extension_status?: HarnessExtensionStatus;
}

export interface HarnessStep {
  step: HarnessStepName;
  ok: boolean;
  incarnation: number;
  requested: { version: string; state: string; seqNo: number; protected_plaintext_sha256: string | null };
  commands: HarnessCommand[];
  agent_status: HarnessAgentStatus | null;
  heartbeat: unknown;
  handler_state: string | null;
  handler_dirs: string[];
  files: { config: string[] | null; status: string[] | null };
  problems: string[];
  warnings: string[];
  status_blob: string;
  /** Session runs only: which agent process (1 = first, 2 = after the first restart/reboot, ...) ran the step. */
  agent_start?: number;
  /** Seconds from the start of the agent's goal-state processing to the end of status polling. */
  elapsed_s?: number;
  /** How many times the agent collected status in this step (every 2 s until terminal). */
  status_polls?: number;
  [k: string]: unknown;
}

export interface HarnessSummary {
  ok: boolean;
  overview: {
    step: string;
    ok: boolean;
    requested: string;
    commands: string;
    handler_status: string | null;
    extension_status: string | null;
    handler_state: string | null;
  }[];
  steps: HarnessStep[];
  problems: string[];
  warnings: string[];
  agent?: { version: string; path: string; api: string };
  workdir?: string;
  lib_dir?: string;
  agent_log?: string;
  command_execution_log?: string;
  /** The harness itself failed (exit code 2). */
  harness_error?: string;
  /** Session runs only: the driver could not get an answer (agent process died, timeout). */
  driver_error?: string;
  driver?: { agent_start: number; pid: number; invocation_id: string; session: string };
  [k: string]: unknown;
}

const installed = new WeakMap<Vm, Promise<void>>();

/** Copy the harness (and the step driver) into the VM. Idempotent per Vm object; survives reboots (/opt). */
export function installHarness(vm: Vm): Promise<void> {
  let p = installed.get(vm);
  if (!p) {
    p = (async () => {
      await vm.check(['rm', '-rf', VM_HARNESS_DIR, path.posix.dirname(VM_DRIVER)]);
      await vm.copyIn(HARNESS_SRC, VM_HARNESS_DIR);
      await vm.copyIn(path.join(HERE, 'harness_driver.py'), VM_DRIVER);
      await vm.check(['chmod', '0755', VM_DRIVER]);
    })();
    p.catch(() => installed.delete(vm));
    installed.set(vm, p);
  }
  return p;
}

function newId(): string {
  return `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

// Inputs are snapshotted into the run/session directory under /var/lib (VM paths too: /tmp does not survive a
// reboot, and a session reads them when its first agent process starts).
async function stageHandler(vm: Vm, h: HandlerInput, dest: string): Promise<string> {
  if ('vmDir' in h) {
    await vm.check(['sh', '-c', 'mkdir -p -- "$(dirname -- "$2")" && cp -a -- "$1" "$2"', 'sh', h.vmDir, dest]);
    return dest;
  }
  if ('hostDir' in h) {
    await vm.copyIn(h.hostDir, dest);
    return dest;
  }
  // a ZIP is unpacked with Python's zipfile, as the agent does (symlinks become text files, modes are lost);
  // the harness then re-packs the directory and the agent unpacks it again, with the same result
  await vm.copyIn(h.hostZip, `${dest}.zip`);
  await vm.check(['python3', '-c', 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])', `${dest}.zip`, dest]);
  return dest;
}

async function stageSettings(vm: Vm, s: SettingsInput, dest: string): Promise<string> {
  if (!Array.isArray(s) && 'vmFile' in s && typeof s.vmFile === 'string') {
    await vm.check(['sh', '-c', 'mkdir -p -- "$(dirname -- "$2")" && cp -- "$1" "$2" && chmod 0600 "$2"', 'sh', s.vmFile, dest]);
    return dest;
  }
  const text =
    !Array.isArray(s) && 'hostFile' in s && typeof s.hostFile === 'string' ? await readFile(s.hostFile) : JSON.stringify(s);
  await vm.writeFile(dest, text, '0600');
  return dest;
}

/** Copy inputs into dir/input and build the harness command line (without --steps/--workdir/--json-out). */
async function stageInputs(vm: Vm, o: HarnessOptions, dir: string): Promise<string[]> {
  const input = `${dir}/input`;
  const argv = [await stageHandler(vm, o.handler, `${input}/handler`)];
  if (o.updateHandler) argv.push('--update-handler-dir', await stageHandler(vm, o.updateHandler, `${input}/handler-update`));
  argv.push('--public-settings', await stageSettings(vm, o.publicSettings, `${input}/public1.json`));
  if (o.protectedSettings !== undefined) {
    argv.push('--protected-settings', await stageSettings(vm, o.protectedSettings, `${input}/protected1.json`));
  }
  if (o.publicSettings2 !== undefined) {
    argv.push('--public-settings2', await stageSettings(vm, o.publicSettings2, `${input}/public2.json`));
  }
  if (o.protectedSettings2 !== undefined) {
    argv.push('--protected-settings2', await stageSettings(vm, o.protectedSettings2, `${input}/protected2.json`));
  }
  if (o.name) argv.push('--name', o.name);
  if (o.version) argv.push('--version', o.version);
  if (o.updateVersion) argv.push('--update-version', o.updateVersion);
  if (o.updateSameSeq) argv.push('--update-same-seq');
  if (o.waitTerminalS !== undefined) argv.push('--wait-terminal', `${o.waitTerminalS}`);
  if (o.expectMessage) argv.push('--expect-message', o.expectMessage);
  if (o.contentCipher) argv.push('--content-cipher', o.contentCipher);
  if (o.inheritEnv) argv.push('--inherit-env');
  if (o.fullOutput) argv.push('--full-output');
  if (o.verbose) argv.push('--verbose');
  argv.push(...(o.extraArgs ?? []));
  return argv;
}

function parseJson(what: string, r: ExecResult): HarnessSummary {
  try {
    return JSON.parse(r.stdout) as HarnessSummary;
  } catch {
    throw new Error(`${what}: no JSON summary (exit ${r.exitCode})\n--- stdout\n${r.stdout.slice(-3000)}\n--- stderr\n${r.stderr.slice(-3000)}`);
  }
}

export interface RunHarnessOptions extends HarnessOptions {
  steps?: HarnessStepName[] | string;
  /** Default 30 min (the agent's own limits: install 900 s, enable 300 s per command). */
  timeoutMs?: number;
  /** Run as a transient systemd service (default) rather than directly under `docker exec`. */
  viaSystemd?: boolean;
}

export type HarnessRun = HarnessSummary & {
  /** run_with_waagent.py's exit code: 0 ok, 1 expectations failed, 2 harness error. */
  exitCode: number;
  /** The run's directory in the VM (input/, work/ = the harness --workdir, summary.json). */
  vmDir: string;
};

/** One call of the unmodified run_with_waagent.py inside the VM; resolves with its parsed JSON summary. */
export async function runHarness(vm: Vm, o: RunHarnessOptions): Promise<HarnessRun> {
  await installHarness(vm);
  const id = newId();
  const dir = `${VM_HARNESS_STATE}/run-${id}`;
  const argv = await stageInputs(vm, o, dir);
  const steps = Array.isArray(o.steps) ? o.steps.join(',') : (o.steps ?? DEFAULT_STEPS.join(','));
  argv.push('--steps', steps, '--workdir', `${dir}/work`, '--json-out', `${dir}/summary.json`);
  const unit = `adx-harness-run-${id}.service`;
  const cmd =
    o.viaSystemd === false
      ? ['/usr/bin/python3', VM_HARNESS_PY, ...argv]
      : ['systemd-run', '--quiet', '--collect', '--wait', '--pipe', '--unit', unit, '-p', 'KillMode=process',
         '/usr/bin/python3', VM_HARNESS_PY, ...argv];
  const r = await vm.exec(cmd, { timeoutMs: o.timeoutMs ?? 30 * 60_000 });
  if (r.timedOut && o.viaSystemd !== false) await vm.exec(['systemctl', 'stop', unit]);
  const summary = parseJson(`run_with_waagent.py in ${vm.name}`, r);
  return Object.assign(summary, { exitCode: r.exitCode, vmDir: dir });
}

export interface SessionRunOptions {
  /** Settings for the next enable_new_seq (replace publicSettings2/protectedSettings2 from then on). */
  publicSettings2?: SettingsInput;
  protectedSettings2?: SettingsInput;
  /** Default 30 min. */
  timeoutMs?: number;
}

/**
 * A stepwise harness run: the same agent code and goal-state sequence as run_with_waagent.py, one step group per
 * run() call, in one long-lived agent process that survives between calls (a transient systemd service in the
 * VM). Its state is on disk under /var/lib/adx-e2e-harness/<id>, so after vm.restart() (or restartAgent()) the
 * next run() starts a new agent process that continues where the previous one stopped.
 */
export class HarnessSession {
  constructor(
    readonly vm: Vm,
    /** Session directory in the VM (input/, work/ = harness workdir, state.json, steps.json). */
    readonly dir: string,
  ) {}

  private driver(args: string[], timeoutMs = 120_000): Promise<ExecResult> {
    return this.vm.exec(['/usr/bin/python3', VM_DRIVER, ...args, '--session', this.dir], { timeoutMs });
  }

  /** Run steps in order; resolves with the summary of these steps. Throws when the driver gets no answer. */
  async run(steps: HarnessStepName | HarnessStepName[], o: SessionRunOptions = {}): Promise<HarnessSummary & { exitCode: number }> {
    const list = Array.isArray(steps) ? steps : [steps];
    const timeoutMs = o.timeoutMs ?? 30 * 60_000;
    const args = ['call', '--steps', list.join(','), '--timeout', `${Math.ceil(timeoutMs / 1000)}`];
    if (o.publicSettings2 !== undefined || o.protectedSettings2 !== undefined) {
      const read = async (s: SettingsInput): Promise<unknown> => {
        if (!Array.isArray(s) && 'hostFile' in s && typeof s.hostFile === 'string') {
          return JSON.parse(await readFile(s.hostFile, 'utf8'));
        }
        if (!Array.isArray(s) && 'vmFile' in s && typeof s.vmFile === 'string') return JSON.parse(await this.vm.readFile(s.vmFile));
        return s;
      };
      const extra: Record<string, unknown> = {};
      if (o.publicSettings2 !== undefined) extra.public_settings2 = await read(o.publicSettings2);
      if (o.protectedSettings2 !== undefined) extra.protected_settings2 = await read(o.protectedSettings2);
      const f = `${this.dir}/input/next-settings-${newId()}.json`;
      await this.vm.writeFile(f, JSON.stringify(extra), '0600');
      args.push('--settings-json', f);
    }
    const r = await this.driver(args, timeoutMs + 60_000);
    const summary = parseJson(`harness session ${this.dir} (steps ${list.join(',')})`, r);
    if (summary.driver_error) throw new Error(`harness session ${this.dir}: ${summary.driver_error}`);
    return Object.assign(summary, { exitCode: r.exitCode });
  }

  /** Every step run so far in this session (all agent processes). */
  async summary(): Promise<HarnessSummary> {
    return parseJson(`harness session ${this.dir} summary`, await this.driver(['summary']));
  }

  /** End the agent process (what an agent restart does); the next run() starts a new one on the same state. */
  async restartAgent(): Promise<void> {
    await this.driver(['stop']);
  }

  /**
   * Reboot the VM and do what the real agent does when it comes back: process the current goal state again,
   * i.e. run enable with the unchanged sequence number (step reenable_same_seq) in a new agent process.
   */
  async rebootAndReenable(
    o: {
      /** Runs after the VM is back (systemd running) and before the agent starts again: look at the VM as booted. */
      afterBoot?: (r: RestartResult) => Promise<void>;
      timeoutMs?: number;
    } = {},
  ): Promise<{ restartMs: number; state: string; summary: HarnessSummary & { exitCode: number } }> {
    const r = await this.vm.restart();
    if (o.afterBoot) await o.afterBoot(r);
    const summary = await this.run('reenable_same_seq', o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {});
    return { restartMs: r.ms, state: r.state, summary };
  }

  /** Stop the agent process. The session directory stays for inspection. */
  async close(): Promise<void> {
    await this.driver(['stop']);
  }
}

export interface SessionOptions extends HarnessOptions {
  /**
   * The VM's admin user, as Azure provisions one: created in the VM (useradd -m) and named in the
   * ovf-env.xml that the agent keeps in its lib directory, where the handler looks for it. Without
   * it the VM has no provisioning file, as one not provisioned by the agent.
   */
  adminUser?: string;
}

/** Stage the handler and settings in the VM and prepare a stepwise session (no step runs yet). */
export async function openHarnessSession(vm: Vm, o: SessionOptions): Promise<HarnessSession> {
  await installHarness(vm);
  const dir = `${VM_HARNESS_STATE}/${newId()}`;
  const argv = await stageInputs(vm, o, dir);
  const init = ['/usr/bin/python3', VM_DRIVER, 'init', '--session', dir];
  if (o.adminUser !== undefined) {
    if ((await vm.exec(['id', '-u', o.adminUser])).exitCode !== 0) await vm.check(['useradd', '-m', '-s', '/bin/bash', o.adminUser]);
    await vm.writeFile(`${dir}/input/ovf-env.xml`, ovfEnvXml(o.adminUser), '0400');
    init.push('--ovf-env', `${dir}/input/ovf-env.xml`);
  }
  await vm.check([...init, '--', ...argv]);
  return new HarnessSession(vm, dir);
}

/** Demo handler of the harness, set up in the VM by its own setup-demo.sh (/tmp/demo-handler, /tmp/demo-*.json). */
export async function setupDemoHandler(vm: Vm): Promise<HarnessOptions> {
  await installHarness(vm);
  await vm.check([`${VM_HARNESS_DIR}/demo/setup-demo.sh`]);
  return {
    handler: { vmDir: '/tmp/demo-handler' },
    publicSettings: { vmFile: '/tmp/demo-public1.json' },
    protectedSettings: { vmFile: '/tmp/demo-protected1.json' },
    publicSettings2: { vmFile: '/tmp/demo-public2.json' },
    protectedSettings2: { vmFile: '/tmp/demo-protected2.json' },
    expectMessage: 'protected_sha256={protected_sha256}',
  };
}
