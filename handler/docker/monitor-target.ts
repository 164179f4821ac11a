// After a proven enable: what the monitor holds dockerd to until the next one. Every path is
// turned into the path dockerd sees (layout.daemonView), and each managed file is recorded as it
// is on disk now, so that any later difference is a change someone else made.
import { parseJsonObject, sha256Hex } from '../monitor/read-files.js';
import type { MonitorTarget, WatchedFile } from '../monitor/spec.js';
import type { FileSystem } from '../system/ports.js';
import type { DaemonLaunch, ServiceManager } from '../system/service-manager.js';
import type { DesiredState, EngineLayout } from './desired.js';

/** dockerd's own default pid file (also what a socket-activated dockerd writes). */
const DOCKERD_DEFAULT_PIDFILE = '/var/run/docker.pid';

export async function monitorTarget(p: {
  fs: FileSystem;
  layout: EngineLayout;
  desired: DesiredState;
  services: ServiceManager;
  launch: DaemonLaunch;
  engineVersion?: string;
  /** "certs.issuer": what the monitor's renewals need (issuance.ts). */
  issuance?: { validityMs: number; renewBeforeMs: number; extraNames: string[] };
}): Promise<MonitorTarget | undefined> {
  const { fs, layout, desired, services } = p;
  const manager = services.spec;
  if (!manager) return undefined;
  const view = layout.daemonView;

  const managed: { path: string; what: string; sensitive: boolean; json?: boolean }[] = [{ path: layout.daemonJson, what: 'daemon.json', sensitive: false, json: true }];
  if (p.launch.manager === 'systemd') managed.push({ path: layout.dropIn, what: 'systemd drop-in', sensitive: false });
  for (const f of desired.files) managed.push({ path: f.path, what: f.what, sensitive: f.sensitive });

  const files: WatchedFile[] = [];
  for (const m of managed) {
    const bytes = await fs.readBytes(m.path);
    const st = bytes !== undefined ? await fs.stat(m.path) : undefined;
    const w: WatchedFile = {
      path: view(m.path),
      what: m.what,
      sha256: bytes === undefined ? null : sha256Hex(bytes),
      mode: st?.mode ?? null,
      sensitive: m.sensitive,
    };
    if (m.json) {
      // The baseline the monitor compares with: an unparsable file counts as no keys at all.
      const parsed = bytes === undefined ? 'invalid' : parseJsonObject(bytes);
      w.json = parsed === 'invalid' ? {} : parsed;
    }
    files.push(w);
  }

  const pidfile = desired.config.pidfile;
  const target: MonitorTarget = {
    socketPath: desired.verify.socketPath,
    pidFile: typeof pidfile === 'string' ? pidfile : manager.kind === 'direct' ? manager.pidFile : DOCKERD_DEFAULT_PIDFILE,
    manager,
    files,
    ...(p.engineVersion ? { engineVersion: p.engineVersion } : {}),
  };
  const tcp = desired.verify.tcp;
  // The admin's own listener is theirs to watch: the monitor holds dockerd to what the extension configured.
  if (tcp && tcp.listenOnly === undefined) {
    target.tcp = { host: tcp.host, port: tcp.port };
    if (tcp.tls) {
      // An issued certificate is verified against its issuer, which need not be the clients' CA.
      const caFile = p.issuance ? layout.issuerCertFile : layout.caFile;
      target.tcp.tls = { caFile: view(caFile), certFile: view(layout.certFile), ...(tcp.tls.certFingerprint256 ? { fingerprint256: tcp.tls.certFingerprint256 } : {}) };
      if (p.issuance) target.issuance = { issuerCertFile: view(layout.issuerCertFile), issuerKeyFile: view(layout.issuerKeyFile), keyFile: view(layout.keyFile), ...p.issuance };
    }
  }
  return target;
}
