import { promises as fsp, constants as fsc, lstatSync, mkdirSync, type Stats } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { HandlerError } from '../errors.js';
import { READ_LIMITS, type FileStat, type FileSystem, type ReadOptions } from './ports.js';

/**
 * A file or folder the handler refuses to use as root: a link someone could have planted, a FIFO
 * or device, a file larger than its kind ever is, text that is not UTF-8, a folder others can
 * write. The message names the path and what is wrong; callers that know the file add what to do.
 */
export class UnsafePathError extends HandlerError {
  /** What is wrong, without the generic fix: callers that know the file say what to do instead. */
  readonly problem: string;
  constructor(problem: string, code: 'EUNSAFEFILE' | 'EFILETOOLARGE' | 'ENOTUTF8' | 'EUNSAFEFOLDER', opts: { fix?: string; cause?: unknown } = {}) {
    super(opts.fix ? `${problem}; ${opts.fix}` : problem, { code, category: 'system', cause: opts.cause });
    this.problem = problem;
  }
}

/**
 * node:fs rooted at `root`: every absolute path is resolved inside it, so the same code runs
 * against `/` on a VM and against a temporary directory in tests or a `--root` dry run.
 */
export class RootedFileSystem implements FileSystem {
  constructor(readonly root: string = '/') {}

  resolve(p: string): string {
    if (this.root === '/') return path.resolve(p);
    const rel = path.resolve('/', p);
    return path.join(this.root, rel);
  }

  async readText(p: string, opts?: ReadOptions): Promise<string | undefined> {
    const b = await this.readBytes(p, opts);
    return b === undefined ? undefined : b.toString('utf8');
  }

  async readBytes(p: string, opts?: ReadOptions): Promise<Buffer | undefined> {
    return readBounded(this.resolve(p), opts, p);
  }

  async stat(p: string): Promise<FileStat | undefined> {
    try {
      const s = await fsp.stat(this.resolve(p));
      return {
        mode: s.mode & 0o7777,
        uid: s.uid,
        gid: s.gid,
        size: s.size,
        mtimeMs: s.mtimeMs,
        isFile: s.isFile(),
        isDirectory: s.isDirectory(),
      };
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async list(dir: string): Promise<string[]> {
    try {
      return await fsp.readdir(this.resolve(dir));
    } catch (e) {
      if (isNotFound(e)) return [];
      throw e;
    }
  }

  async exists(p: string): Promise<boolean> {
    return (await this.stat(p)) !== undefined;
  }

  async writeAtomic(p: string, data: string | Buffer, mode: number): Promise<void> {
    const target = this.resolve(p);
    await assertSafeDir(path.dirname(target), path.dirname(p));
    await writeFileAtomic(target, data, mode).catch((e: unknown) => {
      throw writeError(e, 'write', p);
    });
  }

  async mkdirp(p: string, mode = 0o755): Promise<void> {
    await ensureSafeDir(this.resolve(p), mode, p).catch((e: unknown) => {
      throw writeError(e, 'create the folder', p);
    });
  }

  async remove(p: string): Promise<void> {
    await fsp.rm(this.resolve(p), { force: true, recursive: true }).catch((e: unknown) => {
      throw writeError(e, 'remove', p);
    });
  }

  async rename(from: string, to: string): Promise<void> {
    await fsp.rename(this.resolve(from), this.resolve(to)).catch((e: unknown) => {
      throw writeError(e, `rename ${from} to`, to);
    });
  }

  async chmod(p: string, mode: number): Promise<void> {
    await fsp.chmod(this.resolve(p), mode).catch((e: unknown) => {
      throw writeError(e, 'change the mode of', p);
    });
  }
}

const FILE_KIND: Array<[keyof Stats, string]> = [
  ['isFIFO', 'a FIFO'],
  ['isCharacterDevice', 'a character device'],
  ['isBlockDevice', 'a block device'],
  ['isSocket', 'a socket'],
  ['isDirectory', 'a directory'],
];

function kindOf(s: Stats): string {
  for (const [test, name] of FILE_KIND) if ((s[test] as () => boolean).call(s)) return name;
  return 'not a regular file';
}

/**
 * Reads a whole regular file of at most `maxBytes`, or undefined when it does not exist.
 * O_NOFOLLOW refuses a link at the last component (unless the caller allows one), O_NONBLOCK
 * keeps a FIFO from blocking the open, fstat on the descriptor (not the path) decides, and at
 * most maxBytes+1 bytes are read, so a file that grows or lies about its size is still bounded.
 * `shown` is the name used in messages (the path as the caller knows it, outside a --root).
 */
export async function readBounded(file: string, opts: ReadOptions = {}, shown = file): Promise<Buffer | undefined> {
  const limit = opts.maxBytes ?? READ_LIMITS.default;
  const flags = fsc.O_RDONLY | fsc.O_NONBLOCK | (opts.followLinks ? 0 : fsc.O_NOFOLLOW);
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(file, flags);
  } catch (e) {
    if (isNotFound(e)) return undefined;
    if (errCode(e) === 'ELOOP') {
      throw new UnsafePathError(`${shown} is a symbolic link; the handler runs as root and does not read through a link it did not make`, 'EUNSAFEFILE', {
        fix: `put the file itself there (or remove the link: rm ${shown}) and retry`,
        cause: e,
      });
    }
    throw e;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new UnsafePathError(`${shown} is ${kindOf(st)}, not a regular file`, 'EUNSAFEFILE', { fix: 'move it away and retry' });
    if (st.size > limit) throw tooLarge(shown, `${st.size} bytes`, limit);
    // Sized from fstat, grown only if the file grows while read, never past limit+1.
    let buf = Buffer.alloc(Math.min(st.size, limit) + 1);
    let got = 0;
    for (;;) {
      if (got === buf.length) {
        const bigger = Buffer.alloc(Math.min(buf.length * 2, limit + 1));
        buf.copy(bigger, 0, 0, got);
        buf = bigger;
      }
      const { bytesRead } = await fh.read(buf, got, buf.length - got, null);
      if (bytesRead === 0) break;
      got += bytesRead;
      if (got > limit) throw tooLarge(shown, 'it grew while read', limit);
    }
    return buf.subarray(0, got);
  } finally {
    await fh.close();
  }
}

function tooLarge(shown: string, size: string, limit: number): UnsafePathError {
  return new UnsafePathError(`${shown} is larger than the ${formatBytes(limit)} such a file may have (${size})`, 'EFILETOOLARGE', {
    fix: 'check what wrote it, remove or replace it, and retry',
  });
}

function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

/** UTF-8 text or a clear error: a replacement character silently changing a setting is worse. */
export function decodeUtf8(bytes: Buffer, shown: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (e) {
    throw new UnsafePathError(`${shown} is not valid UTF-8 text`, 'ENOTUTF8', { fix: 'write it again as UTF-8 and retry', cause: e });
  }
}

/**
 * A folder root writes into must be a real directory (lstat: a link would redirect the write),
 * owned by the user the handler runs as (root on a VM) and writable by nobody else, who could
 * otherwise plant a link or swap a file between our check and our write.
 */
export function checkSafeDir(dir: string, s: Stats, shown = dir): void {
  if (s.isSymbolicLink()) {
    throw new UnsafePathError(
      `${shown} is a symbolic link; the handler writes there as root and refuses to follow a link someone could have planted. ` +
        `Remove the link (rm ${shown}) and run the command again; the folder is recreated as a real directory.`,
      'EUNSAFEFOLDER',
    );
  }
  if (!s.isDirectory()) {
    throw new UnsafePathError(`${shown} is ${kindOf(s)}, not a directory; move it away and run the command again.`, 'EUNSAFEFOLDER');
  }
  const me = process.geteuid?.() ?? 0;
  if (s.uid !== me) {
    throw new UnsafePathError(
      `${shown} is owned by uid ${s.uid}, not by ${me === 0 ? 'root' : `uid ${me}`}, so another user could plant links in it; ` +
        `run chown ${me === 0 ? 'root:root' : me} ${shown} and retry.`,
      'EUNSAFEFOLDER',
    );
  }
  if ((s.mode & 0o022) !== 0) {
    throw new UnsafePathError(
      `${shown} is writable by group or others (mode ${(s.mode & 0o7777).toString(8).padStart(4, '0')}), so another user could plant links in it; ` +
        `run chmod go-w ${shown} and retry.`,
      'EUNSAFEFOLDER',
    );
  }
}

export async function assertSafeDir(dir: string, shown = dir): Promise<void> {
  checkSafeDir(dir, await fsp.lstat(dir), shown);
}

/** mkdir -p with `mode` for what it creates, then the safety check on the final folder. */
export async function ensureSafeDir(dir: string, mode: number, shown = dir): Promise<void> {
  try {
    await fsp.mkdir(dir, { recursive: true, mode });
  } catch (e) {
    // A dangling link or a file in the way (mkdir reports EEXIST or ENOENT): say which.
    const s = await fsp.lstat(dir).catch(() => undefined);
    if (s === undefined) throw e;
    checkSafeDir(dir, s, shown);
    return;
  }
  await assertSafeDir(dir, shown);
}

/** The same for the synchronous log openers. */
export function ensureSafeDirSync(dir: string, mode: number): void {
  try {
    mkdirSync(dir, { recursive: true, mode });
  } catch (e) {
    let s: Stats;
    try {
      s = lstatSync(dir);
    } catch {
      throw e;
    }
    checkSafeDir(dir, s);
    return;
  }
  checkSafeDir(dir, lstatSync(dir));
}

function errCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null ? (e as { code?: string }).code : undefined;
}

/**
 * The temp file is created with its final mode (O_EXCL, so a key is never briefly
 * world-readable), fsynced, then renamed over the target in the same directory.
 */
export async function writeFileAtomic(target: string, data: string | Buffer, mode: number): Promise<void> {
  const dir = path.dirname(target);
  const tmp = path.join(dir, `.${path.basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await fsp.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, mode);
  try {
    await fh.writeFile(data);
    await fh.chmod(mode); // umask may have narrowed the creation mode
    await fh.sync();
  } catch (e) {
    await fh.close();
    await fsp.rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  try {
    await fsp.rename(tmp, target);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
}

// What the admin can do about a failed write; anything else is passed on as it came.
const WRITE_ERRNO: Readonly<Record<string, string>> = {
  ENOSPC: 'the filesystem is full (ENOSPC); free space on it and retry',
  EDQUOT: 'the disk quota is exhausted (EDQUOT); free space on it and retry',
  EROFS: 'the filesystem is mounted read-only (EROFS); remount it read-write and retry',
  EACCES: 'permission denied (EACCES); the handler must run as root',
  EPERM: 'operation not permitted (EPERM); check the file and its folder for the immutable attribute (lsattr) and retry',
  EIO: 'an I/O error (EIO); check the disk (dmesg) and retry',
};

/** A failed write or create of a named file, saying why in the admin's terms. */
export class FileWriteError extends HandlerError {
  readonly errno: string;
  constructor(message: string, errno: string, cause: unknown) {
    super(message, { code: 'EFILEWRITE', category: 'system', cause });
    this.errno = errno;
  }
}

/** `e` as a FileWriteError naming `shown` when its errno is one an admin can act on. */
export function writeError(e: unknown, verb: string, shown: string): unknown {
  if (e instanceof HandlerError) return e;
  const code = errCode(e);
  const why = code === undefined ? undefined : WRITE_ERRNO[code];
  return why === undefined ? e : new FileWriteError(`cannot ${verb} ${shown}: ${why}`, code!, e);
}

export function isNotFound(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: string }).code === 'ENOENT';
}
