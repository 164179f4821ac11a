// The arm64 package, which no machine of ours is, run under QEMU's user-mode emulation
// (test/support/arm64-emulator.ts) so that a broken arm64 build cannot land: unpacked the way
// the agent unpacks it, its own Node decrypts the openssl-made vectors, and its handler validates
// settings and prints the dry run's plan. Every answer is compared with the x64 package's for
// the same input: the two packages differ only in the runtime, so the texts must be identical.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { buildPackage, ensureCompressedRuntime, NODE_RUNTIME_PINS, NODE_RUNTIME_VERSION, unpackLikeAgent } from '../../scripts/package-lib.mjs';
import { makeAgentTree, type AgentTree } from '../support/agent-tree.js';
import { arm64EmulatorMissing, privateBinfmtMissing, QEMU_LD_PREFIX, runEmulated, withPrivateBinfmt } from '../support/arm64-emulator.js';
import { bundleDecryptDriver, makeDecryptCases, verdictsHere, type DecryptCase, type DriverAnswer } from '../support/decrypt-vectors.js';
import { makeDryRunTree } from '../support/dry-run-tree.js';
import { settingsError } from '../support/settings-error.js';
import { certsSetting, makeCertSet } from '../support/tls-certs.js';

const missing = arm64EmulatorMissing();
if (missing) console.warn(`arm64-package.test.ts skipped: ${missing}`);
const d = missing ? describe.skip : describe;
// The shim test alone needs a kernel that gives a namespace its own binfmt_misc.
const noBinfmt = missing ? undefined : privateBinfmtMissing();
if (noBinfmt) console.warn(`arm64-package.test.ts: the shim test is skipped: ${noBinfmt}`);

// What scripts/handler.sh pins before it starts Node (the emulated runs start Node directly).
const SHIM_ENV = { HOME: '/root', PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' };

let work: string;
let arm: string; // the arm64 zip, unpacked like the agent
let x64: string; // the x64 zip, likewise
let root: string; // the copied machine the dry runs plan against
let cases: DecryptCase[];
let driver: string;
let tree: AgentTree;
let goodPub: unknown;
let goodProt: unknown;

interface Answer { status: number | null; stdout: string; stderr: string }
const answer = (r: SpawnSyncReturns<string>): Answer => {
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};

/** The arm64 package's handler on its own runtime, under the emulator. */
function arm64Handler(args: string[], env: Record<string, string> = {}): Answer {
  return answer(runEmulated(path.join(arm, 'runtime/linux-arm64/node'), [path.join(arm, 'dist/handler.cjs'), ...args], { env: { ...SHIM_ENV, ...env } }));
}

/** The x64 package's handler through its shim, as the agent starts it. */
function x64Handler(args: string[], env: Record<string, string> = {}): Answer {
  const vars = Object.entries({ PATH: '/usr/bin:/bin', ...env }).map(([k, v]) => `${k}=${v}`);
  return answer(spawnSync('env', ['-i', ...vars, 'sh', path.join(x64, 'scripts/handler.sh'), ...args], { encoding: 'utf8', timeout: 60_000 }));
}

/** `enable --dry-run` arguments for these settings, written to files, planned against the copied machine. */
function dryRunArgs(name: string, pub: unknown, prot: unknown): string[] {
  const pubFile = path.join(work, `${name}.public.json`);
  const protFile = path.join(work, `${name}.protected.json`);
  writeFileSync(pubFile, JSON.stringify(pub));
  writeFileSync(protFile, JSON.stringify(prot));
  return ['enable', '--dry-run', '--public', pubFile, '--protected', protFile, '--root', root];
}

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

d('the arm64 package under emulation', () => {
  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'arm64-package-'));
    // The only suite that packages arm64: its LZMA runtime is made here (about two minutes on a
    // fresh clone), not in the global setup every run pays for.
    ensureCompressedRuntime('arm64');
    const out = path.join(work, 'out');
    arm = unpackLikeAgent((await buildPackage({ outDir: out, arch: 'arm64', build: false })).zipPath, path.join(work, 'arm64'));
    x64 = unpackLikeAgent((await buildPackage({ outDir: out, arch: 'x64', build: false })).zipPath, path.join(work, 'x64'));
    root = path.join(work, 'root');
    makeDryRunTree(root, 'debian-12');
    cases = await makeDecryptCases(work);
    driver = path.join(work, 'decrypt-driver.cjs');
    await bundleDecryptDriver(driver);
    const certs = makeCertSet(path.join(work, 'certs'));
    goodPub = { docker: { port: 2376, options: ['--log-opt max-size=10m'] } };
    goodProt = { certs: certsSetting(certs), login: { username: 'u', password: 'p€ss' } };
    tree = await makeAgentTree();
    await tree.writeSettings(1, goodPub, goodProt);
  }, 420_000); // a fresh clone also downloads the arm64 runtime and compresses it

  afterAll(async () => {
    await tree?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test(`carries only the pinned arm64 runtime, which starts as Node.js v${NODE_RUNTIME_VERSION} on arm64`, () => {
    expect(existsSync(path.join(arm, 'runtime/linux-x64'))).toBe(false);
    expect(sha256(path.join(arm, 'runtime/linux-arm64/node'))).toBe(NODE_RUNTIME_PINS.arm64.nodeSha256);
    // The rest of the package is the x64 package's, byte for byte.
    for (const f of ['HandlerManifest.json', 'VERSION', 'LICENSES', 'scripts/handler.sh', 'dist/handler.cjs', 'dist/monitor.cjs', 'dist/x509.cjs']) {
      expect(`${f} ${sha256(path.join(arm, f))}`).toBe(`${f} ${sha256(path.join(x64, f))}`);
    }
    const r = answer(runEmulated(path.join(arm, 'runtime/linux-arm64/node'), ['-p', 'process.version + " " + process.arch'], { env: SHIM_ENV }));
    expect(r).toEqual({ status: 0, stdout: `v${NODE_RUNTIME_VERSION} arm64\n`, stderr: '' });
  });

  test('decrypts the openssl-made protected-settings vectors exactly as Node 20 and the x64 runtime do', () => {
    const here = verdictsHere(cases);
    expect(here.slice(0, 3).every((v) => v.startsWith('ok:{'))).toBe(true);
    expect(here.slice(3, 6)).toEqual(['error:EKEYTRANSPORT', 'error:ENORECIPIENT', 'error:EBADASN1']);
    const input = JSON.stringify(cases);
    const arm64 = answer(runEmulated(path.join(arm, 'runtime/linux-arm64/node'), [driver], { env: SHIM_ENV, input }));
    const x64Runtime = answer(spawnSync(path.join(x64, 'runtime/linux-x64/node'), [driver], { env: SHIM_ENV, input, encoding: 'utf8' }));
    for (const [r, arch] of [[arm64, 'arm64'], [x64Runtime, 'x64']] as const) {
      expect(r.stderr).toBe('');
      expect(JSON.parse(r.stdout) as DriverAnswer).toEqual({ version: `v${NODE_RUNTIME_VERSION}`, arch, out: here });
    }
  });

  test('refuses bad settings with the same errors as x64, every problem at once, each naming the setting', () => {
    const bad: Array<{ name: string; pub: unknown; prot: unknown; names: string[] }> = [
      { name: 'typo', pub: { Dockr: { port: '2376' } }, prot: {}, names: ['Dockr', 'docker'] },
      {
        name: 'many',
        pub: { docker: { port: 99999, engine: { source: 'apt' } } },
        prot: { certs: { ca: 'not a certificate' }, login: { server: 'reg.io; curl evil', username: 'u', password: 'p' } },
        names: ['docker.port', 'docker.engine.source', 'certs.ca', 'certs.cert', 'certs.key', 'login.server'],
      },
    ];
    for (const { name, pub, prot, names } of bad) {
      const args = dryRunArgs(name, pub, prot);
      const a = arm64Handler(args);
      expect(a).toEqual(x64Handler(args));
      expect(a.status).not.toBe(0);
      // The message Node 20 gives in-process, naming every setting at fault.
      expect(a.stderr).toContain(settingsError(pub, prot));
      for (const n of names) expect(a.stderr).toContain(`"${n}"`);
      expect(a.stderr).not.toContain('curl evil');
    }
  });

  test('validates good settings and prints the same plan as x64', () => {
    const args = dryRunArgs('good', goodPub, goodProt);
    const a = arm64Handler(args);
    expect(a).toEqual(x64Handler(args));
    expect(a.status).toBe(0);
    expect(a.stdout).toContain('Settings from the files given: valid.');
    expect(a.stdout).toMatch(/^Plan:\n {2}1\. /m);
    expect(a.stdout).toContain('TCP 2376 with TLS client verification');
    expect(`${a.stdout}${a.stderr}`).not.toContain('p€ss');
  });

  test("dry run of the VM's configuration: decrypts its protected settings with the agent's key and plans as x64 does", () => {
    const env = tree.env(1);
    const args = ['enable', '--dry-run', '--root', root];
    const a = arm64Handler(args, env);
    expect(a).toEqual(x64Handler(args, env));
    expect(a.status).toBe(0);
    expect(a.stdout).toContain("Settings from this VM's configuration 1: valid.");
    // The plan from the decrypted settings is the plan from the same settings given in the clear.
    const planOf = (s: string) => s.slice(s.indexOf('Would configure:'));
    expect(planOf(a.stdout).replaceAll(tree.libDir, '/var/lib/waagent')).toBe(planOf(arm64Handler(dryRunArgs('good', goodPub, goodProt)).stdout));
  });

  // uname says aarch64 (the shim's only view of the machine), and the kernel starts arm64
  // executables through the emulator, in a namespace of this test's own.
  (noBinfmt ? test.skip : test)('scripts/handler.sh on an aarch64 machine starts the arm64 runtime, whose dry run is the x64 one', () => {
    const fakeBin = path.join(work, 'aarch64-bin');
    mkdirSync(fakeBin, { recursive: true });
    writeFileSync(path.join(fakeBin, 'uname'), '#!/bin/sh\necho aarch64\n');
    chmodSync(path.join(fakeBin, 'uname'), 0o755);
    const args = dryRunArgs('shim', goodPub, goodProt);
    const argv = withPrivateBinfmt(['env', '-i', `PATH=${fakeBin}:/usr/bin:/bin`, QEMU_LD_PREFIX, 'sh', path.join(arm, 'scripts/handler.sh'), ...args]);
    const a = answer(spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 120_000 }));
    expect(a).toEqual(x64Handler(args));
    expect(a.status).toBe(0);
  });
});
