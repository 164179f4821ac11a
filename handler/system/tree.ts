// A `--root` dry run plans against a copied tree (an image, a mounted disk), never against the
// machine it runs on: the package state comes from the tree's own package database, and its
// dockerd is taken as not running (nothing runs in a tree). These are the read ports for that.
import { StepFailedError } from '../errors.js';
import type { CommandResult, CommandRunner, ReadFileSystem, RunOptions } from './ports.js';
import type { DaemonLaunch, ServiceManager, ServiceStatus } from './service-manager.js';
import { SystemdServiceManager } from './systemd-manager.js';

const DOCKERD_CANDIDATES = ['/usr/bin/dockerd', '/usr/sbin/dockerd', '/usr/local/bin/dockerd'];

interface DpkgEntry {
  name: string;
  status: string;
  version: string;
  arch: string;
}

/** The stanzas of a dpkg status file (/var/lib/dpkg/status). */
export function parseDpkgStatus(text: string): DpkgEntry[] {
  const out: DpkgEntry[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const field = (k: string) => new RegExp(`^${k}:[ \\t]*(.*)$`, 'm').exec(stanza)?.[1]?.trim() ?? '';
    const name = field('Package');
    if (name !== '') out.push({ name, status: field('Status'), version: field('Version'), arch: field('Architecture') });
  }
  return out;
}

/** dpkg's db:Status-Abbrev for the states queryInstalled reads ("install ok installed" is "ii "). */
function statusAbbrev(status: string): string {
  const [want, , state] = status.split(/\s+/);
  const w = { install: 'i', hold: 'h', deinstall: 'r', purge: 'p', unknown: 'u' }[want ?? ''] ?? 'u';
  const s = { installed: 'i', 'config-files': 'c', 'half-installed': 'H', unpacked: 'U', 'half-configured': 'F', 'not-installed': 'n', 'triggers-awaited': 'W', 'triggers-pending': 't' }[state ?? ''] ?? 'n';
  return `${w}${s} `;
}

/**
 * Answers the engine's read-only queries from the tree: dpkg-query and
 * `dpkg --print-architecture` from <root>/var/lib/dpkg/status, rpm with `--root`, `getent
 * passwd|group` from its /etc/passwd and /etc/group. Anything else (an install) is refused: a dry
 * run changes nothing, and a tree has no running system to ask.
 */
export class TreePackageQueries implements CommandRunner {
  constructor(
    private readonly fs: ReadFileSystem,
    private readonly root: string,
    private readonly real: CommandRunner,
  ) {}

  async run(file: string, args: readonly string[], opts?: RunOptions): Promise<CommandResult> {
    const ok = (stdout: string, exitCode = 0): CommandResult => ({ exitCode, stdout, stderr: '', timedOut: false });
    if (file === 'dpkg-query' || (file === 'dpkg' && args[0] === '--print-architecture')) {
      // dpkg's database grows with every package installed: several MiB on a busy server.
      const db = parseDpkgStatus((await this.fs.readText('/var/lib/dpkg/status', { maxBytes: 64 * 1024 * 1024 })) ?? '');
      if (file === 'dpkg') {
        const arch = db.find((e) => e.name === 'dpkg')?.arch;
        return arch ? ok(`${arch}\n`) : ok('', 1);
      }
      const names = args.filter((a) => !a.startsWith('-'));
      const rows = db.filter((e) => names.includes(e.name)).map((e) => `${e.name}\t${statusAbbrev(e.status)}\t${e.version}\n`);
      return ok(rows.join(''), rows.length > 0 ? 0 : 1);
    }
    if (file === 'getent' && (args[0] === 'passwd' || args[0] === 'group') && args.length === 2) {
      // The VM's admin user and the docker group, as the tree's own files have them.
      const line = ((await this.fs.readText(`/etc/${args[0]}`, { maxBytes: 16 * 1024 * 1024 })) ?? '').split('\n').find((l) => l.split(':')[0] === args[1]);
      return line === undefined ? ok('', 2) : ok(`${line}\n`);
    }
    if (file === 'rpm') return this.real.run('rpm', ['--root', this.root, ...args], opts);
    // The processor's architecture: the tree is planned for the machine that will run it.
    if (file === 'uname') return this.real.run(file, args, opts);
    throw new StepFailedError(`a dry run against ${this.root} does not run ${file}`, 'EDRYRUN');
  }
}

/**
 * The tree's service manager, taken as stopped: systemd when the tree has systemd (its units are
 * read from the tree), else dockerd started directly. Every effect is refused.
 */
export async function treeServiceManager(fs: ReadFileSystem, root: string, cmd: CommandRunner): Promise<ServiceManager> {
  const systemd = (await fs.exists('/lib/systemd/systemd')) || (await fs.exists('/usr/lib/systemd/systemd')) || (await fs.exists('/run/systemd/system'));
  const units = systemd ? new SystemdServiceManager({ fs, cmd }) : undefined;
  const refuse = async (): Promise<never> => {
    throw new StepFailedError(`a dry run against ${root} changes nothing`, 'EDRYRUN');
  };
  return {
    kind: systemd ? 'systemd' : 'direct',
    description: `${systemd ? 'docker.service' : 'dockerd'} in the tree at ${root} (taken as not running)`,
    spec: undefined,
    async inspect(): Promise<DaemonLaunch> {
      if (units) return units.inspect();
      let dockerdPath: string | undefined;
      for (const c of DOCKERD_CANDIDATES) if (dockerdPath === undefined && (await fs.exists(c))) dockerdPath = c;
      return {
        manager: 'direct',
        replaceableArgs: [],
        fixedArgs: ['--pidfile', '/var/run/docker.pid'],
        fixedSource: 'the arguments the direct service manager passes to dockerd',
        socketActivated: false,
        socketPath: '/var/run/docker.sock',
        installed: dockerdPath !== undefined,
        notes: [],
        ...(dockerdPath !== undefined ? { dockerdPath } : {}),
      };
    },
    async status(): Promise<ServiceStatus> {
      return { active: false, enabled: false };
    },
    start: refuse,
    stop: refuse,
    restart: refuse,
    reload: refuse,
    enable: refuse,
    daemonReload: refuse,
    resetFailed: refuse,
    async recentLog(): Promise<string> {
      return '';
    },
  };
}
