// The messages an admin at a shell reads, from the packaged entry point (dist/handler.cjs, built
// by the global setup) as a real process: a typo and an expired certificate in one refusal, a
// file's JSON error with its line and column, did-you-mean for the CLI, and a run without root.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { certsSetting, makeCertSet, makeExpiredCa, pem, type CertSet } from '../support/tls-certs.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const HANDLER = path.join(ROOT, 'dist/handler.cjs');
let dir: string;
let set: CertSet;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'admin-messages-'));
  chmodSync(dir, 0o755);
  set = makeCertSet(dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function handler(args: string[], opts: SpawnSyncOptions = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [HANDLER, ...args], { encoding: 'utf8', timeout: 60_000, cwd: dir, env: { PATH: '/usr/bin:/bin' }, ...opts });
  return { status: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
}

function file(name: string, content: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, content, { mode: 0o644 });
  return p;
}

describe('an admin at a shell', () => {
  test('the dry run refuses a typo and an expired certificate in one message', () => {
    const expired = makeExpiredCa(dir);
    const pub = file('pub.json', JSON.stringify({ docker: { port: 2376, optoins: ['--debug'] } }));
    const prot = file('prot.json', JSON.stringify({ certs: { ...certsSetting(set), ca: pem(expired.ca) } }));
    const r = handler(['enable', '--dry-run', '--public', pub, '--protected', prot, '--root', dir]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/unknown public setting "docker\.optoins"; did you mean "docker\.options"\?/);
    expect(r.stderr).toMatch(/"certs\.ca": the CA certificate CN=expired-ca expired on 2020-02-01/);
    expect(r.stderr).toMatch(/"certs\.cert" was not issued by the CA in "certs\.ca"/);
  });

  test('a settings file that is not JSON is named, with the line and column, and never quoted', () => {
    const prot = file('bad.json', '{\n  "login": {"password": "s3cret-value"\n  "username": "u"}\n}\n');
    const r = handler(['enable', '--dry-run', '--protected', prot]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`--protected ${prot}: not valid JSON at line 3, column 3 (expected "," or "}")`);
    expect(r.stderr + r.stdout).not.toContain('s3cret-value');
  });

  test('a mistyped option gets did-you-mean, an unrelated one the list', () => {
    expect(handler(['enable', '--dryrun']).stderr).toMatch(/^error: unknown option "--dryrun"; did you mean "--dry-run"\?/);
    expect(handler(['enable', '-g']).stderr).toMatch(/^error: unknown option "-g"; the options are --dry-run, --root, --public, --protected/);
  });

  const asRoot = process.getuid?.() === 0;
  (asRoot ? test : test.skip)('a run without root is told to use root', () => {
    // A tree only root may read, as /var/lib/waagent is on a VM.
    const tree = mkdtempSync(path.join(dir, 'root-only-'));
    chmodSync(tree, 0o700);
    const r = handler(['enable', '--dry-run', '--root', tree], { uid: 65534, gid: 65534 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/permission denied; the handler works on root's files .* run it as root: the Azure Linux Agent does, and by hand use sudo/);
  });
});
