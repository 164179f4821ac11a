// A copied machine for `enable --dry-run --root <tree>`: what the dry run reads to plan (its
// os-release, dpkg database, systemd units and dockerd), so the plan depends on the tree only and
// neither this machine's dockerd nor its files are touched; and the built bundle's dry run against it.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURES = path.join(ROOT, 'test/fixtures/os-release');
const HANDLER = path.join(ROOT, 'dist/handler.cjs');

const stanza = (name: string, version: string) => `Package: ${name}\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\nVersion: ${version}\nDescription: x\n`;

/**
 * Writes under `root` a systemd machine with Debian's docker.io 20.10 installed (or, with
 * `engine: false`, no Docker engine at all), whose /etc/os-release is test/fixtures/os-release/`osRelease`.
 */
export function makeDryRunTree(root: string, osRelease: string, opts: { engine?: boolean } = {}): void {
  const put = (p: string, text: string) => {
    mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
    writeFileSync(path.join(root, p), text);
  };
  put('/etc/os-release', readFileSync(path.join(FIXTURES, osRelease), 'utf8'));
  put('/lib/systemd/systemd', '');
  if (opts.engine === false) {
    put('/var/lib/dpkg/status', stanza('dpkg', '1.21.22'));
    return;
  }
  put('/lib/systemd/system/docker.service', '[Service]\nExecStart=/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock\n');
  put('/lib/systemd/system/docker.socket', '[Socket]\nListenStream=/run/docker.sock\n');
  put('/var/lib/dpkg/status', [stanza('dpkg', '1.21.22'), stanza('docker.io', '20.10.24+dfsg1-1+deb12u1+b6')].join('\n'));
  put('/usr/sbin/dockerd', '');
}

/** Runs the dry run with the settings files given; its exit code and its stdout and stderr together. */
export function dryRunFiles(publicFile: string, protectedFile: string, root: string): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [HANDLER, 'enable', '--dry-run', '--public', publicFile, '--protected', protectedFile, '--root', root], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { PATH: '/usr/bin:/bin' },
  });
  return { code: r.status, out: `${r.stdout}\n${r.stderr}` };
}
