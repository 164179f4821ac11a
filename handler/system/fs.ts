import { promises as fsp, constants as fsc } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { FileStat, FileSystem } from './ports.js';

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

  async readText(p: string): Promise<string | undefined> {
    const b = await this.readBytes(p);
    return b === undefined ? undefined : b.toString('utf8');
  }

  async readBytes(p: string): Promise<Buffer | undefined> {
    try {
      return await fsp.readFile(this.resolve(p));
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
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
    await writeFileAtomic(this.resolve(p), data, mode);
  }

  async mkdirp(p: string, mode = 0o755): Promise<void> {
    await fsp.mkdir(this.resolve(p), { recursive: true, mode });
  }

  async remove(p: string): Promise<void> {
    await fsp.rm(this.resolve(p), { force: true, recursive: true });
  }

  async rename(from: string, to: string): Promise<void> {
    await fsp.rename(this.resolve(from), this.resolve(to));
  }

  async chmod(p: string, mode: number): Promise<void> {
    await fsp.chmod(this.resolve(p), mode);
  }
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

export function isNotFound(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: string }).code === 'ENOENT';
}
