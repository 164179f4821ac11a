// `enable --dry-run --root <tree>` plans entirely against the copied tree: its package database
// and its units, its dockerd taken as not running; never this machine's dpkg or dockerd.
import { afterEach, beforeEach, expect, test } from '@jest/globals';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseSettings } from '../../../handler/agent/settings.js';
import { makeApplier } from '../../../handler/lifecycle/make-applier.js';
import { silentLogger } from '../../../handler/log/logger.js';
import { parseDpkgStatus } from '../../../handler/system/tree.js';
import { ovfEnvXml } from '../../support/ovf-env.js';

let root: string;
const log = silentLogger();
const put = (p: string, text: string) => {
  mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
  writeFileSync(path.join(root, p), text);
};
const stanza = (name: string, status: string, version: string, arch = 'amd64') => `Package: ${name}\nStatus: ${status}\nPriority: optional\nArchitecture: ${arch}\nVersion: ${version}\nDescription: x\n continued line\n`;

beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'tree-'));
  put('/etc/os-release', readFileSync(new URL('../../fixtures/os-release/debian-12', import.meta.url), 'utf8'));
  put('/lib/systemd/systemd', '');
  put('/lib/systemd/system/docker.service', '[Service]\nExecStart=/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock\n');
  put('/lib/systemd/system/docker.socket', '[Socket]\nListenStream=/run/docker.sock\n');
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const plan = () => makeApplier({ root, log, dryRun: true, stateDir: '/var/lib/waagent/Microsoft.Azure.Extensions.DockerExtension' }).plan(parseSettings({}, {}), log).then((v) => v.lines);

test('the tree\'s installed docker.io and its stopped dockerd: configure, enable at boot and start; nothing installed', async () => {
  put('/var/lib/dpkg/status', [stanza('dpkg', 'install ok installed', '1.21.22'), stanza('docker.io', 'install ok installed', '20.10.24+dfsg1-1+deb12u1+b6')].join('\n'));
  put('/usr/sbin/dockerd', '');
  const lines = await plan();
  expect(lines.join('\n')).not.toMatch(/^install /m);
  expect(lines).toContain('enable dockerd: dockerd is not enabled at boot');
  expect(lines).toContain('start dockerd: dockerd is not running');
});

test('a tree without the engine (removed: config files only) plans its install, whatever this machine has', async () => {
  put('/var/lib/dpkg/status', [stanza('dpkg', 'install ok installed', '1.21.22'), stanza('docker.io', 'deinstall ok config-files', '20.10.24+dfsg1-1+deb12u1+b6')].join('\n'));
  // dpkg removed the package's own files (its units under /lib); /etc keeps its conffiles.
  rmSync(path.join(root, 'lib/systemd/system'), { recursive: true });
  const lines = await plan();
  expect(lines[0]).toMatch(/^install docker\.io .*with apt/);
});

test("the tree's admin user (its ovf-env.xml, its /etc/passwd) and a login: added to the group and logged in, in the plan only", async () => {
  put('/var/lib/dpkg/status', [stanza('dpkg', 'install ok installed', '1.21.22'), stanza('docker.io', 'install ok installed', '20.10.24+dfsg1-1+deb12u1+b6')].join('\n'));
  put('/usr/sbin/dockerd', '');
  put('/var/lib/waagent/ovf-env.xml', ovfEnvXml('azureuser'));
  put('/etc/passwd', 'root:x:0:0:root:/root:/bin/bash\nazureuser:x:1000:1000:,,,:/home/azureuser:/bin/bash\n');
  put('/etc/group', 'root:x:0:\ndocker:x:105:\n');
  const settings = parseSettings({}, { login: { server: 'myregistry.azurecr.io', username: 'bob', password: 'pa55word' } });
  const { lines } = await makeApplier({ root, log, dryRun: true, stateDir: '/var/lib/waagent/Microsoft.Azure.Extensions.DockerExtension' }).plan(settings, log);
  expect(lines).toContain("add azureuser to the docker group (usermod -aG docker azureuser): the VM's admin user (from the agent's provisioning file)");
  expect(lines).toContain('log in to myregistry.azurecr.io for root (credentials checked by dockerd, stored in /root/.docker/config.json): not logged in by the extension yet');
  expect(lines).toContain('log in to myregistry.azurecr.io for azureuser (credentials checked by dockerd, stored in /home/azureuser/.docker/config.json): not logged in by the extension yet');
  expect(lines.join('\n')).not.toMatch(/pa55word|bob/);
});

test('parseDpkgStatus reads the stanzas dpkg writes', () => {
  expect(parseDpkgStatus(`${stanza('a', 'install ok installed', '1')}\n${stanza('b', 'deinstall ok config-files', '2', 'all')}`)).toEqual([
    { name: 'a', status: 'install ok installed', version: '1', arch: 'amd64' },
    { name: 'b', status: 'deinstall ok config-files', version: '2', arch: 'all' },
  ]);
});

test('with "compose": the dry run ends with the compose steps (the tree\'s compose is not run: the distro\'s package planned), protected values unnamed', async () => {
  put('/var/lib/dpkg/status', [stanza('dpkg', 'install ok installed', '1.21.22'), stanza('docker.io', 'install ok installed', '20.10.24+dfsg1-1+deb12u1+b6')].join('\n'));
  put('/usr/sbin/dockerd', '');
  const settings = parseSettings({ compose: { web: { image: 'nginx' } }, 'compose-environment': { TAG: '1' } }, { environment: { DB_PASSWORD: 'hunter2' } });
  const { lines } = await makeApplier({ root, log, dryRun: true, stateDir: '/var/lib/waagent/Microsoft.Azure.Extensions.DockerExtension' }).plan(settings, log);
  const text = lines.join('\n');
  const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
  expect(at(/^install docker-compose with apt/)).toBeGreaterThan(at(/^verify /));
  expect(text).toMatch(/^write \/etc\/docker\/compose\/docker-compose\.yml \(mode 600, \d+ bytes, sha256 [0-9a-f]{12}\): the compose file is missing$/m);
  expect(text).toMatch(/^compose up -d project compose from \/etc\/docker\/compose\/docker-compose\.yml \(environment: COMPOSE_HTTP_TIMEOUT, COMPOSE_PROJECT_NAME, TAG and 1 protected variable\(s\)\): the compose project is new$/m);
  expect(text).toMatch(/compose file format v1/);
  expect(text).not.toMatch(/hunter2|DB_PASSWORD/);
});
