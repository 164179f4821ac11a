// The monitor renews the certificate it issued ("certs.issuer") before it expires, or when the
// VM's names changed: a new key and certificate, both files swapped, dockerd restarted (with
// live-restore no container stops), proved by the certificate the TLS port presents, and the old
// pair put back (and dockerd restarted again) when that proof fails. The caller holds the worker
// lock throughout (daemon.ts), so no enable writes the same files or restarts dockerd meanwhile.
import { FINGERPRINT_LABEL } from '../crypto/fingerprint.js';
import { registerSecrets } from '../agent/sanitise.js';
import type { DaemonProbe } from '../docker/health.js';
import { checkIssuer, decide, readHostFacts, wantedNames, type HostFacts } from '../docker/issuance.js';
import type { LogSink } from '../log/line-log.js';
import type { Clock, CommandRunner, FileSystem } from '../system/ports.js';
import { READ_LIMITS } from '../system/ports.js';
import { serviceManagerFromSpec } from '../system/service-manager.js';
import { sha256Hex } from './read-files.js';
import { RESTART_READY_MS } from './schedule.js';
import { updateMonitorSpec, type MonitorTarget, type Renewal } from './spec.js';

export type RenewCheck = { kind: 'keep'; renewAt: number } | { kind: 'renew'; reason: string } | { kind: 'unreadable'; problem: string };

export interface RenewDeps {
  fs: FileSystem;
  clock: Clock;
  cmd: CommandRunner;
  probe: DaemonProbe;
  log: LogSink;
  dataDir: string;
  hostFacts?: () => Promise<HostFacts>;
  /** How long dockerd has to present the new certificate after its restart (default RESTART_READY_MS). */
  proofTimeoutMs?: number;
  /** Tests only (test-gate.ts): called with the new files written, before dockerd's restart. */
  beforeRestart?: () => Promise<void>;
}

interface Pair {
  cert?: string;
  key?: string;
}

async function readPair(fs: FileSystem, certFile: string, keyFile: string): Promise<Pair> {
  const [cert, key] = await Promise.all([certFile, keyFile].map((f) => fs.readText(f, { maxBytes: READ_LIMITS.certificate }).catch(() => undefined)));
  if (key !== undefined) registerSecrets([key]);
  return { ...(cert !== undefined ? { cert } : {}), ...(key !== undefined ? { key } : {}) };
}

async function readIssuer(fs: FileSystem, t: MonitorTarget): Promise<{ cert: string; key: string } | undefined> {
  const i = t.issuance!;
  const [cert, key] = await Promise.all([i.issuerCertFile, i.issuerKeyFile].map((f) => fs.readText(f, { maxBytes: READ_LIMITS.certificate }).catch(() => undefined)));
  if (key !== undefined) registerSecrets([key]);
  return cert !== undefined && key !== undefined ? { cert, key } : undefined;
}

/** Is the certificate on disk still the one to serve? The same rule as enable's (issuance.ts decide). */
export async function checkRenewal(d: RenewDeps, t: MonitorTarget, now: number): Promise<RenewCheck> {
  const i = t.issuance!;
  const issuer = await readIssuer(d.fs, t);
  if (!issuer) return { kind: 'unreadable', problem: `the issuer's files ${i.issuerCertFile} and ${i.issuerKeyFile} cannot be read; the next enable writes them again` };
  const host = await (d.hostFacts ?? (() => readHostFacts(d.cmd)))();
  const pair = await readPair(d.fs, t.tcp!.tls!.certFile, i.keyFile);
  const r = decide(pair, issuer.cert, wantedNames(host, i.extraNames), { validityMs: i.validityMs, renewBeforeMs: i.renewBeforeMs, extraNames: i.extraNames }, now);
  return r.kind === 'keep' ? { kind: 'keep', renewAt: r.renewAt } : { kind: 'renew', reason: r.reason };
}

export type RenewResult = { ok: true; renewal: Renewal; issueMs: number; restartToServingMs: number } | { ok: false; error: string };

export async function renewCertificate(d: RenewDeps, t: MonitorTarget, reason: string): Promise<RenewResult> {
  const { fs, clock, log } = d;
  const i = t.issuance!;
  const tcp = t.tcp!;
  const certFile = tcp.tls!.certFile;
  const issuer = await readIssuer(fs, t);
  if (!issuer) return { ok: false, error: `the issuer's files ${i.issuerCertFile} and ${i.issuerKeyFile} cannot be read` };
  // The issuer may have expired since the enable, or its files been replaced: nothing is changed then.
  try {
    checkIssuer(issuer, clock.now());
  } catch (e) {
    return { ok: false, error: `${(e as Error).message.replace(/^Invalid certificates: /, 'the issuer cannot sign: ').replace(/ Nothing was changed\.$/, '')} (re-apply the extension with a valid "certs.issuer")` };
  }
  const host = await (d.hostFacts ?? (() => readHostFacts(d.cmd)))();
  const names = wantedNames(host, i.extraNames);
  const old = await readPair(fs, certFile, i.keyFile);
  const t0 = clock.now();
  const { issueServerCertificate } = await import('../crypto/issue-certificate.js');
  const fresh = await issueServerCertificate(issuer, names, i.validityMs, t0);
  registerSecrets([fresh.keyPem]);
  const issueMs = clock.now() - t0;
  log.info({ event: 'renewing the server certificate', reason, notAfter: new Date(fresh.notAfter).toISOString(), fingerprint256: fresh.fingerprint256, issueMs });

  const services = serviceManagerFromSpec(t.manager, { fs, cmd: d.cmd, clock });
  // The key first: a kill between the two writes leaves a pair that does not match, which the
  // next check renews again; dockerd reads neither before the restart.
  await fs.writeAtomic(i.keyFile, fresh.keyPem, 0o600);
  await fs.writeAtomic(certFile, fresh.certPem, 0o644);
  await d.beforeRestart?.();
  const restartAt = clock.now();
  const served = await restartAndProve(d, services, t, issuer.cert, fresh.fingerprint256);
  if (served.ok) {
    const renewal: Renewal = { at: new Date(clock.now()).toISOString(), notAfter: new Date(fresh.notAfter).toISOString(), fingerprint256: fresh.fingerprint256, reason };
    await recordRenewal(fs, d.dataDir, t, renewal);
    return { ok: true, renewal, issueMs, restartToServingMs: clock.now() - restartAt };
  }
  log.error({ event: 'renewed certificate not served; putting the previous one back', reason: served.detail });
  if (old.key !== undefined) await fs.writeAtomic(i.keyFile, old.key, 0o600);
  if (old.cert !== undefined) await fs.writeAtomic(certFile, old.cert, 0o644);
  const back = await restartAndProve(d, services, t, issuer.cert, undefined);
  if (!back.ok) log.error({ event: 'dockerd does not serve after the rollback of the renewal', reason: back.detail });
  return { ok: false, error: served.detail };
}

/** dockerd restarted; ready when its TLS port presents `fingerprint` (any verified certificate when undefined). */
async function restartAndProve(d: RenewDeps, services: ReturnType<typeof serviceManagerFromSpec>, t: MonitorTarget, caPem: string, fingerprint: string | undefined): Promise<{ ok: boolean; detail: string }> {
  const { clock, probe } = d;
  const tcp = t.tcp!;
  try {
    await services.restart();
  } catch (e) {
    return { ok: false, detail: `restarting dockerd failed: ${(e as Error).message}` };
  }
  const timeout = d.proofTimeoutMs ?? RESTART_READY_MS;
  const deadline = clock.now() + timeout;
  let last = 'no answer yet';
  for (;;) {
    const p = await probe.probeTls(tcp.host, tcp.port, caPem, 2_000);
    if (p.reachable && p.serverVerified && (fingerprint === undefined || p.fingerprint256 === fingerprint)) return { ok: true, detail: p.detail };
    last = p.reachable && p.serverVerified ? `port ${tcp.port} presents another certificate (${FINGERPRINT_LABEL} ${p.fingerprint256 ?? 'unknown'})` : p.detail;
    if (clock.now() >= deadline) return { ok: false, detail: `dockerd did not serve the new certificate on port ${tcp.port} within ${timeout / 1000} s: ${last}` };
    await clock.sleep(100);
  }
}

/** The new files are the extension's own: the record the drift check compares with follows them. */
async function recordRenewal(fs: FileSystem, dataDir: string, t: MonitorTarget, renewal: Renewal): Promise<void> {
  const shas = new Map<string, { sha256: string; mode: number | null }>();
  for (const f of [t.tcp!.tls!.certFile, t.issuance!.keyFile]) {
    const bytes = await fs.readBytes(f, { maxBytes: READ_LIMITS.certificate });
    const st = await fs.stat(f);
    if (bytes) shas.set(f, { sha256: sha256Hex(bytes), mode: st?.mode ?? null });
  }
  await updateMonitorSpec(fs, dataDir, (s) => {
    const target = s.target;
    if (!target?.issuance || target.issuance.keyFile !== t.issuance!.keyFile) return { ...s, renewal };
    return {
      ...s,
      renewal,
      target: {
        ...target,
        files: target.files.map((f) => (shas.has(f.path) ? { ...f, ...shas.get(f.path)! } : f)),
        ...(target.tcp?.tls ? { tcp: { ...target.tcp, tls: { ...target.tcp.tls, fingerprint256: renewal.fingerprint256 } } } : {}),
      },
    };
  });
}
