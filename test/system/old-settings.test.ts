// An old extension's template through the built bundle (dist/handler.cjs, as packaged), with
// `enable --dry-run --root <tree>`: the settings are validated and the plan made against a copied
// machine, so neither this machine's dockerd nor its files are touched.
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeDryRunTree, dryRunFiles } from '../support/dry-run-tree.js';

let dir: string;
let root: string;
const machine = (osRelease: string) => makeDryRunTree(root, osRelease);

function dryRun(pub: unknown, prot: unknown): { code: number | null; out: string } {
  writeFileSync(path.join(dir, 'public.json'), JSON.stringify(pub));
  writeFileSync(path.join(dir, 'protected.json'), JSON.stringify(prot));
  return dryRunFiles(path.join(dir, 'public.json'), path.join(dir, 'protected.json'), root);
}

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'old-settings-'));
  root = path.join(dir, 'root');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('an old extension\'s template through the bundle', () => {
  test('accepted in its old meaning: each old form named with what to write instead, -g planned as data-root', () => {
    machine('debian-12');
    const r = dryRun(
      { Docker: { port: '', options: ['-g /mnt/docker', '--disable-legacy-registry'] }, 'azure-environment': '' },
      { certs: { ca: '', cert: '', key: '' }, Login: { username: '', password: '' } },
    );
    expect(r.out).toContain('Settings from the files given: valid.');
    expect(r.code).toBe(0);
    for (const w of [
      'Warning: public setting "docker" is written "Docker": setting names are lower case; write "docker".',
      'Warning: public setting "docker.port" is an empty string, which is taken as not set: remove it.',
      'Warning: public setting "azure-environment" is an empty string, which is taken as not set: remove it.',
      'Warning: protected setting "certs" has no values (no TLS certificates, as the old extension took it): remove "certs".',
      'Warning: protected setting "login" is written with capitals: setting names are lower case; write "login".',
      'Warning: protected setting "login" has no username and password (no registry login, as the old extension took it): remove "login".',
      'warning: public setting "docker.options" has "-g", the old name of "--data-root", and is taken as such: write "--data-root=/mnt/docker"',
      'warning: public setting "docker.options" has "--disable-legacy-registry", which is left out',
    ]) {
      expect(r.out).toContain(w);
    }
    expect(r.out).toContain('local socket only');
    expect(r.out).not.toContain('Login');
  });

  test('a port with empty certs stays refused, saying what to add', () => {
    machine('debian-12');
    const r = dryRun({ docker: { port: '2375' } }, { certs: {} });
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('add to the protected settings "certs": {"ca": <CA certificate>, "cert": <server certificate>, "key": <its private key>}');
  });

  test('a typo stays an error with a suggestion', () => {
    machine('debian-12');
    const r = dryRun({ Dockr: { port: '2376' } }, {});
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('unknown public setting "Dockr"; did you mean "docker"?');
  });

  test.each([['centos-7', 'CentOS Linux 7: 2024-06-30'], ['ubuntu-18.04', 'Ubuntu 18.04: 2023-05-31'], ['rhel-7.9', 'Red Hat Enterprise Linux 7: 2024-06-30'], ['ubuntu-16.04', 'Ubuntu 16.04: 2021-04-30']])(
    '%s is refused as past its end of life, naming the supported distributions',
    (osRelease, ended) => {
      machine(osRelease);
      const r = dryRun({ docker: {} }, {});
      expect(r.code).not.toBe(0);
      expect(r.out).toContain(`past its vendor's end of life (${ended})`);
      expect(r.out).toMatch(/supported distribution: Ubuntu 20\.04\/22\.04\/24\.04, Debian 11\/12\/13/);
    },
  );
});
