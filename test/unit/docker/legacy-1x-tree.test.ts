// The state DockerExtension 1.x leaves on a VM when the agent updates it to this version: its disable
// stopped dockerd (`systemctl stop docker`), its enable had rewritten the vendor unit's ExecStart in
// place and written its certificates and compose file. Our enable plans against that tree (dry run):
// it starts dockerd again, overrides 1.x's ExecStart with its drop-in, and says what it did with each
// leftover.
import { afterEach, beforeEach, expect, test } from '@jest/globals';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseSettings } from '../../../handler/agent/settings.js';
import { makeApplier } from '../../../handler/lifecycle/make-applier.js';
import { silentLogger } from '../../../handler/log/logger.js';

let root: string;
const log = silentLogger();
const put = (p: string, text: string) => {
  mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
  writeFileSync(path.join(root, p), text);
};
const stanza = (name: string, version: string) => `Package: ${name}\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\nVersion: ${version}\nDescription: x\n`;
const LEGACY_EXECSTART = 'ExecStart=/usr/sbin/dockerd -H=fd:// --tlsverify --tlscacert=/etc/docker/ca.pem --tlscert=/etc/docker/cert.pem --tlskey=/etc/docker/key.pem -H=0.0.0.0:2376';

beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'legacy-tree-'));
  put('/etc/os-release', readFileSync(new URL('../../fixtures/os-release/debian-12', import.meta.url), 'utf8'));
  put('/lib/systemd/systemd', '');
  put('/lib/systemd/system/docker.service', `[Service]\n${LEGACY_EXECSTART}\n`);
  put('/lib/systemd/system/docker.socket', '[Socket]\nListenStream=/run/docker.sock\n');
  put('/var/lib/dpkg/status', [stanza('dpkg', '1.21.22'), stanza('docker.io', '20.10.24+dfsg1-1+deb12u1+b6')].join('\n'));
  put('/usr/sbin/dockerd', '');
  for (const f of ['ca.pem', 'cert.pem', 'key.pem']) put(`/etc/docker/${f}`, `1.x ${f}\n`);
  put('/etc/docker/compose/docker-compose.yml', '{"web": {"image": "nginx"}}');
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const plan = (pub: Record<string, unknown>) =>
  makeApplier({ root, log, dryRun: true, stateDir: '/var/lib/waagent/Microsoft.Azure.Extensions.DockerExtension' }).plan(parseSettings(pub, {}), log).then((v) => v.lines);

test('no certs in the settings: dockerd started again without 1.x\'s listener, its certificate files removed, its compose file kept; each said', async () => {
  const text = (await plan({})).join('\n');
  expect(text).toMatch(/^start dockerd: dockerd is not running$/m);
  expect(text).toMatch(/10-azure-docker-extension\.conf/);
  for (const f of ['ca.pem', 'cert.pem', 'key.pem']) expect(text).toMatch(new RegExp(`^remove /etc/docker/${f.replace('.', '\\.')}`, 'm'));
  expect(text).toMatch(/warning: DockerExtension 1\.x had rewritten ExecStart in \/lib\/systemd\/system\/docker\.service; the extension's drop-in replaces it; its listener tcp:\/\/0\.0\.0\.0:2376 is no longer served/);
  expect(text).toMatch(/warning: \/etc\/docker\/compose\/docker-compose\.yml, the compose file DockerExtension 1\.x wrote, is kept as it is/);
  expect(text).not.toMatch(/remove \/etc\/docker\/compose/);
});
