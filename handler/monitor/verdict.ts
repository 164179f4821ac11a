// What the heartbeat says, from what the monitor observed. Pure: every rule of "Ready only while
// Docker really serves what the extension configured" is here and unit-tested; the daemon only
// gathers observations and writes the result.
import type { HeartbeatStatus } from '../agent/heartbeat.js';
import type { DriftItem } from './drift.js';
import type { LastEnable, MonitorTarget, Renewal } from './spec.js';

export const EXPIRY_NOTICE_DAYS = 30;
/** How long a restart by the monitor stays mentioned once dockerd serves again. */
export const RESTART_NOTE_MS = 60 * 60_000;
const DAY = 86_400_000;

export type Recovery =
  /** docker.service's own Restart= brings it back. */
  | { by: 'systemd'; unit: string; unitState?: string }
  /** No service manager: the monitor restarts dockerd with backoff. */
  | { by: 'monitor'; attempt: number; nextAt?: number; lastError?: string; restartedAt?: number; logFile: string }
  /** Nobody restarts it (the extension is disabled). */
  | { by: 'none'; why: string };

export interface DaemonHealth {
  /** A live dockerd process per its pid file. */
  pid?: number;
  /** When the monitor first saw dockerd not serving (not running, or not answering). */
  unhealthySince?: number;
  /** The pid that was serving before, when it is gone. */
  exitedPid?: number;
  socket?: { ok: true; version?: string } | { ok: false; detail: string };
  tcp?: { listening: boolean; tls?: { ok: boolean; detail: string } };
  recovery: Recovery;
}

export type CertState = { subject: string; notAfter: number } | { problem: string };

export interface Observation {
  now: number;
  disabled: boolean;
  /** monitor.json could not be read. */
  specProblem?: string;
  /** A live enable worker or uninstall holds the worker lock. */
  worker?: { pid: number; seq: number; kind: 'enable' | 'uninstall' | 'monitor'; startedAt: string };
  /** An enable worker died holding its lock (killed mid-apply); nothing has finished that configuration since. */
  interrupted?: { seq: number; pid: number; startedAt: string };
  lastEnable?: LastEnable;
  target?: MonitorTarget;
  dockerd?: DaemonHealth;
  drift: readonly DriftItem[];
  cert?: CertState;
  /** "certs.issuer": the monitor's renewals of the certificate issued on the VM. */
  renewal?: { last?: Renewal; failure?: { at: number; error: string; nextAt: number }; problem?: string };
}

export interface Verdict {
  status: HeartbeatStatus;
  message: string;
  /** Short machine-friendly reasons, for the log and events (empty when Ready without notes). */
  reasons: string[];
}

export function utc(ms: number): string {
  if (!Number.isFinite(ms)) return 'an unrecorded time';
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, ' UTC');
}

export function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 90) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 90) return `${m} min`;
  const h = Math.round(m / 60);
  return h < 48 ? `${h} h` : `${Math.round(h / 24)} days`;
}

const date = (ms: number) => (Number.isFinite(ms) ? new Date(ms).toISOString().slice(0, 10) : 'an unrecorded date');

function short(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

export function judge(o: Observation): Verdict {
  const down: string[] = [];
  const notes: string[] = [];
  const reasons: string[] = [];
  const checked = `Checked ${utc(o.now)}.`;

  if (o.specProblem) {
    return {
      status: 'NotReady',
      message: `The monitor cannot read its record of the applied configuration (${o.specProblem}); the next enable rewrites it. ${checked}`,
      reasons: ['spec-unreadable'],
    };
  }
  if (o.worker) {
    // 'monitor': another monitor's task (the version before an update, being replaced); never our own.
    const what = o.worker.kind === 'uninstall' ? 'Uninstalling the extension' : o.worker.kind === 'monitor' ? 'The previous monitor finishes its work on dockerd' : `Applying configuration ${o.worker.seq}`;
    return { status: 'Ready', message: `${what} (pid ${o.worker.pid}, since ${utc(Date.parse(o.worker.startedAt))}). ${checked}`, reasons: ['applying'] };
  }

  if (o.disabled) {
    down.push('The Docker extension is disabled; dockerd keeps running with its configuration and the extension does not restart it.');
    reasons.push('disabled');
  }
  if (o.interrupted) {
    down.push(
      `Applying configuration ${o.interrupted.seq} was interrupted (its worker, pid ${o.interrupted.pid}, started ${utc(Date.parse(o.interrupted.startedAt))}, is gone); the agent's next enable resumes it, and restarting the agent (systemctl restart walinuxagent) makes that happen now.`,
    );
    reasons.push('apply-interrupted');
  }
  if (o.lastEnable?.result === 'error') {
    down.push(`Configuration ${o.lastEnable.seq} was not applied: ${short(o.lastEnable.message.replace(/^Configuration \d+ failed: /, ''), 420)}`);
    reasons.push('enable-failed');
  }

  const t = o.target;
  const d = o.dockerd;
  if (t && d) {
    const since = d.unhealthySince !== undefined ? ` since ${utc(d.unhealthySince)} (${ago(o.now - d.unhealthySince)})` : '';
    if (d.pid === undefined) {
      const exited = d.exitedPid !== undefined ? `; pid ${d.exitedPid} exited` : '';
      down.push(`dockerd is not running${since}${exited}. ${recoveryText(d.recovery, o.now)}`);
      reasons.push('dockerd-down');
    } else if (d.socket && !d.socket.ok) {
      down.push(`dockerd (pid ${d.pid}) does not answer on ${t.socketPath}${since}: ${short(d.socket.detail, 160)}.`);
      reasons.push('socket-unanswered');
    } else if (t.tcp && d.tcp && !d.tcp.listening) {
      down.push(`dockerd answers on ${t.socketPath}, but nothing listens on TCP port ${t.tcp.port}${since}; ${restartHint(d.recovery)}`);
      reasons.push('tcp-not-listening');
    } else if (t.tcp?.tls && d.tcp?.tls && !d.tcp.tls.ok) {
      down.push(`TLS on port ${t.tcp.port} is not what the extension configured${since}: ${short(d.tcp.tls.detail, 200)}.`);
      reasons.push('tls-mismatch');
    } else if (d.recovery.by === 'monitor' && d.recovery.restartedAt !== undefined && o.now - d.recovery.restartedAt < RESTART_NOTE_MS) {
      notes.push(`dockerd had exited; the monitor restarted it at ${utc(d.recovery.restartedAt)} (log: ${d.recovery.logFile}).`);
      reasons.push('restarted-by-monitor');
    }
  }

  if (o.cert && 'problem' in o.cert) {
    notes.push(`The server certificate cannot be read: ${o.cert.problem}.`);
    reasons.push('cert-unreadable');
  } else if (o.cert && o.target?.issuance) {
    // Issued on the VM: the monitor renews it; only an expired one stops clients (NotReady).
    const r = o.renewal;
    const why = r?.failure ? `renewing it failed (${short(r.failure.error, 200)}); the monitor tries again at ${utc(r.failure.nextAt)}` : r?.problem ? `it cannot be renewed: ${short(r.problem, 200)}` : undefined;
    if (o.cert.notAfter <= o.now) {
      down.push(`The server certificate issued on this VM (${o.cert.subject}) expired at ${utc(o.cert.notAfter)}: clients refuse it; ${why ?? 'it was not renewed yet'}. Re-applying the extension issues a new one.`);
      reasons.push('cert-expired');
    } else if (why) {
      notes.push(`The server certificate issued on this VM stays valid until ${utc(o.cert.notAfter)}, but ${why}.`);
      reasons.push('renewal-failed');
    }
  } else if (o.cert) {
    const left = o.cert.notAfter - o.now;
    if (left <= 0) {
      down.push(
        `The server certificate (${o.cert.subject}) expired on ${date(o.cert.notAfter)}: clients refuse it. Renew certs.cert and certs.key in the protected settings and re-apply the extension.`,
      );
      reasons.push('cert-expired');
    } else if (left < EXPIRY_NOTICE_DAYS * DAY) {
      const days = Math.ceil(left / DAY);
      notes.push(`The server certificate (${o.cert.subject}) expires in ${days} day${days === 1 ? '' : 's'} (${date(o.cert.notAfter)}): renew certs.cert and certs.key in the protected settings.`);
      reasons.push('cert-expiring');
    }
  }

  if (o.drift.length > 0) {
    notes.push(`Changed outside the extension: ${o.drift.map((x) => x.summary).join('; ')}. The extension leaves this as it is; the next enable re-applies the settings.`);
    reasons.push('drift');
  }

  const serving = servingText(o);
  const status: HeartbeatStatus = down.length > 0 ? 'NotReady' : 'Ready';
  const parts = [...down, ...notes, ...(serving ? [serving] : []), checked];
  return { status, message: parts.join(' '), reasons };
}

function servingText(o: Observation): string | undefined {
  const t = o.target;
  const d = o.dockerd;
  const at = o.lastEnable ? Date.parse(o.lastEnable.at) : NaN;
  const applied = o.lastEnable?.result === 'success' ? ` Configuration ${o.lastEnable.seq} applied${Number.isFinite(at) ? ` ${utc(at)}` : ''}.` : '';
  if (!t) {
    if (o.lastEnable?.result === 'success') return o.lastEnable.message;
    if (!o.lastEnable) return 'Waiting for the first enable to finish.';
    return undefined;
  }
  if (!d || d.pid === undefined || !d.socket?.ok) return undefined;
  const engine = d.socket.version ? `Docker ${d.socket.version}` : t.engineVersion ? `Docker ${t.engineVersion}` : 'Docker';
  const tcp = t.tcp ? (t.tcp.tls ? ` and TLS on port ${t.tcp.port}` : ` and plain TCP on port ${t.tcp.port} (no TLS)`) : '';
  const live = o.cert && 'notAfter' in o.cert && o.cert.notAfter > o.now ? o.cert : undefined;
  const renewed = o.renewal?.last ? `, last renewed ${utc(Date.parse(o.renewal.last.at))}` : '';
  const cert = !live ? '' : t.issuance ? ` (server certificate ${live.subject} issued on this VM, valid until ${utc(live.notAfter)}${renewed})` : ` (server certificate ${live.subject}, valid until ${date(live.notAfter)})`;
  return `${engine} serves ${t.socketPath}${tcp}${cert}.${applied}`;
}

function recoveryText(r: Recovery, now: number): string {
  switch (r.by) {
    case 'systemd':
      return r.unitState === 'failed'
        ? `${r.unit} has failed and systemd gave up restarting it: see journalctl -u ${r.unit}, fix the cause, then systemctl restart ${r.unit}.`
        : `systemd restarts ${r.unit}; if it stays down see journalctl -u ${r.unit}.`;
    case 'monitor': {
      const next = r.nextAt !== undefined ? ` Next attempt at ${utc(r.nextAt)} (in ${ago(r.nextAt - now)}).` : ' Restarting it now.';
      const head = r.attempt > 0 ? `Restart attempt ${r.attempt} failed${r.lastError ? `: ${short(r.lastError, 160)}` : ''}.` : 'No service manager restarts it, so the monitor does.';
      return `${head}${next} dockerd's log: ${r.logFile}.`;
    }
    case 'none':
      return `It is not restarted: ${r.why}.`;
  }
}

function restartHint(r: Recovery): string {
  return r.by === 'systemd' ? `a port conflict or a hand-made change? see journalctl -u ${r.unit}.` : 'a port conflict or a hand-made change? see dockerd\'s log.';
}
