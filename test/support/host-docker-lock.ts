import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';

// Suites that run the packaged handler against this machine's own root (/etc/docker, the
// dockerd the direct manager starts on /var/run/docker.sock) must not overlap: jest runs suites
// in parallel workers. They take this lock for their whole run. A lock whose holder died (a
// killed jest worker) is taken over, so one crash does not block every later run.

const LOCK_DIR = '/run/adx-host-docker.lock';
const OWNER = path.join(LOCK_DIR, 'owner');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Waits (up to `waitMs`) for the host's Docker to be free; returns the release function. */
export async function lockHostDocker(waitMs = 30 * 60_000): Promise<() => Promise<void>> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      await mkdir(LOCK_DIR);
      await writeFile(OWNER, String(process.pid));
      return async () => {
        await rm(LOCK_DIR, { recursive: true, force: true });
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = Number(await readFile(OWNER, 'utf8').catch(() => ''));
    // No owner yet: the holder is between mkdir and writeFile; wait for it like for any holder.
    if (holder > 0 && !alive(holder)) {
      await rm(LOCK_DIR, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`the host's Docker is still held by pid ${holder || '?'} (${LOCK_DIR}) after ${waitMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
