// `enable --dry-run --root <tree> --json` through the built bundle (dist/handler.cjs, as
// packaged): the plan is made from the tree alone. The tree is chosen to differ from this machine
// in every part the engine reads (another distribution, no engine installed where this machine has
// docker.io, systemd where this machine has none, its own daemon.json), so that anything taken
// from the live host would show in the report.
import { afterEach, beforeEach, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DryRunReportSchema } from '../../handler/lifecycle/dry-run-report.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const HANDLER = path.join(ROOT, 'dist/handler.cjs');

let dir: string;
let root: string;
const put = (p: string, text: string) => {
  mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
  writeFileSync(path.join(root, p), text);
};

function digest(d: string): string {
  const h = createHash('sha256');
  const walk = (p: string) => {
    for (const e of readdirSync(p, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const f = path.join(p, e.name);
      h.update(f);
      if (e.isDirectory()) walk(f);
      else if (e.isFile()) h.update(readFileSync(f));
    }
  };
  walk(d);
  return h.digest('hex');
}

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'dry-root-'));
  root = path.join(dir, 'tree');
  put('/etc/os-release', readFileSync(path.join(ROOT, 'test/fixtures/os-release/ubuntu-22.04'), 'utf8'));
  put('/lib/systemd/systemd', '');
  put('/var/lib/dpkg/status', 'Package: dpkg\nStatus: install ok installed\nPriority: required\nArchitecture: amd64\nVersion: 1.21.1ubuntu2\nDescription: x\n');
  put('/etc/docker/daemon.json', JSON.stringify({ debug: true, 'data-root': '/mnt/docker' }, null, 2));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test('--root plans from the tree only: its distribution, its packages (none), its systemd, its daemon.json; its dockerd taken as stopped; the tree unchanged', () => {
  const pub = path.join(dir, 'public.json');
  writeFileSync(pub, JSON.stringify({ docker: { options: ['--label', 'from=tree-test'] } }));
  const before = digest(root);
  const r = spawnSync(process.execPath, [HANDLER, 'enable', '--dry-run', '--public', pub, '--root', root, '--json'], { encoding: 'utf8', timeout: 60_000, env: { PATH: '/usr/bin:/bin' } });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const j = DryRunReportSchema.parse(JSON.parse(r.stdout));
  expect(j.root).toBe(root);
  const e = j.engine!;
  // This machine runs Debian 12 with docker.io installed and no systemd as PID 1.
  expect(e.distro).toEqual({ id: 'ubuntu', version: '22.04', name: 'Ubuntu 22.04.5 LTS', packageManager: 'apt' });
  expect(e.serviceManager).toBe('systemd');
  expect(e.engine).toMatchObject({ action: 'install', packages: ['docker.io'] });
  expect(e.engine.commands.join('\n')).toMatch(/apt-get .*install .*docker\.io/);
  expect(e.dockerd).toMatchObject({ action: 'start', containersStop: null });
  // The tree's own daemon.json: the admin's keys stay, only the label is added.
  expect(e.daemonJson.changes.map((c) => c.key)).toEqual(expect.arrayContaining(['labels']));
  expect(e.daemonJson.changes.find((c) => c.key === 'debug' || c.key === 'data-root')).toBeUndefined();
  expect(JSON.parse(e.daemonJson.content!)).toMatchObject({ debug: true, 'data-root': '/mnt/docker', labels: ['from=tree-test'] });
  expect(j.steps[0]).toMatch(/^install docker\.io with apt/);
  expect(digest(root)).toBe(before);
});

test('the text says that it planned against the tree only', () => {
  const r = spawnSync(process.execPath, [HANDLER, 'enable', '--dry-run', '--root', root], { encoding: 'utf8', timeout: 60_000, env: { PATH: '/usr/bin:/bin' } });
  expect(r.status).toBe(0);
  expect(r.stdout.split('\n')[0]).toBe(`Dry run: nothing on this machine is changed (planned against the tree ${root} only).`);
  expect(r.stdout).toMatch(/^Machine: Ubuntu 22\.04\.5 LTS \(ubuntu 22\.04, apt\); dockerd run by systemd$/m);
  expect(r.stdout).toMatch(/^Engine: would install docker\.io: /m);
  expect(r.stdout).toMatch(/^Containers: no dockerd runs, so no container runs$/m);
});
