// settings + what the machine runs → the files dockerd should see. Pure.
import { ConfigError } from '../errors.js';
import { DEFAULT_TLS_PORT, givenServerCerts, type HandlerSettings, type ServerCerts } from '../agent/settings.js';
import type { DaemonLaunch } from '../system/service-manager.js';
import { hostsOf } from '../system/systemd-manager.js';
import { certificateFingerprint } from '../crypto/fingerprint.js';
import {
  combineConfigs,
  flagForKey,
  translateDockerOptions,
  translateFlags,
  type JsonObject,
  type JsonValue,
} from './options.js';
import { mergeDaemonConfig, renderDaemonJson, renderDropIn, socketPathOf, tcpTarget, type OwnedKeys, type VerifySpec } from './daemon-config.js';

export interface EngineLayout {
  /** Paths in the fs port's namespace. */
  daemonJson: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  /** With "certs.issuer": the issuer's certificate and key, kept for the monitor's renewals. */
  issuerCertFile: string;
  issuerKeyFile: string;
  dropIn: string;
  /** Override of the local socket entry in `hosts` ("unix:///tmp/x/docker.sock"); default: the unit's. */
  localSocket?: string;
  /** Address the TCP listener binds. */
  tcpAddress: string;
  /** How dockerd sees a path of the fs port (identity on a VM; fs.resolve for a rooted test tree). */
  daemonView: (fsPath: string) => string;
  /** Readiness bound after a start/restart. */
  readyTimeoutMs: number;
  /** Root's docker client configuration directory: the registry login is stored there. */
  rootDockerConfig: string;
  /** The agent's provisioning file (the admin user's name); default: ovf-env.xml in the agent's lib directory, the parent of stateDir. */
  ovfEnvFile?: string;
}

export const DEFAULT_LAYOUT: EngineLayout = {
  daemonJson: '/etc/docker/daemon.json',
  caFile: '/etc/docker/ca.pem',
  certFile: '/etc/docker/cert.pem',
  keyFile: '/etc/docker/key.pem',
  issuerCertFile: '/etc/docker/issuer.pem',
  issuerKeyFile: '/etc/docker/issuer-key.pem',
  dropIn: '/etc/systemd/system/docker.service.d/10-azure-docker-extension.conf',
  tcpAddress: '0.0.0.0',
  daemonView: (p) => p,
  readyTimeoutMs: 90_000,
  rootDockerConfig: '/root/.docker',
};

export interface EngineState {
  version: 1;
  daemonJson: { path: string; owned: OwnedKeys; created: boolean };
  /** Certificate files we wrote. */
  files: string[];
  /** Our drop-in, when we wrote one. */
  dropIn?: string;
  /** The engine packages, when the extension installed them. */
  installed?: { manager: string; packages: string[]; source: string; at: string };
}

export interface DesiredFile {
  path: string;
  content: string;
  mode: number;
  sensitive: boolean;
  what: string;
  /** dockerd does not read it: a change alone restarts nothing (the issuer's files). */
  notForDockerd?: boolean;
}

export interface DesiredState {
  config: JsonObject;
  owned: OwnedKeys;
  /** daemon.json must exist (false: it did not before us and nothing is left in it). */
  configFileWanted: boolean;
  files: DesiredFile[];
  removeFiles: string[];
  dropIn?: DesiredFile;
  removeDropIn: boolean;
  tcp?: { address: string; port: number; tls: boolean };
  verify: VerifySpec;
  warnings: string[];
  /** Vendor flags moved into daemon.json (for messages). */
  moved: string[];
}

export interface DesiredInput {
  settings: HandlerSettings;
  launch: DaemonLaunch;
  current: JsonObject;
  currentExists: boolean;
  state: EngineState | undefined;
  layout: EngineLayout;
  /** Uninstall: keep only what the local socket needs. */
  removal?: boolean;
  /** The running dockerd is a swarm node (live-restore is refused there). Unknown counts as no. */
  swarmActive?: boolean;
  /** With "certs.issuer": the certificate and key kept or issued on this VM (issuance.ts). */
  issued?: ServerCerts;
}

/** dockerd's unit passes --live-restore: it stays on whatever daemon.json says, and the file may not name it. */
export function liveRestoreOnCommandLine(launch: DaemonLaunch): boolean {
  return 'live-restore' in translateFlags([...launch.replaceableArgs, ...launch.fixedArgs], { context: 'unit' }).config;
}

export function computeDesired(inp: DesiredInput): DesiredState {
  const { settings, launch, layout } = inp;
  const docker = settings.public.docker;
  const certs = inp.removal ? undefined : (inp.issued ?? givenServerCerts(settings.protected.certs));
  if (!inp.removal && settings.protected.certs && !certs) throw new Error('internal: the issued certificate was not resolved before computeDesired');
  const warnings = [...launch.notes];
  const view = layout.daemonView;

  // The user's options.
  const ours: JsonObject = {};
  if (!inp.removal) {
    const opts = translateDockerOptions(docker.options);
    if (opts.problems.length > 0) throw new ConfigError(`Invalid settings: ${opts.problems.join('; ')}. Nothing was changed.`, 'EOPTIONS');
    Object.assign(ours, opts.config);
    warnings.push(...opts.notes);
  }

  // live-restore by default, so that a restart for a configuration change stops no container; an
  // explicit value (docker.options, or the admin's own daemon.json) wins, and swarm refuses it.
  // The unit's --live-restore counts as explicit too: adding the key would clash with the flag.
  const adminLiveRestore = 'live-restore' in mergeDaemonConfig(inp.current, inp.state?.daemonJson.owned ?? {}, {}).config || liveRestoreOnCommandLine(inp.launch);
  if (!inp.removal && docker.liveRestore && !('live-restore' in ours) && !adminLiveRestore) {
    if (inp.swarmActive) warnings.push('live-restore is left off: this node is in swarm mode, where Docker does not support it, so a restart of dockerd restarts its containers');
    else ours['live-restore'] = true;
  }

  // TCP: with certificates always (2376 unless docker.port says otherwise); without, only on opt-in.
  let tcp: DesiredState['tcp'];
  if (!inp.removal) {
    if (certs) tcp = { address: layout.tcpAddress, port: docker.port ?? DEFAULT_TLS_PORT, tls: true };
    else if (docker.port !== undefined) {
      if (!docker.allowInsecureTcp) {
        throw new ConfigError(
          `public setting "docker.port" asks for a TCP listener, but protected setting "certs" is missing; supply certs, or set "docker.allowInsecureTcp": true to accept an unauthenticated listener. Nothing was changed.`,
          'EINSECURE',
        );
      }
      tcp = { address: layout.tcpAddress, port: docker.port, tls: false };
      warnings.push(`TCP port ${docker.port} is served WITHOUT TLS ("docker.allowInsecureTcp"): anyone who reaches it is root on this VM`);
    }
  }
  if (certs && tcp) {
    ours.tlsverify = true;
    ours.tlscacert = view(layout.caFile);
    ours.tlscert = view(layout.certFile);
    ours.tlskey = view(layout.keyFile);
  } else if (tcp) {
    // Explicitly false: dockerd ≥ 27 refuses an unauthenticated TCP listener otherwise.
    ours.tls = false;
    ours.tlsverify = false;
  }

  const owned: OwnedKeys = inp.state?.daemonJson.owned ?? {};
  const foreignOnly = mergeDaemonConfig(inp.current, owned, {}).config;
  const legacy = legacyUnitEdit(launch);
  const vendor = translateFlags(legacy ? legacy.keptArgs : launch.replaceableArgs, { context: 'unit' });
  const manageHosts = tcp !== undefined || layout.localSocket !== undefined;
  const candidate = new Set([...Object.keys(foreignOnly), ...Object.keys(ours), ...(manageHosts ? ['hosts'] : [])]);
  const conflicts = Object.keys(vendor.config).filter((k) => candidate.has(k));
  const foreignConfigFile = vendor.configFile !== undefined && vendor.configFile !== view(layout.daemonJson);
  // The unit DockerExtension 1.x rewrote is always overridden (even by uninstall): left to itself it
  // would serve 1.x's listener with whatever certificate files are still there.
  const needDropIn = launch.manager === 'systemd' && (legacy !== undefined || conflicts.length > 0 || foreignConfigFile);

  let moved: JsonObject = {};
  const movedFlags: string[] = [];
  if (needDropIn) {
    const src = launch.replaceableSource ?? 'docker.service';
    if (launch.overriddenBy) {
      throw new ConfigError(
        `${launch.overriddenBy} sets ExecStart= for docker.service and sorts after the extension's drop-in, so dockerd would keep its flags (${conflicts.map(flagForKey).join(', ')}) ` +
          `and refuse daemon.json. Move those settings into daemon.json or docker.options and remove that ExecStart=. Nothing was changed.`,
        'EUNITCONFLICT',
      );
    }
    if (vendor.unknown.length > 0 || vendor.problems.length > 0) {
      throw new ConfigError(
        `The ExecStart of docker.service (${src}) passes ${[...vendor.unknown, ...vendor.problems].join(', ')} to dockerd, which the extension cannot move into daemon.json ` +
          `(needed because ${conflicts.map((k) => `"${k}"`).join(', ') || 'the listeners'} must be set there). Remove it from the unit or its drop-in. Nothing was changed.`,
        'EUNITCONFLICT',
      );
    }
    if (!launch.dockerdPath) throw new ConfigError(`Cannot tell where dockerd is installed (docker.service has no ExecStart with an absolute path). Nothing was changed.`, 'ENODOCKERD');
    for (const [k, v] of Object.entries(vendor.config)) {
      if (k in foreignOnly && k !== 'hosts') {
        warnings.push(`${src} passes ${vendor.origin.get(k)} while ${layout.daemonJson} sets "${k}"; the file's value is kept`);
        continue;
      }
      moved[k] = v;
    }
    movedFlags.push(...launch.replaceableArgs);
    if (foreignConfigFile) warnings.push(`${src} pointed dockerd at --config-file ${vendor.configFile}; dockerd now reads ${view(layout.daemonJson)}`);
  }

  // hosts: the local socket as the unit had it (fd:// with socket activation), plus our TCP listener.
  let managed: JsonObject = combineConfigs(moved, ours);
  if (manageHosts) {
    const baseline = (asStrings(moved.hosts) ?? asStrings(foreignOnly.hosts) ?? (needDropIn ? [] : hostsOf(launch.replaceableArgs))).map(withScheme);
    const local = layout.localSocket ? [layout.localSocket] : baseline.filter((h) => !h.startsWith('tcp://'));
    if (local.length === 0) local.push(`unix://${launch.socketPath}`);
    const baseTcp = baseline.filter((h) => h.startsWith('tcp://'));
    const ourTcp = tcp ? `tcp://${tcp.address.includes(':') ? `[${tcp.address}]` : tcp.address}:${tcp.port}` : undefined;
    const dropped = ourTcp ? baseTcp.filter((h) => h !== ourTcp) : [];
    if (dropped.length > 0) warnings.push(`listener${dropped.length > 1 ? 's' : ''} ${dropped.join(', ')} from the previous configuration replaced by ${ourTcp}`);
    managed = { ...managed, hosts: [...local, ...(ourTcp ? [ourTcp] : baseTcp)] };
  }

  const merged = mergeDaemonConfig(inp.current, owned, managed);

  // Flags that stay on the command line must not appear in the file (dockerd refuses both).
  const fixed = translateFlags(launch.fixedArgs, { context: 'unit' });
  const clashes = Object.keys(merged.config).filter((k) => k in fixed.config);
  if (clashes.length > 0) {
    const where = launch.fixedSource ?? 'dockerd\'s command line';
    const what = clashes.map((k) => {
      const fromOptions = k in ours && !['hosts', 'tls', 'tlsverify', 'tlscacert', 'tlscert', 'tlskey'].includes(k);
      return fromOptions
        ? `public setting "docker.options" sets ${flagForKey(k)}, which ${where} already passes (${fixed.origin.get(k)})`
        : `daemon.json key "${k}" is also passed as ${fixed.origin.get(k)} by ${where}`;
    });
    throw new ConfigError(`dockerd refuses an option given both as a flag and in daemon.json: ${what.join('; ')}. Nothing was changed.`, 'EFLAGCONFLICT');
  }

  if (legacy) {
    const src = launch.replaceableSource ?? 'docker.service';
    const ourTcp = asStrings(merged.config.hosts)?.find((h) => h.startsWith('tcp://'));
    const listener = legacy.tcp.length === 0
      ? ''
      : ourTcp && legacy.tcp.includes(ourTcp)
        ? `; its listener ${ourTcp} is kept, served with the certificates from the settings`
        : `; its listener ${legacy.tcp.join(', ')} is no longer served (${ourTcp ? `the settings ask for ${ourTcp}` : 'the settings configure no TCP listener'})`;
    warnings.push(`DockerExtension 1.x had rewritten ExecStart in ${src}; the extension's drop-in replaces it${listener}`);
  }

  const files: DesiredFile[] = certs
    ? [
        { path: layout.caFile, content: certs.ca, mode: 0o644, sensitive: false, what: 'CA certificate' },
        { path: layout.certFile, content: certs.cert, mode: 0o644, sensitive: false, what: 'server certificate' },
        { path: layout.keyFile, content: certs.key, mode: 0o600, sensitive: true, what: 'server private key' },
      ]
    : [];
  const issuer = inp.removal ? undefined : settings.protected.certs?.issuer;
  if (issuer && certs) {
    files.push(
      { path: layout.issuerCertFile, content: issuer.cert, mode: 0o644, sensitive: false, what: 'issuer CA certificate', notForDockerd: true },
      { path: layout.issuerKeyFile, content: issuer.key, mode: 0o600, sensitive: true, what: 'issuer private key', notForDockerd: true },
    );
  }
  const removeFiles = (inp.state?.files ?? []).filter((p) => !files.some((f) => f.path === p));
  if (legacy?.tls && !certs) {
    // 1.x's certificate files (the same names as ours) with nothing serving them any more: a stray
    // private key is not left behind.
    for (const p of [layout.caFile, layout.certFile, layout.keyFile]) if (!removeFiles.includes(p)) removeFiles.push(p);
    if (!inp.removal) warnings.push(`the certificate files DockerExtension 1.x wrote (${layout.caFile}, ${layout.certFile}, ${layout.keyFile}) are removed: the settings give no "certs"`);
  }

  const configFileWanted = inp.currentExists ? !(inp.state?.daemonJson.created === true && Object.keys(merged.config).length === 0) : Object.keys(merged.config).length > 0;

  const hosts = asStrings(merged.config.hosts) ?? (needDropIn ? [] : hostsOf([...launch.replaceableArgs, ...launch.fixedArgs]));
  const verify: VerifySpec = { socketPath: socketPathOf(hosts, launch.socketPath) };
  const tcpHost = hosts.find((h) => h.startsWith('tcp://'));
  const target = tcpHost ? tcpTarget(tcpHost) : undefined;
  if (target) {
    verify.tcp = { ...target };
    if (!tcp) {
      // Not ours: dockerd serves it with whatever TLS settings the admin gave it (a plain HTTP
      // probe of a TLS port gets 400), and it is the admin's to keep working.
      verify.tcp.listenOnly = `the TCP listener ${tcpHost} from ${asStrings(foreignOnly.hosts) ? layout.daemonJson : 'dockerd\'s command line'}, not configured by the extension`;
    } else if (merged.config.tlsverify === true && certs) {
      // An issued certificate chains to the issuer, which need not be the CA of the clients.
      const fp = certificateFingerprint(certs.cert);
      verify.tcp.tls = { caPem: issuer?.cert ?? certs.ca, ...(fp ? { certFingerprint256: fp } : {}) };
    }
  }

  const out: DesiredState = {
    config: merged.config,
    owned: merged.owned,
    configFileWanted,
    files,
    removeFiles,
    removeDropIn: !needDropIn,
    verify,
    warnings,
    moved: movedFlags,
  };
  if (tcp) out.tcp = tcp;
  if (needDropIn) {
    out.dropIn = { path: layout.dropIn, content: renderDropIn(launch.dockerdPath!, movedFlags, view(layout.daemonJson)), mode: 0o644, sensitive: false, what: 'systemd drop-in' };
  }
  return out;
}

export function renderConfig(d: DesiredState): string {
  return renderDaemonJson(d.config);
}

export interface LegacyUnitEdit {
  /** The flags that stay meaningful: 1.x's `-H=fd://` (and anything else that is not its TLS listener). */
  keptArgs: string[];
  /** 1.x's TCP listeners (with their scheme). */
  tcp: string[];
  /** It passed --tlsverify/--tlscacert/... (its certificate files in /etc/docker). */
  tls: boolean;
}

/**
 * DockerExtension 1.x rewrote the ExecStart line of the vendor unit in place to
 * `<dockerd> [daemon] -H=fd:// [--tlsverify --tlscacert=/etc/docker/ca.pem --tlscert=… --tlskey=…] [-H=0.0.0.0:<port>] [options]`.
 * Its first argument (`daemon`, or `-H=fd://` in that spelling) tells it apart from a vendor unit,
 * which writes `-H fd://`. Its TLS flags and TCP listener are 1.x's configuration, not the admin's:
 * the settings say what TCP and TLS to serve now.
 */
export function legacyUnitEdit(launch: DaemonLaunch): LegacyUnitEdit | undefined {
  const args = launch.replaceableArgs;
  if (launch.manager !== 'systemd' || (args[0] !== 'daemon' && args[0] !== '-H=fd://')) return undefined;
  const keptArgs: string[] = [];
  const tcp: string[] = [];
  let tls = false;
  for (const a of args) {
    if (a === 'daemon') continue;
    if (a === '--tls' || a === '--tlsverify' || /^--tls(verify)?=/.test(a) || /^--tls(cacert|cert|key)=/.test(a)) {
      tls = true;
      continue;
    }
    const host = /^(-H|--host)=(.*)$/.exec(a)?.[2];
    if (host !== undefined && withScheme(host).startsWith('tcp://')) {
      tcp.push(withScheme(host));
      continue;
    }
    keptArgs.push(a);
  }
  return { keptArgs, tcp, tls };
}

/**
 * dockerd reads a -H without a scheme as TCP ("0.0.0.0:2376", ":2376") or, when it starts with "/",
 * as a unix socket. DockerExtension 1.x wrote `-H=0.0.0.0:<port>` into the vendor unit: without the
 * scheme that listener would look like a local socket and be kept beside ours on the same port.
 */
export function withScheme(host: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(host) || host === 'fd://') return host;
  if (host.startsWith('/')) return `unix://${host}`;
  return `tcp://${host.startsWith(':') ? `0.0.0.0${host}` : host}`;
}

function asStrings(v: JsonValue | undefined): string[] | undefined {
  return Array.isArray(v) ? v.map(String) : undefined;
}
