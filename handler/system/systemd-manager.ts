// systemctl-backed ServiceManager, plus the pure parsing of unit files it needs to tell which
// flags dockerd really gets (vendor unit + drop-ins + EnvironmentFile expansion).
import { StepFailedError } from '../errors.js';
import type { ManagerSpec } from './manager-spec.js';
import type { CommandRunner, ReadFileSystem } from './ports.js';
import type { DaemonLaunch, ServiceManager, ServiceStatus } from './service-manager.js';

/** Unit search path, highest priority first (systemd.unit(5), system manager). */
export const UNIT_DIRS = ['/etc/systemd/system', '/run/systemd/system', '/usr/local/lib/systemd/system', '/usr/lib/systemd/system', '/lib/systemd/system'];

export const OWN_DROP_IN_NAME = '10-azure-docker-extension.conf';

export interface UnitEntry {
  section: string;
  key: string;
  value: string;
  file: string;
}

/** INI-ish unit syntax: sections, Key=Value, `#`/`;` comments, trailing-backslash continuations. */
export function parseUnitFile(text: string, file: string): UnitEntry[] {
  const out: UnitEntry[] = [];
  let section = '';
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    if (line.startsWith('[') && line.endsWith(']')) {
      section = line.slice(1, -1);
      continue;
    }
    while (line.endsWith('\\') && i + 1 < lines.length) {
      line = `${line.slice(0, -1).trimEnd()} ${lines[++i]!.trim()}`;
    }
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    out.push({ section, key: line.slice(0, eq).trim(), value: line.slice(eq + 1).trim(), file });
  }
  return out;
}

/**
 * systemd's ExecStart word splitting: quotes, `$VAR` (split on whitespace) and `${VAR}` (one
 * word), the `-@+!:` prefixes dropped. Unknown variables expand to nothing, as systemd does.
 */
export function splitExecLine(value: string, env: Readonly<Record<string, string>>): string[] {
  let v = value.trim();
  while (v.length > 0 && '-@+!:'.includes(v[0]!)) v = v.slice(1);
  const words: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(v)) !== null) {
    if (m[1] !== undefined) words.push(expandBraced(m[1].replace(/\\(.)/g, '$1'), env));
    else if (m[2] !== undefined) words.push(m[2]);
    else {
      const w = m[3]!;
      const whole = /^\$([A-Za-z_][A-Za-z0-9_]*)$/.exec(w);
      if (whole) words.push(...(env[whole[1]!] ?? '').split(/\s+/).filter((x) => x !== ''));
      else {
        const e = expandBraced(w, env);
        if (e !== '' || !/^\$\{[^}]+\}$/.test(w)) words.push(e);
      }
    }
  }
  return words;
}

function expandBraced(s: string, env: Readonly<Record<string, string>>): string {
  return s.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, n: string) => env[n] ?? '');
}

/** `Environment="A=b c" D=e` → {A: 'b c', D: 'e'}. */
export function parseEnvironmentLine(value: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(value)) !== null) {
    const w = m[1] ?? m[2] ?? m[3] ?? '';
    const eq = w.indexOf('=');
    if (eq > 0) out[w.slice(0, eq)] = w.slice(eq + 1);
  }
  return out;
}

/** EnvironmentFile= syntax: KEY=value lines, optional quotes, comments. */
export function parseEnvironmentFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim().replace(/^export\s+/, '');
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2]!.trim();
    if ((v.startsWith('"') && v.endsWith('"') && v.length >= 2) || (v.startsWith("'") && v.endsWith("'") && v.length >= 2)) v = v.slice(1, -1);
    out[m[1]!] = v;
  }
  return out;
}

export interface UnitView {
  fragment?: string;
  dropIns: string[];
  entries: UnitEntry[];
}

const UNIT_READ = { followLinks: true, maxBytes: 1024 * 1024 } as const;

/** Reads a unit and its drop-ins through the fs port, in systemd's precedence order. */
export async function readUnit(fs: ReadFileSystem, unit: string): Promise<UnitView> {
  let fragment: string | undefined;
  const entries: UnitEntry[] = [];
  for (const dir of UNIT_DIRS) {
    const p = `${dir}/${unit}`;
    // Units and drop-ins are links as often as files (systemctl enable/link, packaging).
    const text = await fs.readText(p, UNIT_READ);
    if (text !== undefined) {
      fragment = p;
      entries.push(...parseUnitFile(text, p));
      break;
    }
  }
  const byName = new Map<string, string>();
  for (const dir of UNIT_DIRS) {
    for (const name of await fs.list(`${dir}/${unit}.d`)) {
      if (name.endsWith('.conf') && !byName.has(name)) byName.set(name, `${dir}/${unit}.d/${name}`);
    }
  }
  const names = [...byName.keys()].sort();
  const dropIns: string[] = [];
  for (const name of names) {
    const p = byName.get(name)!;
    const text = await fs.readText(p, UNIT_READ);
    if (text === undefined || text.trim() === '') continue;
    dropIns.push(p);
    entries.push(...parseUnitFile(text, p));
  }
  const view: UnitView = { dropIns, entries };
  if (fragment !== undefined) view.fragment = fragment;
  return view;
}

interface ExecStartResult {
  value?: string;
  file?: string;
}

function effectiveExecStart(entries: readonly UnitEntry[]): ExecStartResult {
  let cur: ExecStartResult = {};
  for (const e of entries) {
    if (e.section !== 'Service' || e.key !== 'ExecStart') continue;
    cur = e.value === '' ? {} : { value: e.value, file: e.file };
  }
  return cur;
}

async function environmentOf(fs: ReadFileSystem, entries: readonly UnitEntry[]): Promise<{ env: Record<string, string>; notes: string[] }> {
  const env: Record<string, string> = {};
  const files: Record<string, string> = {};
  const notes: string[] = [];
  for (const e of entries) {
    if (e.section !== 'Service') continue;
    if (e.key === 'Environment') Object.assign(env, parseEnvironmentLine(e.value));
    if (e.key === 'EnvironmentFile' && e.value !== '') {
      const optional = e.value.startsWith('-');
      const p = optional ? e.value.slice(1) : e.value;
      const text = await fs.readText(p, UNIT_READ);
      if (text === undefined) {
        if (!optional) notes.push(`EnvironmentFile ${p} of docker.service is missing`);
        continue;
      }
      Object.assign(files, parseEnvironmentFile(text));
    }
  }
  // systemd applies EnvironmentFile= after Environment=.
  return { env: { ...env, ...files }, notes };
}

const DOCKERD_CANDIDATES = ['/usr/bin/dockerd', '/usr/sbin/dockerd', '/usr/local/bin/dockerd'];

export interface SystemdOptions {
  fs: ReadFileSystem;
  cmd: CommandRunner;
  unit?: string;
  socketUnit?: string;
  ownDropInName?: string;
  /** Bound for one systemctl call; Debian's unit has TimeoutStartSec=0 (wait forever). */
  commandTimeoutMs?: number;
}

export class SystemdServiceManager implements ServiceManager {
  readonly kind = 'systemd' as const;
  readonly description: string;
  private readonly unit: string;
  private readonly socketUnit: string;
  private readonly ownDropIn: string;
  private readonly timeoutMs: number;

  constructor(private readonly opts: SystemdOptions) {
    this.unit = opts.unit ?? 'docker.service';
    this.socketUnit = opts.socketUnit ?? 'docker.socket';
    this.ownDropIn = opts.ownDropInName ?? OWN_DROP_IN_NAME;
    this.timeoutMs = opts.commandTimeoutMs ?? 180_000;
    this.description = `systemd unit ${this.unit}`;
  }

  get spec(): ManagerSpec {
    return { kind: 'systemd', unit: this.unit };
  }

  async inspect(): Promise<DaemonLaunch> {
    const fs = this.opts.fs;
    const view = await readUnit(fs, this.unit);
    const ownSuffix = `/${this.unit}.d/${this.ownDropIn}`;
    const withoutOurs = view.entries.filter((e) => !e.file.endsWith(ownSuffix));
    const { env, notes } = await environmentOf(fs, withoutOurs);
    const base = effectiveExecStart(withoutOurs);
    const argv = base.value !== undefined ? splitExecLine(base.value, env) : [];

    // A drop-in sorting after ours that sets ExecStart= wins over ours.
    const ownIndex = view.dropIns.findIndex((p) => p.endsWith(ownSuffix));
    const ownName = this.ownDropIn;
    let overriddenBy: string | undefined;
    let fixedArgs: string[] = [];
    for (const p of view.dropIns) {
      const name = p.slice(p.lastIndexOf('/') + 1);
      if (name <= ownName) continue;
      const ex = effectiveExecStart(view.entries.filter((e) => e.file === p));
      const setsExec = view.entries.some((e) => e.file === p && e.section === 'Service' && e.key === 'ExecStart');
      if (setsExec) {
        overriddenBy = p;
        fixedArgs = ex.value !== undefined ? splitExecLine(ex.value, env).slice(1) : [];
      }
    }

    let dockerdPath = argv[0];
    if (dockerdPath === undefined || !dockerdPath.startsWith('/')) {
      dockerdPath = undefined;
      for (const c of DOCKERD_CANDIDATES) if (await fs.exists(c)) dockerdPath ??= c;
    }

    const socket = await readUnit(fs, this.socketUnit);
    const listen = socket.entries.find((e) => e.section === 'Socket' && e.key === 'ListenStream' && e.value.startsWith('/'));
    const args = argv.slice(1);
    const launch: DaemonLaunch = {
      manager: 'systemd',
      replaceableArgs: args,
      fixedArgs,
      socketActivated: hostsOf(args).includes('fd://') && socket.fragment !== undefined,
      socketPath: listen?.value ?? '/var/run/docker.sock',
      installed: view.fragment !== undefined,
      dropInPresent: ownIndex >= 0,
      notes,
    };
    if (dockerdPath !== undefined) launch.dockerdPath = dockerdPath;
    if (base.file !== undefined) launch.replaceableSource = base.file;
    if (overriddenBy !== undefined) {
      launch.overriddenBy = overriddenBy;
      launch.fixedSource = `the drop-in ${overriddenBy}`;
    }
    return launch;
  }

  async status(): Promise<ServiceStatus> {
    const active = await this.systemctl(['is-active', this.unit], { check: false });
    const enabled = await this.systemctl(['is-enabled', this.unit], { check: false });
    const st: ServiceStatus = {
      active: active.stdout.trim() === 'active',
      enabled: ['enabled', 'enabled-runtime', 'static', 'indirect', 'generated', 'alias'].includes(enabled.stdout.trim()),
    };
    if (st.active) {
      const pid = await this.systemctl(['show', '-p', 'MainPID', '--value', this.unit], { check: false });
      const n = Number.parseInt(pid.stdout.trim(), 10);
      if (n > 0) st.pid = n;
    }
    return st;
  }

  async start(): Promise<void> {
    await this.systemctl(['start', this.unit]);
  }

  async stop(): Promise<void> {
    // Socket first: otherwise any client touching the socket re-activates dockerd.
    const units = (await this.hasSocketUnit()) ? [this.socketUnit, this.unit] : [this.unit];
    await this.systemctl(['stop', ...units]);
  }

  async restart(): Promise<void> {
    await this.systemctl(['restart', this.unit]);
  }

  async reload(): Promise<void> {
    const r = await this.systemctl(['reload', this.unit], { check: false });
    if (r.exitCode === 0) return;
    // A unit without ExecReload= ("Job type reload is not applicable"): signal the main process.
    await this.systemctl(['kill', '--signal=HUP', '--kill-whom=main', this.unit]);
  }

  async enable(): Promise<void> {
    const units = (await this.hasSocketUnit()) ? [this.unit, this.socketUnit] : [this.unit];
    await this.systemctl(['enable', ...units]);
  }

  async daemonReload(): Promise<void> {
    await this.systemctl(['daemon-reload']);
  }

  async resetFailed(): Promise<void> {
    await this.systemctl(['reset-failed', this.unit], { check: false });
  }

  async recentLog(lines: number): Promise<string> {
    const r = await this.opts.cmd.run('journalctl', ['-u', this.unit, '-n', String(lines), '--no-pager', '-o', 'cat'], { timeoutMs: 30_000 });
    return r.stdout;
  }

  private async hasSocketUnit(): Promise<boolean> {
    for (const d of UNIT_DIRS) if (await this.opts.fs.exists(`${d}/${this.socketUnit}`)) return true;
    return false;
  }

  private async systemctl(args: string[], o: { check?: boolean } = {}) {
    const r = await this.opts.cmd.run('systemctl', args, { timeoutMs: this.timeoutMs });
    if ((o.check ?? true) && r.exitCode !== 0) {
      const why = (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' ');
      throw new StepFailedError(
        `systemctl ${args.join(' ')} failed${r.timedOut ? ` (no answer within ${Math.round(this.timeoutMs / 1000)} s)` : ` (exit ${r.exitCode})`}${why ? `: ${why}` : ''}`,
        'ESYSTEMCTL',
      );
    }
    return r;
  }
}

/** -H/--host values in a flag list, in order. */
export function hostsOf(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-H' || a === '--host') {
      if (args[i + 1] !== undefined) out.push(args[++i]!);
    } else if (a.startsWith('-H=') || a.startsWith('--host=')) out.push(a.slice(a.indexOf('=') + 1));
    else if (a.startsWith('-H') && a.length > 2) out.push(a.slice(2));
  }
  return out;
}
