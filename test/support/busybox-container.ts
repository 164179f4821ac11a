// A container on an isolated test dockerd without any registry: Debian's busybox-static imported as
// an image, run with no restart policy (the containers that a dockerd restart would leave stopped
// without live-restore) and no network. Through the docker CLI, as an admin would look at it.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, copyFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

export const BUSYBOX = '/bin/busybox';
export const IMAGE = 'adx-test/busybox:1';

export function busyboxUnavailable(): string | undefined {
  return existsSync(BUSYBOX) ? undefined : `${BUSYBOX} missing (apt-get install busybox-static)`;
}

const docker = (socket: string, args: string[], input?: Buffer) =>
  spawnSync('docker', ['-H', `unix://${socket}`, ...args], { input, encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmpdir() } });

/** Debian's busybox-static as an image's file system (/bin/busybox only), for `docker import`. */
export function busyboxTar(): Buffer {
  const dir = mkdtempSync(path.join(tmpdir(), 'busybox-img-'));
  try {
    mkdirSync(path.join(dir, 'bin'));
    copyFileSync(BUSYBOX, path.join(dir, 'bin', 'busybox'));
    return execFileSync('tar', ['-C', dir, '-c', '.'], { maxBuffer: 64 * 1024 * 1024 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** That tar as a file in `dir` (for a VM: copied in, then `docker import` there). */
export function busyboxImageTar(dir: string): string {
  const file = path.join(dir, 'busybox.tar');
  writeFileSync(file, busyboxTar());
  return file;
}

/** Debian's busybox-static as the image IMAGE on the dockerd behind `socket` (no registry). */
export function importBusybox(socket: string): void {
  const imp = docker(socket, ['import', '-', IMAGE], busyboxTar());
  if (imp.status !== 0) throw new Error(`docker import failed: ${imp.stderr}`);
}

export function startSleeper(socket: string, name: string): void {
  importBusybox(socket);
  const run = docker(socket, ['run', '-d', '--name', name, '--network', 'none', IMAGE, '/bin/busybox', 'sleep', '86400']);
  if (run.status !== 0) throw new Error(`docker run failed: ${run.stderr}`);
}

export function containerState(socket: string, name: string): { running: boolean; startedAt: string; pid: number } {
  const r = docker(socket, ['inspect', '-f', '{{.State.Running}} {{.State.StartedAt}} {{.State.Pid}}', name]);
  if (r.status !== 0) throw new Error(`docker inspect failed: ${r.stderr}`);
  const [running, startedAt, pid] = r.stdout.trim().split(' ');
  return { running: running === 'true', startedAt: startedAt ?? '', pid: Number(pid) };
}

export function removeContainer(socket: string, name: string): void {
  docker(socket, ['rm', '-f', name]);
}
