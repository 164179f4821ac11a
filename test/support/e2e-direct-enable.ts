// Enable run by hand inside the test VM, the way the agent runs it (scripts/handler.sh with the
// agent's variables, settings encrypted to the agent's transport certificate), for what the
// harness cannot pace: a worker killed with SIGKILL in the middle of an apply. The harness waits
// for a terminal status, which a killed worker never writes.
import type { Vm } from './vm/vm.js';

export interface VmExtension {
  /** The agent's lib directory (holds <thumbprint>.crt). */
  libDir: string;
  /** The running version's extension directory. */
  extDir: string;
  version: string;
}

interface StatusFile {
  status: string;
  message: string;
  substatus: Array<{ name: string; status: string; message: string }>;
}

/** config/<seq>.settings with `prot` encrypted like the platform does (CMS to the transport certificate; plaintext on stdin only). */
export async function writeSettings(vm: Vm, x: VmExtension, seq: number, pub: unknown, prot: unknown): Promise<void> {
  const config = `${x.extDir}/config`;
  const any = (await vm.check(['sh', '-c', `ls "$1"/*.settings | head -1`, 'sh', config])).trim();
  const thumb = JSON.parse(await vm.readFile(any)).runtimeSettings[0].handlerSettings.protectedSettingsCertThumbprint as string;
  const cms = (
    await vm.check(['sh', '-c', 'openssl cms -encrypt -binary -aes256 -outform DER "$1" | base64 -w0', 'sh', `${x.libDir}/${thumb}.crt`], { input: JSON.stringify(prot) })
  ).trim();
  const file = { runtimeSettings: [{ handlerSettings: { publicSettings: pub, protectedSettings: cms, protectedSettingsCertThumbprint: thumb } }] };
  await vm.writeFile(`${config}/${seq}.settings`, JSON.stringify(file), '0600');
}

/** `handler.sh enable` for `seq`, as the agent launches it; returns its exit code and stdout. */
export async function enable(vm: Vm, x: VmExtension, seq: number): Promise<{ exitCode: number; stdout: string }> {
  const r = await vm.exec(['sh', `${x.extDir}/scripts/handler.sh`, 'enable'], {
    cwd: x.extDir,
    env: { ConfigSequenceNumber: String(seq), AZURE_GUEST_AGENT_EXTENSION_PATH: x.extDir, AZURE_GUEST_AGENT_EXTENSION_VERSION: x.version },
    timeoutMs: 120_000,
  });
  return { exitCode: r.exitCode, stdout: r.stdout.trim() };
}

export async function status(vm: Vm, x: VmExtension, seq: number): Promise<StatusFile | undefined> {
  const r = await vm.exec(['cat', `${x.extDir}/status/${seq}.status`]);
  if (r.exitCode !== 0 || !r.stdout.trim()) return undefined;
  const s = JSON.parse(r.stdout)[0].status;
  return {
    status: s.status,
    message: s.formattedMessage?.message ?? '',
    substatus: (s.substatus ?? []).map((x: { name: string; status: string; formattedMessage?: { message?: string } }) => ({ name: x.name, status: x.status, message: x.formattedMessage?.message ?? '' })),
  };
}

/** Polls the status file until `until` holds; returns that status, or throws with the last one at the deadline. */
export async function waitStatus(vm: Vm, x: VmExtension, seq: number, until: (s: StatusFile) => boolean, timeoutMs: number, pollMs = 100): Promise<StatusFile> {
  const deadline = Date.now() + timeoutMs;
  let last: StatusFile | undefined;
  for (;;) {
    last = await status(vm, x, seq);
    if (last && until(last)) return last;
    if (Date.now() > deadline) throw new Error(`status ${seq} did not reach the expected state within ${timeoutMs} ms: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** SIGKILL to every process of the enable worker's transient unit for `seq`; returns the units killed. */
export async function killWorker(vm: Vm, seq: number): Promise<string[]> {
  const units = (await vm.exec(['sh', '-c', `systemctl list-units --plain --no-legend 'azure-docker-extension-enable-${seq}-*' | awk '{print $1}'`])).stdout.split('\n').filter(Boolean);
  for (const u of units) await vm.exec(['systemctl', 'kill', '--signal=SIGKILL', u]);
  return units;
}
