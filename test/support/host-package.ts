// The packaged handler run the way the agent runs it (scripts/handler.sh → the shipped Node
// runtime → dist/handler.cjs), installed into an agent tree made by makeAgentTree, against this
// machine's own root. For suites that drive the host's Docker: take lockHostDocker() first.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, utimesSync, writeFileSync, chmodSync } from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureRuntime } from '../../scripts/package-lib.mjs';
import type { AgentTree } from './agent-tree.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Lays the package out in the tree's extension directory, as the agent unpacks it. */
export function installPackage(t: AgentTree): void {
  for (const f of ['scripts/handler.sh', 'dist/handler.cjs', 'dist/monitor.cjs', 'dist/x509.cjs', 'HandlerManifest.json']) {
    mkdirSync(path.dirname(path.join(t.extDir, f)), { recursive: true });
    copyFileSync(path.join(ROOT, f), path.join(t.extDir, f));
  }
  // The shipped runtime (the pinned Node of the package), linked rather than copied (100 MB).
  const { node } = ensureRuntime('x64') as { node: string };
  mkdirSync(path.join(t.extDir, 'runtime/linux-x64'), { recursive: true });
  symlinkSync(node, path.join(t.extDir, 'runtime/linux-x64/node'));
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * `sh scripts/handler.sh <command>` with the agent's environment for one sequence number, with
 * core dumps on (soft limit raised to the hard one), so that the shim's turning them off shows.
 */
export function runPackaged(t: AgentTree, command: string, env: Record<string, string>): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      'prlimit',
      ['--core=unlimited:', 'sh', path.join(t.extDir, 'scripts/handler.sh'), command],
      { cwd: t.extDir, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', ...env }, timeout: 280_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The status file's status once it is final (not transitioning), or what it says at the deadline. */
export async function finalStatus(t: AgentTree, seq: number, timeoutMs: number): Promise<{ status: string; message: string; substatus: Array<{ name: string; status: string; formattedMessage: { message: string } }> } | undefined> {
  const file = path.join(t.extDir, 'status', `${seq}.status`);
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const st = JSON.parse(readFileSync(file, 'utf8'))[0].status;
      last = { status: st.status, message: st.formattedMessage.message, substatus: st.substatus ?? [] };
      if (st.status !== 'transitioning') return last;
    } catch {
      // not written yet, or being renamed into place
    }
    if (Date.now() > deadline) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** path → sha256 and mode of every entry under `dir` (links by their target text): what "byte-identical" compares. */
export function treeDigest(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (p: string): void => {
    let st;
    try {
      st = lstatSync(p);
    } catch {
      return;
    }
    const mode = (st.mode & 0o7777).toString(8);
    if (st.isDirectory()) {
      out[p] = `dir ${mode} ${st.uid}:${st.gid}`;
      for (const n of readdirSync(p).sort()) visit(path.join(p, n));
    } else if (st.isSymbolicLink()) out[p] = `link ${readlinkSync(p)}`;
    else out[p] = `file ${mode} ${st.uid}:${st.gid} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`;
  };
  visit(dir);
  return out;
}

/** GET /_ping on the host's Docker socket: true when dockerd answers OK. */
export function pingDocker(socketPath = '/var/run/docker.sock'): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ socketPath, path: '/_ping', timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(res.statusCode === 200 && body === 'OK'));
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
  });
}

/** The pid in /var/run/docker.pid when that process is alive. */
export function dockerdPid(): number | undefined {
  try {
    const pid = Number(readFileSync('/var/run/docker.pid', 'utf8').trim());
    return pid > 0 && existsSync(`/proc/${pid}`) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Pids of processes whose executable's name is `name` (dockerd, containerd). */
export function pidsOf(name: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (readFileSync(`/proc/${p}/comm`, 'utf8').trim() === name) out.push(Number(p));
    } catch {
      // gone
    }
  }
  return out;
}
