// A copied machine for `enable --dry-run --root <tree>`: what the dry run reads to plan (its
// os-release, dpkg database, systemd units and dockerd), so the plan depends on the tree only and
// neither this machine's dockerd nor its files are touched.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/os-release');

const stanza = (name: string, version: string) => `Package: ${name}\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\nVersion: ${version}\nDescription: x\n`;

/**
 * Writes under `root` a systemd machine with Debian's docker.io 20.10 installed, whose
 * /etc/os-release is test/fixtures/os-release/`osRelease`.
 */
export function makeDryRunTree(root: string, osRelease: string): void {
  const put = (p: string, text: string) => {
    mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
    writeFileSync(path.join(root, p), text);
  };
  put('/etc/os-release', readFileSync(path.join(FIXTURES, osRelease), 'utf8'));
  put('/lib/systemd/systemd', '');
  put('/lib/systemd/system/docker.service', '[Service]\nExecStart=/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock\n');
  put('/lib/systemd/system/docker.socket', '[Socket]\nListenStream=/run/docker.sock\n');
  put('/var/lib/dpkg/status', [stanza('dpkg', '1.21.22'), stanza('docker.io', '20.10.24+dfsg1-1+deb12u1+b6')].join('\n'));
  put('/usr/sbin/dockerd', '');
}
