// daemon.json is shared with the admin and the distribution (Azure Linux ships one): we merge
// into it, remember which keys we own and what they held before, and can give them back.
import { ConfigError } from '../errors.js';
import { jsonWhere } from '../agent/json-where.js';
import type { DaemonLaunch } from '../system/service-manager.js';
import { hostsOf } from '../system/systemd-manager.js';
import { deepEqual, isObject, type JsonObject, type JsonValue } from './options.js';

export interface OwnedKey {
  /** The key existed (foreign) before we took it over; `prior` is its value then. */
  hadPrior: boolean;
  prior?: JsonValue;
}
export type OwnedKeys = Record<string, OwnedKey>;

export function parseDaemonJson(text: string | undefined, path: string): JsonObject {
  if (text === undefined || text.trim() === '') return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new ConfigError(
      `${path} is not valid JSON${jsonWhere(text)}; dockerd cannot start with it either. Fix or remove the file, then enable again. Nothing was changed.`,
      'EDAEMONJSON',
    );
  }
  if (!isObject(v)) throw new ConfigError(`${path} must hold a JSON object; fix or remove the file, then enable again. Nothing was changed.`, 'EDAEMONJSON');
  return v;
}

/** daemon.json as it would be without us: owned keys back to their prior value or gone. */
export function foreignView(current: JsonObject, owned: OwnedKeys): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(current)) {
    const o = owned[k];
    if (!o) out[k] = v;
    else if (o.hadPrior) out[k] = o.prior as JsonValue;
  }
  for (const [k, o] of Object.entries(owned)) {
    if (o.hadPrior && !(k in out)) out[k] = o.prior as JsonValue;
  }
  return out;
}

/**
 * The new daemon.json: foreign keys untouched and in their order, our keys set (appended when
 * new), keys we owned and no longer want given back. Ownership is recorded with the foreign value
 * we displaced, so `removeEngineConfig` restores the admin's setting.
 */
export function mergeDaemonConfig(current: JsonObject, owned: OwnedKeys, managed: JsonObject): { config: JsonObject; owned: OwnedKeys } {
  const foreign = foreignView(current, owned);
  const config: JsonObject = {};
  const newOwned: OwnedKeys = {};
  const order = [...Object.keys(current), ...Object.keys(foreign).filter((k) => !(k in current)), ...Object.keys(managed)];
  for (const k of order) {
    if (k in config) continue;
    if (k in managed) config[k] = managed[k]!;
    else if (k in foreign) config[k] = foreign[k]!;
  }
  for (const k of Object.keys(managed)) {
    newOwned[k] = k in foreign ? { hadPrior: true, prior: foreign[k]! } : { hadPrior: false };
  }
  return { config, owned: newOwned };
}

export function renderDaemonJson(config: JsonObject): string {
  return `${JSON.stringify(config, null, 2)}\n`;
}

export interface KeyChange {
  key: string;
  change: 'added' | 'changed' | 'removed';
}

export function changedKeys(before: JsonObject, after: JsonObject): KeyChange[] {
  const out: KeyChange[] = [];
  for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (!(k in after)) out.push({ key: k, change: 'removed' });
    else if (!(k in before)) out.push({ key: k, change: 'added' });
    else if (!deepEqual(before[k], after[k])) out.push({ key: k, change: 'changed' });
  }
  return out;
}

export function renderDropIn(dockerdPath: string, movedFlags: readonly string[], daemonJsonPath: string): string {
  const moved = movedFlags.length > 0 ? movedFlags.join(' ') : '(none)';
  return [
    '# Managed by the Azure Docker extension (Microsoft.Azure.Extensions.DockerExtension); removed on uninstall.',
    `# dockerd refuses an option given both as a flag and in ${daemonJsonPath}, so dockerd runs without`,
    `# flags and reads everything from that file. Flags moved there from the unit: ${moved}`,
    '[Service]',
    'ExecStart=',
    `ExecStart=${dockerdPath}`,
    '',
  ].join('\n');
}

export interface VerifySpec {
  /** Unix socket to GET /_ping on. */
  socketPath: string;
  tcp?: {
    host: string;
    port: number;
    /** tlsverify: the CA to check the server against, and the certificate it must serve. */
    tls?: { caPem: string; certFingerprint256?: string };
    /**
     * A listener the extension did not configure (the admin's own `hosts` in daemon.json or the
     * unit), possibly with TLS settings the extension holds no certificates for: the proof only
     * checks that the port accepts connections, and a port that does not is reported, never an
     * error of the enable. The text says whose it is.
     */
    listenOnly?: string;
  };
}

/** The address a local client dials for a tcp:// host entry (0.0.0.0 → 127.0.0.1). */
export function tcpTarget(host: string): { host: string; port: number } | undefined {
  const m = /^tcp:\/\/(\[[^\]]*\]|[^:/]*)(?::(\d+))?\/?$/.exec(host);
  if (!m) return undefined;
  let h = m[1]!.replace(/^\[|\]$/g, '');
  if (h === '' || h === '0.0.0.0') h = '127.0.0.1';
  if (h === '::') h = '::1';
  return { host: h, port: m[2] ? Number(m[2]) : 2375 };
}

/**
 * The hosts dockerd serves with this daemon.json: the file's `hosts`, else the -H flags it is
 * started with (only the unit's fixed ones while the extension's drop-in replaces its ExecStart).
 */
export function hostsServed(config: Record<string, unknown>, launch: Pick<DaemonLaunch, 'replaceableArgs' | 'fixedArgs'>, dropInActive: boolean): string[] {
  if (Array.isArray(config.hosts)) return config.hosts.map(String);
  return hostsOf(dropInActive ? launch.fixedArgs : [...launch.replaceableArgs, ...launch.fixedArgs]);
}

export function socketPathOf(hosts: readonly string[], defaultSocket: string): string {
  for (const h of hosts) {
    if (h.startsWith('unix://')) return h.slice('unix://'.length);
  }
  return defaultSocket;
}
