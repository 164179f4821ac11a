import {
  chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync,
  writeFileSync,
} from 'node:fs';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

// What suites that run the packaged handler against this machine's own root need to leave the
// machine as they found it: the process table, and a folder's exact state to put back.

export interface Proc { pid: number; comm: string; args: string }

/**
 * Every live process of this machine (zombies excluded), from /proc. Processes in another pid
 * namespace are a container's: the VM suites' VMs run their own dockerd and containerd, which
 * look like this machine's by name and command line, and must be neither counted nor stopped.
 */
export function procs(): Proc[] {
  const out: Proc[] = [];
  const ownNs = readlinkSync('/proc/self/ns/pid');
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readlinkSync(`/proc/${e}/ns/pid`) !== ownNs) continue;
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') continue;
      const args = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
      out.push({ pid: Number(e), comm: readFileSync(`/proc/${e}/comm`, 'utf8').trim(), args });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

export const dockerdPids = (): number[] => procs().filter((p) => p.comm === 'dockerd').map((p) => p.pid);

/**
 * The dockerds of this machine's own Docker: those on the default pid file (the direct manager's
 * `--pidfile /var/run/docker.pid`, or none given). The test sandboxes and the VM suites' dockerd
 * run at the same time with pid files of their own and are not counted.
 */
export const hostDockerdPids = (): number[] =>
  procs()
    .filter((p) => p.comm === 'dockerd' && (!/--pidfile[ =]/.test(p.args) || /--pidfile[ =]\/(var\/)?run\/docker\.pid( |$)/.test(p.args)))
    .map((p) => p.pid);

function gone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return true;
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function stopPid(pid: number, graceMs: number): Promise<void> {
  if (gone(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const until = Date.now() + graceMs;
  while (!gone(pid) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  if (!gone(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
    while (!gone(pid)) await new Promise((r) => setTimeout(r, 50));
  }
}

interface Entry { type: 'dir' | 'file' | 'link'; mode: number; uid: number; gid: number; mtimeNs: string; content?: string; target?: string }
/** Relative path ('' for the folder itself) to what it was: type, mode, owner, mtime, bytes. */
export type TreeSnapshot = Record<string, Entry>;

export function snapshotTree(root: string): TreeSnapshot {
  const snap: TreeSnapshot = {};
  const walk = (rel: string) => {
    const abs = path.join(root, rel);
    const st = lstatSync(abs);
    // to the nanosecond: a folder's mtime says whether anything was added or removed in it
    const base = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtimeNs: String(lstatSync(abs, { bigint: true }).mtimeNs) };
    if (st.isSymbolicLink()) snap[rel] = { type: 'link', ...base, target: readlinkSync(abs) };
    else if (st.isDirectory()) {
      snap[rel] = { type: 'dir', ...base };
      for (const e of readdirSync(abs).sort()) walk(path.join(rel, e));
    } else snap[rel] = { type: 'file', ...base, content: readFileSync(abs).toString('base64') };
  };
  if (existsSync(root)) walk('');
  return snap;
}

/** Puts `root` back to `snap`: removes what was added, rewrites what changed, modes, owners and mtimes included. */
export function restoreTree(root: string, snap: TreeSnapshot): void {
  const now = snapshotTree(root);
  for (const rel of Object.keys(now).sort().reverse()) {
    const was = snap[rel];
    if (!was || was.type !== now[rel]!.type || (was.type === 'link' && was.target !== now[rel]!.target)) rmSync(path.join(root, rel), { recursive: true, force: true });
  }
  const rels = Object.keys(snap).sort();
  for (const rel of rels) {
    const e = snap[rel]!;
    const abs = path.join(root, rel);
    if (e.type === 'dir') mkdirSync(abs, { recursive: true });
    else if (e.type === 'link') {
      if (!existsSync(abs)) symlinkSync(e.target!, abs);
      continue;
    } else if (!existsSync(abs) || readFileSync(abs).toString('base64') !== e.content) {
      rmSync(abs, { force: true });
      writeFileSync(abs, Buffer.from(e.content!, 'base64'), { mode: e.mode });
    }
    chownSync(abs, e.uid, e.gid);
    chmodSync(abs, e.mode);
  }
  // mtimes last, deepest first (restoring a file changes its folder's), only where they differ;
  // touch takes nanoseconds, which utimes() cannot.
  const after = snapshotTree(root);
  for (const rel of [...rels].reverse()) {
    const e = snap[rel]!;
    if (after[rel]?.mtimeNs === e.mtimeNs) continue;
    const ns = BigInt(e.mtimeNs);
    const stamp = `@${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, '0')}`;
    execFileSync('touch', ['-h', '-m', '-d', stamp, path.join(root, rel)]);
  }
}
