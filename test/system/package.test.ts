// The shipped zip, checked the way the agent will meet it: unpacked by Python's zipfile (modes
// and symlinks lost), started through /bin/sh with a bare environment and no HOME.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  buildPackage, chmodAllFiles, NODE_RUNTIME_PINS, NODE_RUNTIME_VERSION, unpackLikeAgent,
} from '../../scripts/package-lib.mjs';

const ROOT = path.resolve(import.meta.dirname, '../..');
const EXPECTED_ENTRIES = [
  'HandlerManifest.json', 'LICENSES', 'VERSION', 'dist/handler.cjs', 'dist/monitor.cjs', 'dist/x509.cjs', 'runtime/linux-x64/node', 'scripts/handler.sh',
];
const VERBS = ['install', 'enable', 'disable', 'uninstall', 'update'];
// What the agent has under systemd, minus everything optional: no HOME, no LANG.
const BARE_ENV = ['env', '-i', 'PATH=/usr/bin:/bin'];

interface ZipEntry { name: string; mode: number; isSymlink: boolean; isRegular: boolean; compressType: number }

let work: string;
let zipPath: string;
let worstCase: string; // unpacked, then every file forced to 0644
let agentLike: string; // unpacked exactly like the agent (u+x added)

function listZip(zip: string): ZipEntry[] {
  const py = `
import json, stat, sys, zipfile
print(json.dumps([{"name": i.filename, "mode": stat.S_IMODE(i.external_attr >> 16),
  "isSymlink": stat.S_ISLNK(i.external_attr >> 16), "isRegular": stat.S_ISREG(i.external_attr >> 16),
  "compressType": i.compress_type} for i in zipfile.ZipFile(sys.argv[1]).infolist()]))`;
  return JSON.parse(execFileSync('python3', ['-c', py, zip], { encoding: 'utf8' }));
}

/** The shim as the agent runs it, with core dumps on (soft limit raised) so that turning them off shows. */
function runShim(extDir: string, args: string[], env: string[] = []) {
  return spawnSync('prlimit', ['--core=unlimited:', ...BARE_ENV, ...env, 'sh', path.join(extDir, 'scripts', 'handler.sh'), ...args], {
    cwd: extDir, encoding: 'utf8', timeout: 20_000,
  });
}

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'package-test-'));
  ({ zipPath } = await buildPackage({ outDir: path.join(work, 'out'), arch: 'x64', build: false }));
  worstCase = unpackLikeAgent(zipPath, path.join(work, 'worst'), { addUserExec: false });
  chmodAllFiles(worstCase, 0o644);
  agentLike = unpackLikeAgent(zipPath, path.join(work, 'agent'));
}, 180_000); // a cold runtime cache downloads ~50 MB from the registry

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('x64 handler zip', () => {
  test('is at most 30 MB, the runtime byte for byte the pinned one (its SHA-256 in scripts/node-runtime.json)', () => {
    expect(statSync(zipPath).size).toBeLessThanOrEqual(30_000_000);
    const runtime = readFileSync(path.join(agentLike, 'runtime/linux-x64/node'));
    expect(createHash('sha256').update(runtime).digest('hex')).toBe(NODE_RUNTIME_PINS.x64.nodeSha256);
  });

  test("the agent's own unzip (2.7.3's ExtHandlerInstance._unzip_extension_package) unpacks the LZMA runtime, which then runs", () => {
    const copy = path.join(work, 'agent-copy.zip');
    writeFileSync(copy, readFileSync(zipPath));
    const dest = path.join(work, 'agent-unzip');
    const out = execFileSync('/usr/bin/python3', [path.join(ROOT, 'test/support/agent/agent_unzip.py'), copy, dest], { encoding: 'utf8' });
    expect(out).toMatch(/^2\.7\.\d+\.\d+ ExtHandlerInstance\._unzip_extension_package$/m);
    expect(spawnSync('sh', [path.join(dest, 'scripts/handler.sh'), '--version'], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } }).stdout.trim()).toBe(JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version);
  });

  test('holds exactly the handler files at its root, all regular, compressed, shim and runtime 0755', () => {
    const entries = listZip(zipPath);
    expect(entries.map((e) => e.name).sort()).toEqual(EXPECTED_ENTRIES);
    for (const e of entries) {
      // the runtime LZMA (14), everything else deflated (8)
      expect(e).toMatchObject({ isSymlink: false, isRegular: true, compressType: e.name.startsWith('runtime/') ? 14 : 8 });
    }
    const modes = Object.fromEntries(entries.map((e) => [e.name, e.mode]));
    expect(modes['scripts/handler.sh']).toBe(0o755);
    expect(modes['runtime/linux-x64/node']).toBe(0o755);
  });

  test('HandlerManifest.json uses JSON booleans and names the shim for all five commands', () => {
    const [entry] = JSON.parse(readFileSync(path.join(agentLike, 'HandlerManifest.json'), 'utf8'));
    const m = entry.handlerManifest;
    for (const verb of VERBS) expect(m[`${verb}Command`]).toBe(`scripts/handler.sh ${verb}`);
    // The 2.7.3 agent treats any non-empty string, "false" included, as true.
    for (const key of ['rebootAfterInstall', 'reportHeartbeat', 'continueOnUpdateFailure', 'supportsMultipleExtensions']) {
      expect(typeof m[key]).toBe('boolean');
    }
    // The agent reads continueOnUpdateFailure from the NEW version's manifest: true lets an update from
    // DockerExtension 1.x go past its uninstall (apt-get purge docker-engine exits 100) to our install and enable.
    expect(m).toMatchObject({ reportHeartbeat: true, updateMode: 'UpdateWithInstall', supportsMultipleExtensions: false, continueOnUpdateFailure: true });
  });

  test('the packaged manifest carries signingInfo for this version and declares the monitor service', () => {
    const [entry] = JSON.parse(readFileSync(path.join(agentLike, 'HandlerManifest.json'), 'utf8'));
    const { version } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    expect(entry.signingInfo).toEqual({ type: 'DockerExtension', publisher: 'Microsoft.Azure.Extensions', version });
    expect(entry.resourceLimits.services).toEqual([{ name: 'azure-docker-extension-monitor.service', cpuQuotaPercentage: 10 }]);
  });

  test('VERSION matches package.json and LICENSES names Node.js', () => {
    const { version } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    expect(readFileSync(path.join(agentLike, 'VERSION'), 'utf8')).toBe(`${version}\n`);
    expect(readFileSync(path.join(agentLike, 'LICENSES'), 'utf8')).toContain(`Node.js ${NODE_RUNTIME_VERSION}`);
  });

  test(`the bundled runtime is Node.js v${NODE_RUNTIME_VERSION}`, () => {
    const out = execFileSync(path.join(agentLike, 'runtime', 'linux-x64', 'node'), ['--version'], { encoding: 'utf8' });
    expect(out.trim()).toBe(`v${NODE_RUNTIME_VERSION}`);
  });
});

describe('scripts/handler.sh in a package whose modes were all dropped to 0644', () => {
  test('starts the bundled runtime with a pinned environment and core dumps off, whatever the caller passed', () => {
    // Same tree, but with a probe in place of the handler so the shim's work is observable.
    const probeDir = path.join(work, 'probe');
    execFileSync('cp', ['-R', worstCase, probeDir]);
    chmodAllFiles(probeDir, 0o644);
    writeFileSync(path.join(probeDir, 'dist', 'handler.cjs'), `console.log(JSON.stringify({
      execPath: process.execPath, version: process.version, argv: process.argv.slice(2), umask: process.umask(),
      HOME: process.env.HOME, PATH: process.env.PATH, LANG: process.env.LANG, NODE_OPTIONS: process.env.NODE_OPTIONS,
      core: /^Max core file size\\s+(\\S+)\\s+(\\S+)/m.exec(require('fs').readFileSync('/proc/self/limits', 'utf8')).slice(1, 3) }));`);
    // A NODE_OPTIONS that reached node would make it fail on the missing module.
    const r = runShim(probeDir, ['enable', 'a b'], ['NODE_OPTIONS=--require=/nonexistent/inject.js']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const seen = JSON.parse(r.stdout);
    expect(seen).toMatchObject({
      execPath: realpathSync(path.join(probeDir, 'runtime', 'linux-x64', 'node')),
      version: `v${NODE_RUNTIME_VERSION}`,
      argv: ['enable', 'a b'],
      umask: 0o022,
      HOME: '/root',
      LANG: 'C.UTF-8',
    });
    // No core dumps before anything is decrypted: the soft limit, which the kernel applies, is 0;
    // the hard one is left for dockerd (see handler.sh).
    expect(seen.core[0]).toBe('0');
    expect(seen.NODE_OPTIONS).toBeUndefined();
    expect(seen.PATH.split(':')).toEqual(expect.arrayContaining(['/usr/sbin', '/sbin', '/usr/bin', '/bin']));
  });

  test('runs the real bundle without HOME', () => {
    const r = runShim(worstCase, ['no-such-verb']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/usage/i);
  });

  test('exits 3 with one line naming the architecture when the package has no runtime for it', () => {
    const fakeBin = path.join(work, 'fake-bin');
    mkdirSync(fakeBin, { recursive: true });
    writeFileSync(path.join(fakeBin, 'uname'), '#!/bin/sh\necho aarch64\n');
    chmodSync(path.join(fakeBin, 'uname'), 0o755);
    const r = spawnSync('env', ['-i', `PATH=${fakeBin}:/usr/bin:/bin`, 'sh', path.join(worstCase, 'scripts', 'handler.sh'), 'enable'], {
      cwd: worstCase, encoding: 'utf8',
    });
    expect(r.status).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain("'aarch64'");
    expect(r.stderr).toContain('linux-x64');
  });
});
