// dockerd command-line flags ↔ daemon.json keys. Used twice: to turn the user's `docker.options`
// into daemon.json (the Go extension passed them verbatim as flags), and to move the vendor
// unit's flags (-H fd://, --containerd, --exec-opt …) into daemon.json when our drop-in takes
// over ExecStart. dockerd refuses a key given both ways, so every flag must map to exactly one key.
import { closest } from '../agent/settings.js';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };
export type JsonObject = { [k: string]: JsonValue };

export type FlagKind = 'string' | 'bool' | 'int' | 'list' | 'map' | 'ulimit' | 'runtime' | 'address-pool';

export interface FlagSpec {
  flag: string;
  short?: string;
  key: string;
  kind: FlagKind;
  /** Applied by SIGHUP (moby daemon/reload.go) — only when the key is present in the new file. */
  reloadable?: boolean;
  /** Managed by the extension: rejected in docker.options. */
  managed?: string;
  /** Shown in the README table. */
  example?: string;
  /** A file or directory: must be absolute and without ".." (dockerd runs as root and resolves it against its own cwd). */
  path?: boolean;
}

const S = (flag: string, key: string, example?: string, extra: Partial<FlagSpec> = {}): FlagSpec => ({ flag, key, kind: 'string', example, ...extra });
const B = (flag: string, key: string, extra: Partial<FlagSpec> = {}): FlagSpec => ({ flag, key, kind: 'bool', ...extra });
const I = (flag: string, key: string, example?: string, extra: Partial<FlagSpec> = {}): FlagSpec => ({ flag, key, kind: 'int', example, ...extra });
const L = (flag: string, key: string, example?: string, extra: Partial<FlagSpec> = {}): FlagSpec => ({ flag, key, kind: 'list', example, ...extra });

const TLS_HINT = 'TLS is configured from the protected setting "certs"';

export const FLAG_TABLE: readonly FlagSpec[] = [
  L('--registry-mirror', 'registry-mirrors', 'https://mirror.example.com', { reloadable: true }),
  L('--insecure-registry', 'insecure-registries', 'registry.internal:5000', { reloadable: true }),
  L('--allow-nondistributable-artifacts', 'allow-nondistributable-artifacts', 'registry.internal:5000', { reloadable: true }),
  L('--label', 'labels', 'env=prod', { reloadable: true }),
  B('--debug', 'debug', { short: '-D', reloadable: true }),
  S('--log-level', 'log-level', 'warn', { short: '-l' }),
  I('--max-concurrent-downloads', 'max-concurrent-downloads', '6', { reloadable: true }),
  I('--max-concurrent-uploads', 'max-concurrent-uploads', '5', { reloadable: true }),
  I('--max-download-attempts', 'max-download-attempts', '5', { reloadable: true }),
  I('--shutdown-timeout', 'shutdown-timeout', '30', { reloadable: true }),
  B('--live-restore', 'live-restore', { reloadable: true }),
  S('--default-runtime', 'default-runtime', 'runc', { reloadable: true }),
  { flag: '--add-runtime', key: 'runtimes', kind: 'runtime', reloadable: true, example: 'crun=/usr/bin/crun' },
  S('--default-shm-size', 'default-shm-size', '128M', { reloadable: true }),
  S('--default-ipc-mode', 'default-ipc-mode', 'private', { reloadable: true }),
  S('--default-cgroupns-mode', 'default-cgroupns-mode', 'private', { reloadable: true }),
  S('--log-driver', 'log-driver', 'json-file'),
  { flag: '--log-opt', key: 'log-opts', kind: 'map', example: 'max-size=10m' },
  B('--raw-logs', 'raw-logs'),
  S('--storage-driver', 'storage-driver', 'overlay2', { short: '-s' }),
  L('--storage-opt', 'storage-opts', 'overlay2.size=20G'),
  S('--data-root', 'data-root', '/mnt/docker', { path: true }),
  S('--exec-root', 'exec-root', '/run/docker', { path: true }),
  S('--pidfile', 'pidfile', '/run/docker.pid', { short: '-p', path: true }),
  L('--exec-opt', 'exec-opts', 'native.cgroupdriver=systemd'),
  S('--cgroup-parent', 'cgroup-parent', 'docker.slice'),
  S('--containerd', 'containerd', '/run/containerd/containerd.sock', { path: true }),
  S('--containerd-namespace', 'containerd-namespace', 'moby'),
  S('--containerd-plugins-namespace', 'containerd-plugins-namespace', 'plugins.moby'),
  B('--experimental', 'experimental'),
  B('--init', 'init'),
  S('--init-path', 'init-path', '/usr/libexec/docker/docker-init', { path: true }),
  B('--no-new-privileges', 'no-new-privileges'),
  B('--selinux-enabled', 'selinux-enabled'),
  S('--seccomp-profile', 'seccomp-profile', '/etc/docker/seccomp.json'),
  S('--userns-remap', 'userns-remap', 'default'),
  S('--group', 'group', 'docker', { short: '-G' }),
  { flag: '--default-ulimit', key: 'default-ulimits', kind: 'ulimit', example: 'nofile=1024:2048' },
  I('--oom-score-adjust', 'oom-score-adjust', '-500'),
  L('--authorization-plugin', 'authorization-plugins', 'my-authz'),
  S('--metrics-addr', 'metrics-addr', '127.0.0.1:9323'),
  L('--dns', 'dns', '10.0.0.2'),
  L('--dns-opt', 'dns-opts', 'ndots:2'),
  L('--dns-search', 'dns-search', 'corp.example.com'),
  S('--bip', 'bip', '172.26.0.1/16'),
  S('--bridge', 'bridge', 'none', { short: '-b' }),
  S('--fixed-cidr', 'fixed-cidr', '172.26.0.0/17'),
  S('--fixed-cidr-v6', 'fixed-cidr-v6', 'fd00::/80'),
  S('--default-gateway', 'default-gateway', '172.26.0.1'),
  S('--default-gateway-v6', 'default-gateway-v6', 'fd00::1'),
  { flag: '--default-address-pool', key: 'default-address-pools', kind: 'address-pool', example: 'base=10.10.0.0/16,size=24' },
  S('--ip', 'ip', '127.0.0.1'),
  I('--mtu', 'mtu', '1400'),
  B('--ipv6', 'ipv6'),
  B('--icc', 'icc'),
  B('--ip-forward', 'ip-forward'),
  B('--ip-masq', 'ip-masq'),
  B('--iptables', 'iptables'),
  B('--ip6tables', 'ip6tables'),
  B('--userland-proxy', 'userland-proxy'),
  S('--userland-proxy-path', 'userland-proxy-path', '/usr/libexec/docker-proxy'),
  S('--host-gateway-ip', 'host-gateway-ip', '172.17.0.1'),
  S('--swarm-default-advertise-addr', 'swarm-default-advertise-addr', 'eth0'),
  I('--network-control-plane-mtu', 'network-control-plane-mtu', '1500'),
  L('--node-generic-resource', 'node-generic-resources', 'gpu=UUID1'),
  // Managed by the extension: allowed on a vendor unit's command line (and moved), never in docker.options.
  L('--host', 'hosts', undefined, { short: '-H', managed: 'the listeners are managed by the extension: use the public setting "docker.port" (TCP with TLS) — the local socket is always kept' }),
  B('--tls', 'tls', { managed: TLS_HINT }),
  B('--tlsverify', 'tlsverify', { managed: TLS_HINT }),
  S('--tlscacert', 'tlscacert', undefined, { managed: TLS_HINT }),
  S('--tlscert', 'tlscert', undefined, { managed: TLS_HINT }),
  S('--tlskey', 'tlskey', undefined, { managed: TLS_HINT }),
];

/** Not daemon.json keys at all. */
const NON_KEY_FLAGS: Record<string, string> = {
  '--config-file': 'the extension owns /etc/docker/daemon.json; dockerd must read it',
  '--validate': 'it only checks a configuration, it does not run a daemon',
  '--help': 'it does not run a daemon',
  '--version': 'it does not run a daemon',
  '-v': 'it does not run a daemon',
  '-h': 'it does not run a daemon',
};

/**
 * Spellings older engines took and the Go extension passed through: users' templates still hold
 * them. A renamed flag is taken as its new name; a removed one is left out. Either way with a note.
 */
const OLD_FLAGS: Record<string, { now: string } | { removed: string }> = {
  '-g': { now: '--data-root' },
  '--graph': { now: '--data-root' },
  '--disable-legacy-registry': {
    removed: 'Docker removed it with the V1 registries it switched off (deprecated in 17.12; engines from 19.03 refuse to start with it, and every engine this extension installs is newer)',
  },
};

const BY_FLAG = new Map<string, FlagSpec>();
for (const f of FLAG_TABLE) {
  BY_FLAG.set(f.flag, f);
  if (f.short) BY_FLAG.set(f.short, f);
}
export const BY_KEY = new Map<string, FlagSpec>(FLAG_TABLE.map((f) => [f.key, f]));

export const RELOADABLE_KEYS: ReadonlySet<string> = new Set(FLAG_TABLE.filter((f) => f.reloadable).map((f) => f.key));

export function flagForKey(key: string): string {
  return BY_KEY.get(key)?.flag ?? `--${key}`;
}

/**
 * Shell-like word splitting of one option string ("--log-opt max-size=10m", "--label 'a=b c'").
 * The Go extension joined docker.options into a command line, so users wrote both forms.
 */
export function splitWords(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < s.length && '"\\$`'.includes(s[i + 1]!)) cur += s[++i];
      else cur += c;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

export interface TranslatedFlags {
  config: JsonObject;
  /** key → the flag spelling that set it, for messages. */
  origin: Map<string, string>;
  problems: string[];
  /** --config-file seen on a unit's command line. */
  configFile?: string;
  /** Flags we could not translate (unit context only). */
  unknown: string[];
  /** Old spellings taken in their meaning (OLD_FLAGS), each saying what to write instead. */
  notes: string[];
}

export interface TranslateOptions {
  /** 'options': the user's docker.options (managed flags rejected); 'unit': a unit's ExecStart. */
  context: 'options' | 'unit';
}

/**
 * Parses flags the way dockerd's pflag does: `--flag=value`, `--flag value`, bare booleans
 * (`--debug`, `--debug=false`), repeatable lists. Everything is checked; problems are returned,
 * not thrown, so the caller can report all of them at once.
 */
export function translateFlags(tokens: readonly string[], opts: TranslateOptions): TranslatedFlags {
  const config: JsonObject = {};
  const origin = new Map<string, string>();
  const problems: string[] = [];
  const unknown: string[] = [];
  const notes: string[] = [];
  let configFile: string | undefined;
  const where = opts.context === 'options' ? 'public setting "docker.options"' : 'the unit';

  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i]!;
    if (!tok.startsWith('-') || tok === '-' || tok === '--') {
      problems.push(`${where} has "${tok}", which is not an option (options start with "--", for example "--log-driver=journald")`);
      continue;
    }
    const eq = tok.indexOf('=');
    let name = eq >= 0 ? tok.slice(0, eq) : tok;
    let value: string | undefined = eq >= 0 ? tok.slice(eq + 1) : undefined;

    const old = OLD_FLAGS[name];
    if (old && 'removed' in old) {
      // A boolean: a following "true"/"false" word is its value, not an option of its own.
      if (value === undefined && (tokens[i + 1] === 'true' || tokens[i + 1] === 'false')) i++;
      notes.push(`${where} has "${name}", which is left out: ${old.removed}; remove it`);
      continue;
    }
    if (old) {
      const v = value ?? tokens[i + 1];
      const shown = v !== undefined && !v.startsWith('-') ? `${old.now}=${v}` : old.now;
      notes.push(`${where} has "${name}", the old name of "${old.now}", and is taken as such: write "${shown}"`);
      name = old.now;
    }

    if (name in NON_KEY_FLAGS || (name === '--config-file' && opts.context === 'unit')) {
      if (opts.context === 'unit' && name === '--config-file') {
        configFile = value ?? tokens[++i];
        continue;
      }
      if (opts.context === 'unit') {
        unknown.push(tok);
        continue;
      }
      problems.push(`${where} cannot contain "${name}": ${NON_KEY_FLAGS[name]}`);
      if (value === undefined && name === '--config-file') i++;
      continue;
    }
    const spec = BY_FLAG.get(name);
    if (!spec) {
      if (opts.context === 'unit') {
        unknown.push(tok);
        continue;
      }
      const guess = closest(name.replace(/^-+/, ''), FLAG_TABLE.filter((f) => !f.managed).map((f) => f.flag.slice(2)));
      problems.push(
        `${where} has the unknown dockerd option "${name}"` +
          (guess ? `; did you mean "--${guess}"?` : '; see the options table in the extension README for what is supported'),
      );
      continue;
    }
    if (spec.managed && opts.context === 'options') {
      problems.push(`${where} cannot contain "${name}": ${spec.managed}`);
      if (spec.kind !== 'bool' && value === undefined) i++;
      continue;
    }
    if (spec.kind === 'bool') {
      if (value === undefined) value = 'true';
      if (value !== 'true' && value !== 'false') {
        problems.push(`${where} has "${tok}": ${spec.flag} takes true or false (write "${spec.flag}" or "${spec.flag}=false")`);
        continue;
      }
      setScalar(spec, value === 'true', tok);
      continue;
    }
    if (value === undefined) {
      const next = tokens[i + 1];
      if (next === undefined || (next.startsWith('-') && !/^-\d/.test(next))) {
        problems.push(`${where} has "${name}" without a value (for example "${spec.flag}=${spec.example ?? 'VALUE'}")`);
        continue;
      }
      value = next;
      i++;
    }
    const bad = addValue(spec, value, tok);
    if (bad) problems.push(`${where} has "${name} ${value}": ${bad}`);
  }
  const result: TranslatedFlags = { config, origin, problems, unknown, notes };
  if (configFile !== undefined) result.configFile = configFile;
  return result;

  function setScalar(spec: FlagSpec, v: JsonValue, tok: string): void {
    config[spec.key] = v;
    origin.set(spec.key, tok);
  }

  function addValue(spec: FlagSpec, value: string, tok: string): string | undefined {
    origin.set(spec.key, origin.has(spec.key) && spec.kind !== 'string' && spec.kind !== 'int' ? origin.get(spec.key)! : tok);
    switch (spec.kind) {
      case 'string':
        if (spec.path && (!value.startsWith('/') || value.split('/').includes('..'))) return `${spec.flag} takes an absolute path without "..", for example ${spec.example}`;
        config[spec.key] = value;
        return undefined;
      case 'int': {
        if (!/^-?\d+$/.test(value)) return `${spec.flag} takes a whole number`;
        config[spec.key] = Number(value);
        return undefined;
      }
      case 'list': {
        const arr = (config[spec.key] as JsonValue[] | undefined) ?? [];
        if (!arr.includes(value)) arr.push(value);
        config[spec.key] = arr;
        return undefined;
      }
      case 'map': {
        const i = value.indexOf('=');
        if (i <= 0) return `${spec.flag} takes KEY=VALUE (for example ${spec.example})`;
        const m = (config[spec.key] as JsonObject | undefined) ?? {};
        m[value.slice(0, i)] = value.slice(i + 1);
        config[spec.key] = m;
        return undefined;
      }
      case 'runtime': {
        const i = value.indexOf('=');
        if (i <= 0) return `${spec.flag} takes NAME=PATH (for example ${spec.example})`;
        const m = (config[spec.key] as JsonObject | undefined) ?? {};
        m[value.slice(0, i)] = { path: value.slice(i + 1) };
        config[spec.key] = m;
        return undefined;
      }
      case 'ulimit': {
        const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(value);
        if (!m) return `${spec.flag} takes NAME=SOFT[:HARD] (for example ${spec.example})`;
        const soft = Number(m[2]);
        const hard = m[3] === undefined ? soft : Number(m[3]);
        const u = (config[spec.key] as JsonObject | undefined) ?? {};
        u[m[1]!] = { Name: m[1]!, Hard: hard, Soft: soft };
        config[spec.key] = u;
        return undefined;
      }
      case 'address-pool': {
        const pool: JsonObject = {};
        for (const part of value.split(',')) {
          const [k, v] = part.split('=', 2);
          if (k === 'base' && v) pool.base = v;
          else if (k === 'size' && v && /^\d+$/.test(v)) pool.size = Number(v);
          else return `${spec.flag} takes base=CIDR,size=BITS (for example ${spec.example})`;
        }
        if (pool.base === undefined || pool.size === undefined) return `${spec.flag} takes base=CIDR,size=BITS (for example ${spec.example})`;
        const arr = (config[spec.key] as JsonValue[] | undefined) ?? [];
        arr.push(pool);
        config[spec.key] = arr;
        return undefined;
      }
      default:
        return undefined;
    }
  }
}

/** docker.options (array of strings, each possibly several words) → daemon.json keys. */
export function translateDockerOptions(options: readonly string[]): TranslatedFlags {
  return translateFlags(options.flatMap(splitWords), { context: 'options' });
}

/**
 * Combines two configurations for the same daemon (vendor flags, then user options):
 * lists are unioned, objects merged key by key, scalars taken from `over`.
 */
export function combineConfigs(base: JsonObject, over: JsonObject): JsonObject {
  const out: JsonObject = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    if (Array.isArray(b) && Array.isArray(v)) {
      if (k === 'exec-opts') {
        // native.cgroupdriver=cgroupfs from the user replaces the unit's =systemd rather than joining it.
        const names = new Set(v.map((x) => String(x).split('=')[0]));
        out[k] = [...b.filter((x) => !names.has(String(x).split('=')[0])), ...v];
      } else out[k] = [...b, ...v.filter((x) => !b.some((y) => deepEqual(x, y)))];
    } else if (isObject(b) && isObject(v)) out[k] = { ...b, ...v };
    else out[k] = v;
  }
  return out;
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}
