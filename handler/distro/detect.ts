import { READ_LIMITS } from '../system/ports.js';
import { ConfigError } from '../errors.js';
import type { ReadFileSystem } from '../system/ports.js';
import { parseOsRelease, type OsRelease } from './os-release.js';

export type DistroId = 'ubuntu' | 'debian' | 'rhel' | 'almalinux' | 'rocky' | 'azurelinux' | 'mariner' | 'sles' | 'flatcar';
export type DistroFamily = 'debian' | 'rhel' | 'azurelinux' | 'suse' | 'flatcar';
export type PackageManagerKind = 'apt' | 'dnf' | 'tdnf' | 'zypper' | 'none';

export interface DistroInfo {
  id: DistroId;
  family: DistroFamily;
  /** PRETTY_NAME, for messages. */
  name: string;
  /** VERSION_ID as written ("22.04", "9.4", "3.0", "15.5"). */
  versionId: string;
  major: number;
  /** apt suite (jammy, bookworm); undefined outside the Debian family. */
  codename?: string;
  packageManager: PackageManagerKind;
}

interface Row {
  id: DistroId;
  label: string;
  family: DistroFamily;
  packageManager: PackageManagerKind;
  /** Matched against VERSION_ID (exact) or its major number; undefined: any version. */
  versions?: readonly string[];
  byMajor?: boolean;
}

/**
 * What this handler supports, as data: adding a release is one line here plus an os-release
 * fixture. IDs only, never ID_LIKE: a derivative (CentOS Stream, Oracle Linux, Mint) has its own
 * repositories and release cadence that nothing here was checked against.
 */
export const SUPPORTED_DISTROS: readonly Row[] = [
  { id: 'ubuntu', label: 'Ubuntu', family: 'debian', packageManager: 'apt', versions: ['20.04', '22.04', '24.04'] },
  { id: 'debian', label: 'Debian', family: 'debian', packageManager: 'apt', versions: ['11', '12', '13'], byMajor: true },
  { id: 'rhel', label: 'Red Hat Enterprise Linux', family: 'rhel', packageManager: 'dnf', versions: ['8', '9', '10'], byMajor: true },
  { id: 'almalinux', label: 'AlmaLinux', family: 'rhel', packageManager: 'dnf', versions: ['8', '9', '10'], byMajor: true },
  { id: 'rocky', label: 'Rocky Linux', family: 'rhel', packageManager: 'dnf', versions: ['8', '9', '10'], byMajor: true },
  { id: 'mariner', label: 'CBL-Mariner', family: 'azurelinux', packageManager: 'tdnf', versions: ['2'], byMajor: true },
  { id: 'azurelinux', label: 'Azure Linux', family: 'azurelinux', packageManager: 'tdnf', versions: ['3'], byMajor: true },
  { id: 'sles', label: 'SUSE Linux Enterprise Server', family: 'suse', packageManager: 'zypper', versions: ['15'], byMajor: true },
  { id: 'flatcar', label: 'Flatcar Container Linux', family: 'flatcar', packageManager: 'none' },
];

/**
 * Releases their vendors no longer update: refused by name, with the date, rather than as merely
 * "not supported", because the Go extension ran on them and admins move over from there. Matched
 * on ID and the major version (ubuntu: VERSION_ID). CentOS Stream shares ID=centos: its 8 ended
 * too, and its later versions stay refused as a derivative.
 */
export const END_OF_LIFE: readonly { id: string; version: string; label: string; ended: string }[] = [
  { id: 'centos', version: '6', label: 'CentOS Linux 6', ended: '2020-11-30' },
  { id: 'centos', version: '7', label: 'CentOS Linux 7', ended: '2024-06-30' },
  { id: 'centos', version: '8', label: 'CentOS 8 (Linux and Stream)', ended: '2024-05-31' },
  { id: 'rhel', version: '6', label: 'Red Hat Enterprise Linux 6', ended: '2020-11-30' },
  { id: 'rhel', version: '7', label: 'Red Hat Enterprise Linux 7', ended: '2024-06-30' },
  { id: 'ubuntu', version: '14.04', label: 'Ubuntu 14.04', ended: '2019-04-30' },
  { id: 'ubuntu', version: '16.04', label: 'Ubuntu 16.04', ended: '2021-04-30' },
  { id: 'ubuntu', version: '18.04', label: 'Ubuntu 18.04', ended: '2023-05-31' },
  { id: 'debian', version: '9', label: 'Debian 9', ended: '2022-06-30' },
  { id: 'debian', version: '10', label: 'Debian 10', ended: '2024-06-30' },
  { id: 'sles', version: '12', label: 'SUSE Linux Enterprise Server 12', ended: '2024-10-31' },
];

const CODENAMES: Record<string, string> = {
  'ubuntu:20.04': 'focal',
  'ubuntu:22.04': 'jammy',
  'ubuntu:24.04': 'noble',
  'debian:11': 'bullseye',
  'debian:12': 'bookworm',
  'debian:13': 'trixie',
};

export class UnsupportedDistroError extends ConfigError {
  constructor(message: string) {
    super(message, 'EDISTRO');
  }
}

export function supportedDistrosText(): string {
  return SUPPORTED_DISTROS.map((r) => (r.versions ? `${r.label} ${r.versions.join('/')}` : r.label)).join(', ');
}

/** Pure: os-release fields → DistroInfo, or UnsupportedDistroError naming what is supported. */
export function classifyDistro(os: OsRelease): DistroInfo {
  const id = (os.ID ?? '').toLowerCase();
  const versionId = os.VERSION_ID ?? '';
  const pretty = os.PRETTY_NAME || [os.NAME, os.VERSION].filter(Boolean).join(' ') || id || 'unknown';
  const eol = END_OF_LIFE.find((e) => e.id === id && e.version === (id === 'ubuntu' ? versionId : versionId.split('.')[0]));
  if (eol) {
    throw new UnsupportedDistroError(
      `"${pretty}" is past its vendor's end of life (${eol.label}: ${eol.ended}) and gets no more updates, so the Docker extension does not install or configure Docker on it. ` +
        `Move the workload to a VM with a supported distribution: ${supportedDistrosText()}.`,
    );
  }
  const row = SUPPORTED_DISTROS.find((r) => r.id === id);
  if (!row) {
    const like = os.ID_LIKE ? `, ID_LIKE=${os.ID_LIKE}` : '';
    throw new UnsupportedDistroError(
      `This Linux distribution is not supported: "${pretty}" (ID=${id || '(missing)'}${like}, VERSION_ID=${versionId || '(missing)'}). ` +
        `Supported: ${supportedDistrosText()}.`,
    );
  }
  const major = Number.parseInt(versionId.split('.')[0] ?? '', 10);
  if (row.versions) {
    const key = row.byMajor ? String(major) : versionId;
    if (!row.versions.includes(key)) {
      throw new UnsupportedDistroError(
        `${row.label} ${versionId || '(no VERSION_ID)'} is not supported: supported ${row.label} versions are ${row.versions.join(', ')}. ` +
          `All supported distributions: ${supportedDistrosText()}.`,
      );
    }
  }
  const info: DistroInfo = {
    id: row.id,
    family: row.family,
    name: pretty,
    versionId,
    major: Number.isNaN(major) ? 0 : major,
    packageManager: row.packageManager,
  };
  if (row.family === 'debian') {
    info.codename = os.VERSION_CODENAME || os.UBUNTU_CODENAME || CODENAMES[`${row.id}:${row.byMajor ? major : versionId}`];
  }
  return info;
}

/** /etc/os-release, falling back to /usr/lib/os-release as os-release(5) prescribes. */
export async function detectDistro(fs: ReadFileSystem): Promise<DistroInfo> {
  for (const p of ['/etc/os-release', '/usr/lib/os-release']) {
    // Distributions ship /etc/os-release as a link to /usr/lib/os-release.
    const text = await fs.readText(p, { followLinks: true, maxBytes: READ_LIMITS.small });
    if (text !== undefined) return classifyDistro(parseOsRelease(text));
  }
  throw new UnsupportedDistroError(
    `Cannot tell which Linux distribution this is: neither /etc/os-release nor /usr/lib/os-release exists. Supported: ${supportedDistrosText()}.`,
  );
}
