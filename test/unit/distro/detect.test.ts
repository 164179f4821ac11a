import { describe, expect, test } from '@jest/globals';
import { readFileSync, mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseOsRelease } from '../../../handler/distro/os-release.js';
import { classifyDistro, detectDistro, UnsupportedDistroError } from '../../../handler/distro/detect.js';
import { RootedFileSystem } from '../../../handler/system/fs.js';

const fixture = (name: string) => readFileSync(new URL(`../../fixtures/os-release/${name}`, import.meta.url), 'utf8');
const classify = (name: string) => classifyDistro(parseOsRelease(fixture(name)));

describe('parseOsRelease', () => {
  test('quotes, escapes, comments and junk lines', () => {
    expect(parseOsRelease('# c\nID="rhel"\nNAME=\'A B\'\nX="say \\"hi\\""\nnot a line\nVERSION_ID=9.4\n')).toEqual({ ID: 'rhel', NAME: 'A B', X: 'say "hi"', VERSION_ID: '9.4' });
  });
});

describe('classifyDistro: every supported row from a recorded os-release', () => {
  test.each([
    ['ubuntu-20.04', 'ubuntu', 'debian', 'apt', 20, 'focal'],
    ['ubuntu-22.04', 'ubuntu', 'debian', 'apt', 22, 'jammy'],
    ['ubuntu-24.04', 'ubuntu', 'debian', 'apt', 24, 'noble'],
    ['debian-11', 'debian', 'debian', 'apt', 11, 'bullseye'],
    ['debian-12', 'debian', 'debian', 'apt', 12, 'bookworm'],
    ['debian-13', 'debian', 'debian', 'apt', 13, 'trixie'],
    ['rhel-8.10', 'rhel', 'rhel', 'dnf', 8, undefined],
    ['rhel-9.6', 'rhel', 'rhel', 'dnf', 9, undefined],
    ['rhel-10.0', 'rhel', 'rhel', 'dnf', 10, undefined],
    ['almalinux-8.10', 'almalinux', 'rhel', 'dnf', 8, undefined],
    ['almalinux-9.6', 'almalinux', 'rhel', 'dnf', 9, undefined],
    ['almalinux-10.0', 'almalinux', 'rhel', 'dnf', 10, undefined],
    ['rocky-8.10', 'rocky', 'rhel', 'dnf', 8, undefined],
    ['rocky-9.6', 'rocky', 'rhel', 'dnf', 9, undefined],
    ['rocky-10.0', 'rocky', 'rhel', 'dnf', 10, undefined],
    ['mariner-2.0', 'mariner', 'azurelinux', 'tdnf', 2, undefined],
    ['azurelinux-3.0', 'azurelinux', 'azurelinux', 'tdnf', 3, undefined],
    ['sles-15.6', 'sles', 'suse', 'zypper', 15, undefined],
    ['flatcar-4081.2.0', 'flatcar', 'flatcar', 'none', 4081, undefined],
  ])('%s', (file, id, family, pm, major, codename) => {
    const d = classify(file);
    expect(d).toMatchObject({ id, family, packageManager: pm, major });
    expect(d.codename).toBe(codename);
    expect(d.name).not.toBe('');
  });
});

describe('classifyDistro: unsupported', () => {
  test.each([
    ['centos-7', /^"CentOS Linux 7 \(Core\)" is past its vendor's end of life \(CentOS Linux 7: 2024-06-30\) and gets no more updates/],
    ['rhel-7.9', /^"Red Hat Enterprise Linux Server 7\.9 \(Maipo\)" is past its vendor's end of life \(Red Hat Enterprise Linux 7: 2024-06-30\)/],
    ['ubuntu-16.04', /^"Ubuntu 16\.04\.7 LTS" is past its vendor's end of life \(Ubuntu 16\.04: 2021-04-30\)/],
    ['ol-9.4', /ID=ol, ID_LIKE=fedora/],
    ['opensuse-leap-15.6', /ID=opensuse-leap/],
    ['ubuntu-18.04', /^"Ubuntu 18\.04\.6 LTS" is past its vendor's end of life \(Ubuntu 18\.04: 2023-05-31\)/],
  ])('%s is refused naming what is supported', (file, msg) => {
    let err: unknown;
    try {
      classify(file);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnsupportedDistroError);
    expect((err as Error).message).toMatch(msg);
    expect((err as Error).message).toMatch(/Ubuntu 20\.04\/22\.04\/24\.04, Debian 11\/12\/13, Red Hat Enterprise Linux 8\/9\/10, AlmaLinux 8\/9\/10, Rocky Linux 8\/9\/10, CBL-Mariner 2, Azure Linux 3, SUSE Linux Enterprise Server 15, Flatcar/);
  });
});

describe('classifyDistro: end of life', () => {
  test('CentOS Stream 9 (ID=centos, not past its end) stays refused as a derivative, not as end of life', () => {
    expect(() => classifyDistro(parseOsRelease('ID="centos"\nID_LIKE="rhel fedora"\nVERSION_ID="9"\nPRETTY_NAME="CentOS Stream 9"\n'))).toThrow(/This Linux distribution is not supported: "CentOS Stream 9"/);
  });
  test('a point release of an ended major is matched by its major (RHEL 7.4, Debian 10.13)', () => {
    expect(() => classifyDistro(parseOsRelease('ID="rhel"\nVERSION_ID="7.4"\n'))).toThrow(/end of life \(Red Hat Enterprise Linux 7: 2024-06-30\)/);
    expect(() => classifyDistro(parseOsRelease('ID=debian\nVERSION_ID="10"\n'))).toThrow(/end of life \(Debian 10: 2024-06-30\)/);
  });
  test('an ended release never reaches the version check of its distribution', () => {
    expect(() => classifyDistro(parseOsRelease('ID=ubuntu\nVERSION_ID="18.04"\n'))).not.toThrow(/supported Ubuntu versions are/);
  });
});

describe('detectDistro through the fs port', () => {
  const withRoot = async (files: Record<string, string>, fn: (fs: RootedFileSystem) => Promise<void>) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'distro-'));
    try {
      for (const [p, c] of Object.entries(files)) {
        mkdirSync(path.dirname(path.join(dir, p)), { recursive: true });
        writeFileSync(path.join(dir, p), c);
      }
      await fn(new RootedFileSystem(dir));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  test('/etc/os-release', () => withRoot({ '/etc/os-release': fixture('azurelinux-3.0') }, async (fs) => expect((await detectDistro(fs)).id).toBe('azurelinux')));
  test('falls back to /usr/lib/os-release', () => withRoot({ '/usr/lib/os-release': fixture('rocky-9.6') }, async (fs) => expect((await detectDistro(fs)).id).toBe('rocky')));
  test('neither file', () => withRoot({}, async (fs) => expect(detectDistro(fs)).rejects.toThrow(/neither \/etc\/os-release nor \/usr\/lib\/os-release/)));
});
