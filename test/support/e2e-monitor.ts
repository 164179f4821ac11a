// The monitor as an admin sees it in a systemd VM: its unit, its process, the heartbeat file the
// agent reads (content and modification time), and the transient units enable's work ran in.
import { MONITOR_UNIT, MONITOR_UNIT_PATH as MONITOR_UNIT_FILE } from '../../handler/monitor/unit.js';
import type { Vm } from './vm/vm.js';

export interface MonitorFacts {
  enabled: string;
  active: string;
  mainPid: number;
  /** Processes whose command line says __monitor. */
  processes: number[];
  unitFileExists: boolean;
}

export async function monitorFacts(vm: Vm): Promise<MonitorFacts> {
  const out = await vm.check(
    String.raw`echo "$(systemctl is-enabled ${MONITOR_UNIT} 2>/dev/null || true)"
      echo "$(systemctl is-active ${MONITOR_UNIT} 2>/dev/null || true)"
      systemctl show -p MainPID --value ${MONITOR_UNIT} 2>/dev/null || echo 0
      echo "$(pgrep -f -- ' __monitor$' | tr '\n' ' ')"
      test -e ${MONITOR_UNIT_FILE} && echo yes || echo no`,
  );
  const [enabled, active, pid, procs, file] = out.split('\n');
  return {
    enabled: enabled?.trim() ?? '',
    active: active?.trim() ?? '',
    mainPid: Number(pid?.trim() ?? 0) || 0,
    processes: (procs ?? '').trim().split(/\s+/).filter(Boolean).map(Number),
    unitFileExists: file?.trim() === 'yes',
  };
}

export interface HeartbeatSample {
  /** VM clock, ms. */
  atMs: number;
  mtimeMs: number;
  status: string;
  message: string;
}

export async function heartbeatSample(vm: Vm, file: string): Promise<HeartbeatSample> {
  const out = await vm.check(['sh', '-c', 'echo "$(date +%s%3N) $(stat -c %.3Y "$1" | tr -d .)"; cat "$1"', 'sh', file]);
  const nl = out.indexOf('\n');
  const [at, mtime] = out.slice(0, nl).trim().split(' ');
  const hb = JSON.parse(out.slice(nl + 1))[0].heartbeat as { status: string; formattedMessage: { message: string } };
  return { atMs: Number(at), mtimeMs: Number(mtime), status: hb.status, message: hb.formattedMessage.message };
}

/** Samples the heartbeat until `pred` holds or `timeoutMs` passes; returns the last sample. */
export async function waitHeartbeat(vm: Vm, file: string, pred: (h: HeartbeatSample) => boolean, timeoutMs: number, everyMs = 100): Promise<HeartbeatSample> {
  const until = Date.now() + timeoutMs;
  let hb = await heartbeatSample(vm, file);
  while (!pred(hb) && Date.now() < until) {
    await new Promise((r) => setTimeout(r, everyMs));
    hb = await heartbeatSample(vm, file);
  }
  return hb;
}

/** Samples the heartbeat every `everyMs` for `forMs` with no agent command in between. */
export async function watchHeartbeat(vm: Vm, file: string, forMs: number, everyMs = 5_000): Promise<HeartbeatSample[]> {
  const samples: HeartbeatSample[] = [await heartbeatSample(vm, file)];
  const until = Date.now() + forMs;
  while (Date.now() < until) {
    await new Promise((r) => setTimeout(r, Math.min(everyMs, Math.max(0, until - Date.now()))));
    samples.push(await heartbeatSample(vm, file));
  }
  return samples;
}

/** Seconds between successive times (ms), to a tenth. */
export const gapsS = (xs: readonly number[]): number[] => xs.slice(1).map((x, i) => Math.round((x - xs[i]!) / 100) / 10);

/** Distinct modification times, in order: each one is a rewrite of the heartbeat. */
export const rewrites = (samples: readonly HeartbeatSample[]): number[] => [...new Set(samples.map((s) => s.mtimeMs))];

/** Transient units the handler ran its work in (from the journal): enable workers and uninstall. */
export async function transientUnits(vm: Vm): Promise<string[]> {
  const out = await vm.exec(['sh', '-c', "journalctl --no-pager -o cat | grep -oE '^Started azure-docker-extension-(enable|uninstall)-[0-9a-z-]+\\.service' | sort -u"]);
  return out.stdout.split('\n').map((l) => l.replace(/^Started /, '').trim()).filter(Boolean);
}
