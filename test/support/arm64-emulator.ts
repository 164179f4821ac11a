// The arm64 package's Node on this x64 machine, under QEMU's user-mode emulation (Debian's
// qemu-user-static, with the arm64 loader, libc and libstdc++ from libc6-arm64-cross and
// libstdc++6-arm64-cross; scripts/ensure-test-deps.sh installs them). The emulator is started
// explicitly with -L rather than through the kernel's binfmt_misc, which is global to the host,
// may be absent (no systemd here to register it) and is not ours to change; the one test that needs
// the kernel to start arm64 executables gets a binfmt_misc of its own (withPrivateBinfmt, below).
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync } from 'node:fs';

export const QEMU_AARCH64 = '/usr/bin/qemu-aarch64-static';
/** The arm64 root the emulator takes the dynamic loader and libraries from. */
export const AARCH64_PREFIX = '/usr/aarch64-linux-gnu';

/** Why arm64 binaries cannot run here, or undefined when they can. */
export function arm64EmulatorMissing(): string | undefined {
  const missing = [
    existsSync(QEMU_AARCH64) ? undefined : `${QEMU_AARCH64} (package qemu-user-static)`,
    existsSync(`${AARCH64_PREFIX}/lib/ld-linux-aarch64.so.1`) ? undefined : `${AARCH64_PREFIX}/lib/ld-linux-aarch64.so.1 (package libc6-arm64-cross)`,
    existsSync(`${AARCH64_PREFIX}/lib/libstdc++.so.6`) ? undefined : `${AARCH64_PREFIX}/lib/libstdc++.so.6 (package libstdc++6-arm64-cross)`,
  ].filter((m) => m !== undefined);
  return missing.length ? `no arm64 emulation here: missing ${missing.join(', ')}; run scripts/ensure-test-deps.sh as root` : undefined;
}

/** Runs the arm64 executable `program` with `args` under the emulator; the options are spawnSync's. */
export function runEmulated(
  program: string,
  args: readonly string[],
  opts: { env: Record<string, string>; input?: string },
): SpawnSyncReturns<string> {
  return spawnSync(QEMU_AARCH64, ['-L', AARCH64_PREFIX, program, ...args], { encoding: 'utf8', timeout: 120_000, ...opts });
}

// The ELF header of an aarch64 executable, as Debian's /usr/lib/binfmt.d/qemu-aarch64.conf matches it.
const AARCH64_MAGIC = String.raw`\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00`;
const AARCH64_MASK = String.raw`\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff`;
// In a new user and mount namespace (Linux 6.7 and later give each its own binfmt_misc), the
// emulator is registered for aarch64 executables there only, then the command runs: so an
// unchanged x64 /bin/sh script can exec an arm64 binary, as the shim does on an arm64 VM, while
// the host's binfmt_misc is left alone. QEMU_LD_PREFIX tells the emulator where the libraries are.
const IN_PRIVATE_BINFMT = `
mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || exit 125
printf '%s' ':adx-test-aarch64:M::${AARCH64_MAGIC}:${AARCH64_MASK}:${QEMU_AARCH64}:F' >/proc/sys/fs/binfmt_misc/register || exit 125
exec "$@"`;

/** For a command under withPrivateBinfmt: points the emulator that binfmt_misc starts at the arm64 libraries. */
export const QEMU_LD_PREFIX = `QEMU_LD_PREFIX=${AARCH64_PREFIX}`;

/** The argv that runs `command` where aarch64 executables start through the emulator. */
export function withPrivateBinfmt(command: readonly string[]): string[] {
  return ['unshare', '--user', '--map-root-user', '--mount', 'sh', '-c', IN_PRIVATE_BINFMT, 'sh', ...command];
}

/** Why no namespace of our own can have its own binfmt_misc here, or undefined when one can. */
export function privateBinfmtMissing(): string | undefined {
  const [file, ...args] = withPrivateBinfmt(['true']);
  const r = spawnSync(file!, args, { encoding: 'utf8' });
  if (r.status === 0) return undefined;
  const kernel = spawnSync('uname', ['-r'], { encoding: 'utf8' }).stdout.trim();
  return `no binfmt_misc of our own in a new user namespace (needs Linux 6.7 or later, this is ${kernel}, and user namespaces allowed): ${r.stderr.trim() || `exit ${r.status}`}`;
}
