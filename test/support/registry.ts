// A real registry for tests (Debian's docker-registry, the distribution registry 2.x) on
// 127.0.0.1 (or another address of this machine, e.g. the test VMs' bridge, which VMs reach),
// behind TLS with a CA made at test time (the address in the certificate's names) and htpasswd
// (bcrypt) authentication. A dockerd trusts it through <its /etc/docker>/certs.d/<host:port>/ca.crt
// (trustRegistry). An image built from busybox-static is pushed to it either through a dockerd
// (pushBusybox, with a docker client configuration of its own, so the client the test examines
// starts logged out) or, with no dockerd at hand, over the registry's HTTP API (uploadBusybox).
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as https from 'node:https';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { BUSYBOX, busyboxTar, busyboxUnavailable } from './busybox-container.js';
import { dockerUnavailable, freePort } from './docker-daemon.js';
import { makeCa, makeLeaf } from './tls-certs.js';

export const REGISTRY_BIN = '/usr/bin/docker-registry';

export function registryUnavailable(): string | undefined {
  if (!existsSync(REGISTRY_BIN)) return `${REGISTRY_BIN} missing (apt-get install docker-registry; scripts/ensure-test-deps.sh)`;
  if (!hasHtpasswd()) return 'htpasswd missing (apt-get install apache2-utils)';
  return undefined;
}

function hasHtpasswd(): boolean {
  return spawnSync('htpasswd', ['-h'], { stdio: 'ignore' }).error === undefined;
}

/**
 * Why the suites that log in to this registry as a real admin user and run the host's compose
 * against a sandboxed dockerd cannot run here, or undefined.
 */
export function loginSuiteUnavailable(): string | undefined {
  return (
    dockerUnavailable() ??
    busyboxUnavailable() ??
    registryUnavailable() ??
    (spawnSync('useradd', ['--help'], { stdio: 'ignore' }).error ? 'useradd missing' : undefined) ??
    (existsSync('/usr/bin/docker-compose') ? undefined : 'docker-compose missing (scripts/ensure-test-deps.sh)')
  );
}

export interface TestRegistry {
  /** host:port, as `docker login` and image names take it. */
  host: string;
  port: number;
  caPem: string;
  dir: string;
  stop(): Promise<void>;
}

/** A bcrypt htpasswd line; the password goes to htpasswd on stdin (-i), not on its command line. */
function htpasswdLine(user: string, password: string): string {
  return execFileSync('htpasswd', ['-niB', user], { input: password, encoding: 'utf8' }).trim();
}

/**
 * Starts the registry; `users` are the accounts it accepts. It listens on `address` (an IPv4
 * address of this machine; default 127.0.0.1), which its certificate names.
 */
export async function startRegistry(users: Record<string, string>, opts: { address?: string } = {}): Promise<TestRegistry> {
  const address = opts.address ?? '127.0.0.1';
  const dir = mkdtempSync(path.join(tmpdir(), 'adx-registry-'));
  let child: ChildProcess | undefined;
  try {
    const ca = makeCa(path.join(dir, 'tls'), 'registry-ca');
    const leaf = makeLeaf(path.join(dir, 'tls'), ca, 'registry', { cn: address, san: `IP:${address}`, eku: 'serverAuth' });
    writeFileSync(path.join(dir, 'htpasswd'), `${Object.entries(users).map(([u, p]) => htpasswdLine(u, p)).join('\n')}\n`, { mode: 0o600 });
    const port = await freePort();
    // The registry's configuration, every path its own (nothing under /etc/docker or /var/lib).
    writeFileSync(
      path.join(dir, 'config.yml'),
      [
        'version: 0.1',
        'log: {level: warn}',
        `storage: {filesystem: {rootdirectory: ${path.join(dir, 'data')}}, delete: {enabled: true}}`,
        `http: {addr: "${address}:${port}", tls: {certificate: ${leaf.cert}, key: ${leaf.key}}}`,
        `auth: {htpasswd: {realm: adx-test, path: ${path.join(dir, 'htpasswd')}}}`,
        '',
      ].join('\n'),
    );
    child = spawn(REGISTRY_BIN, ['serve', path.join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    const caPem = readFileSync(ca.ca, 'utf8');
    await waitUnauthorized(address, port, caPem, child, () => stderr);
    const proc = child;
    return {
      host: `${address}:${port}`,
      port,
      caPem,
      dir,
      stop: async () => {
        if (proc.exitCode === null && proc.signalCode === null) {
          let timer: NodeJS.Timeout | undefined;
          const gone = new Promise((r) => proc.once('exit', r));
          proc.kill('SIGTERM');
          await Promise.race([gone, new Promise((r) => (timer = setTimeout(r, 5_000)))]);
          clearTimeout(timer);
          if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
        }
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

/** Up when /v2/ answers 401 (authentication required) over TLS verified against its CA. */
async function waitUnauthorized(address: string, port: number, ca: string, child: ChildProcess, stderr: () => string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited (${child.exitCode}): ${stderr()}`);
    const status = await new Promise<number | undefined>((resolve) => {
      const req = https.get({ host: address, port, path: '/v2/', ca, timeout: 2_000 }, (res) => {
        res.resume();
        resolve(res.statusCode);
      });
      req.on('error', () => resolve(undefined));
      req.on('timeout', () => req.destroy());
    });
    if (status === 401) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`docker-registry did not answer on ${address}:${port}: ${stderr()}`);
}

/** The dockerd whose /etc/docker is `etcDocker` trusts the registry's CA (read at each pull, no restart). */
export function trustRegistry(etcDocker: string, reg: TestRegistry): void {
  const d = path.join(etcDocker, 'certs.d', reg.host);
  mkdirSync(d, { recursive: true });
  writeFileSync(path.join(d, 'ca.crt'), reg.caPem);
}

/**
 * Builds an image from busybox-static and pushes it as <host>/<name> with a docker client
 * configuration of its own (deleted afterwards); the local copy is removed, so a later pull must
 * come from the registry. Returns the image reference.
 */
export function pushBusybox(socket: string, reg: TestRegistry, user: string, password: string, name = 'adx-test/busybox:1'): string {
  const ref = `${reg.host}/${name}`;
  const cfg = mkdtempSync(path.join(tmpdir(), 'adx-push-cfg-'));
  const build = mkdtempSync(path.join(tmpdir(), 'adx-push-img-'));
  const docker = (args: string[], input?: string | Buffer) => {
    const r = spawnSync('docker', ['--config', cfg, '-H', `unix://${socket}`, ...args], { input, encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
    if (r.status !== 0) throw new Error(`docker ${args[0]} failed: ${r.stderr}`);
    return r.stdout;
  };
  try {
    mkdirSync(path.join(build, 'bin'));
    copyFileSync(BUSYBOX, path.join(build, 'bin', 'busybox'));
    docker(['import', '-', ref], execFileSync('tar', ['-C', build, '-c', '.'], { maxBuffer: 64 * 1024 * 1024 }));
    docker(['login', '--username', user, '--password-stdin', reg.host], password);
    docker(['push', ref]);
    docker(['rmi', ref]);
  } finally {
    rmSync(cfg, { recursive: true, force: true });
    rmSync(build, { recursive: true, force: true });
  }
  return ref;
}

/** One request to the registry, authenticated as `user`; resolves with the status and headers. */
function registryRequest(
  reg: TestRegistry,
  auth: string,
  method: string,
  pathOrUrl: string,
  body?: Buffer,
  contentType = 'application/octet-stream',
): Promise<{ status: number; location?: string; text: string }> {
  const url = new URL(pathOrUrl, `https://${reg.host}`);
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method,
        ca: reg.caPem,
        timeout: 60_000,
        headers: { Authorization: `Basic ${auth}`, ...(body ? { 'Content-Type': contentType, 'Content-Length': body.length } : { 'Content-Length': 0 }) },
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text = (text + d.toString()).slice(0, 4000)));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, text }));
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`${method} ${url.pathname}: no answer in 60 s`)));
    req.end(body);
  });
}

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/**
 * The image pushBusybox makes (busybox-static as /bin/busybox, one layer), uploaded over the
 * registry's HTTP API as a docker client pushes it (blob uploads, then a schema-2 manifest), for
 * when no dockerd on this machine can push: a dockerd trusts a registry only through its own
 * /etc/docker. Returns the image reference.
 */
export async function uploadBusybox(reg: TestRegistry, user: string, password: string, name = 'adx-test/busybox:1'): Promise<string> {
  const [repo, tag] = name.split(':') as [string, string];
  const auth = Buffer.from(`${user}:${password}`).toString('base64');
  const tar = busyboxTar();
  const layer = gzipSync(tar);
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const config = Buffer.from(JSON.stringify({ architecture: arch, os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [sha256(tar)] } }));
  for (const blob of [layer, config]) {
    const start = await registryRequest(reg, auth, 'POST', `/v2/${repo}/blobs/uploads/`);
    if (start.status !== 202 || !start.location) throw new Error(`registry upload of ${name} refused (${start.status}): ${start.text}`);
    const put = await registryRequest(reg, auth, 'PUT', `${start.location}${start.location.includes('?') ? '&' : '?'}digest=${sha256(blob)}`, blob);
    if (put.status !== 201) throw new Error(`registry upload of a blob of ${name} failed (${put.status}): ${put.text}`);
  }
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: config.length, digest: sha256(config) },
      layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: layer.length, digest: sha256(layer) }],
    }),
  );
  const m = await registryRequest(reg, auth, 'PUT', `/v2/${repo}/manifests/${tag}`, manifest, 'application/vnd.docker.distribution.manifest.v2+json');
  if (m.status !== 201) throw new Error(`registry refused the manifest of ${name} (${m.status}): ${m.text}`);
  return `${reg.host}/${name}`;
}
