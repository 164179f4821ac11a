// (integration) `enable --dry-run` against a real dockerd (the sandbox, direct manager), for the
// machines an admin has: a fresh engine (no daemon.json, dockerd stopped), a foreign daemon.json
// with dockerd running without live-restore, and a machine the extension already configured.
// Each: the whole text compared with its volatile parts normalised, the JSON parsed by its
// schema, and nothing on the machine changed (files byte for byte, dockerd's pid).
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { runApp, type AppDeps } from '../../../handler/app.js';
import { parseSettings } from '../../../handler/agent/settings.js';
import { DryRunReportSchema, type DryRunReport } from '../../../handler/lifecycle/dry-run-report.js';
import { engineApplier } from '../../../handler/lifecycle/make-applier.js';
import { silentLogger } from '../../../handler/log/logger.js';
import { createSandbox, dockerUnavailable, freePort, waitPing, type Sandbox } from '../../support/docker-daemon.js';
import { certsSetting, makeCertSet, type CertSet } from '../../support/tls-certs.js';

const skip = dockerUnavailable();
const d = skip ? describe.skip : describe;
if (skip) console.warn(`(integration) dry-run tests skipped: ${skip}`);

/** path → sha256 and mode of every file under `dir`: what "changes nothing" compares. */
function treeOf(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (p: string) => {
    if (!existsSync(p)) return;
    for (const e of readdirSync(p, { withFileTypes: true })) {
      const f = path.join(p, e.name);
      if (e.isDirectory()) walk(f);
      else if (e.isFile()) out[f] = `${createHash('sha256').update(readFileSync(f)).digest('hex')} ${statSync(f).mode.toString(8)}`;
    }
  };
  walk(dir);
  return out;
}

d('(integration) enable --dry-run shows everything, against a real dockerd', () => {
  let sb: Sandbox;
  let port: number;
  let certs: CertSet;
  let pubFile: string;
  let protFile: string;
  const applier = () => engineApplier(async () => sb.ports(), { stateDir: sb.stateDir, layout: sb.layout });
  const deps = (): AppDeps => ({ env: {}, codeDir: path.join(sb.dir, 'no-agent'), entryScript: '/nonexistent', makeApplier: applier });

  async function dryRun(json = false): Promise<{ code: number; out: string; err: string }> {
    const r = await runApp(['enable', '--dry-run', '--public', pubFile, '--protected', protFile, ...(json ? ['--json'] : [])], deps());
    return { code: r.exitCode, out: r.stdout ?? '', err: r.stderr ?? '' };
  }

  async function report(): Promise<DryRunReport> {
    return DryRunReportSchema.parse(JSON.parse((await dryRun(true)).out));
  }

  function normalise(text: string): string {
    return text
      .split(sb.dir).join('<sandbox>')
      .replace(new RegExp(`\\b${port}\\b`, 'g'), '<port>')
      .replace(/(?:[0-9A-F]{2}:){31}[0-9A-F]{2}/g, '<fingerprint>')
      .replace(/\d{4}-\d\d-\d\d/g, '<date>')
      .replace(/docker\.io \S+ is already installed/, 'docker.io <version> is already installed')
      .replace(/, \d+ bytes, /g, ', <n> bytes, ')
      .replace(/sha256 [0-9a-f]{12}/g, 'sha256 <hash>')
      .replace(/^(Machine: ).*(; dockerd run by)/m, '$1<this machine>$2');
  }

  /** Runs the dry run and proves it changed nothing. */
  async function unchanged<T>(f: () => Promise<T>): Promise<T> {
    // The machine's files, the extension's records among them (sb.stateDir is under sb.root); dockerd's own log and data are its business.
    const files = () => treeOf(sb.root);
    const before = files();
    const pid = sb.pid();
    const out = await f();
    expect(files()).toEqual(before);
    expect(sb.pid()).toBe(pid);
    return out;
  }

  beforeAll(async () => {
    sb = createSandbox();
    certs = makeCertSet(path.join(sb.dir, 'pki'));
    port = await freePort();
    pubFile = path.join(sb.dir, 'pub.json');
    protFile = path.join(sb.dir, 'prot.json');
    writeFileSync(pubFile, JSON.stringify({ docker: { port, options: ['--log-opt', 'max-size=10m'] } }));
    writeFileSync(protFile, JSON.stringify({ certs: certsSetting(certs) }));
  }, 60_000);

  afterAll(async () => {
    await sb?.cleanup();
  }, 60_000);

  test('fresh engine (no daemon.json, dockerd stopped): the whole file it would write, the certificate, a start that stops nothing', async () => {
    const r = await unchanged(() => dryRun());
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const text = normalise(r.out);
    const lines = text.split('\n');
    // Everything between the settings summary and the numbered plan (which the unit suites cover).
    expect(lines.slice(3, lines.indexOf('Plan:') + 1).join('\n')).toBe(
      `Machine: <this machine>; dockerd run by the extension itself (no systemd: direct manager)
Engine: docker.io <version> is already installed; kept
Certificate (from certs.cert): CN=localhost; names IP Address:127.0.0.1, DNS:localhost; valid until <date>; issued by CN=test-ca; SHA-256 fingerprint <fingerprint>
/etc/docker/daemon.json: would be written
    keys that change (old → new):
      log-opts: (not set) → {"max-size":"10m"}
      live-restore: (not set) → true
      tlsverify: (not set) → true
      tlscacert: (not set) → "<sandbox>/root/etc/docker/ca.pem"
      tlscert: (not set) → "<sandbox>/root/etc/docker/cert.pem"
      tlskey: (not set) → "<sandbox>/root/etc/docker/key.pem"
      hosts: (not set) → ["unix://<sandbox>/run/docker.sock","tcp://127.0.0.1:<port>"]
    the whole file it would write:
      {
        "log-opts": {
          "max-size": "10m"
        },
        "live-restore": true,
        "tlsverify": true,
        "tlscacert": "<sandbox>/root/etc/docker/ca.pem",
        "tlscert": "<sandbox>/root/etc/docker/cert.pem",
        "tlskey": "<sandbox>/root/etc/docker/key.pem",
        "hosts": [
          "unix://<sandbox>/run/docker.sock",
          "tcp://127.0.0.1:<port>"
        ]
      }
/etc/systemd/system/docker.service.d/10-azure-docker-extension.conf: none needed
/etc/docker/ca.pem: would be written (mode 644, SHA-256 fingerprint <fingerprint>): CA certificate is missing
/etc/docker/cert.pem: would be written (mode 644, SHA-256 fingerprint <fingerprint>): server certificate is missing
/etc/docker/key.pem: would be written (mode 600, secret, no hash shown): server private key is missing
dockerd: start (dockerd is not running)
Containers: no dockerd runs, so no container runs
Plan:`,
    );
    const j = await report();
    expect(j.engine!.dockerd).toEqual({ action: 'start', reasons: ['dockerd is not running'], containersStop: null, containers: 'no dockerd runs, so no container runs', liveRestoreHandover: false });
    expect(j.engine!.certificate!.fingerprintSha256).toBe(createHash('sha256').update(Buffer.from(readFileSync(certs.serverCert, 'utf8').replace(/-----[^-]+-----|\s/g, ''), 'base64')).digest('hex').toUpperCase().match(/../g)!.join(':'));
    expect(r.out + JSON.stringify(j)).not.toContain(readFileSync(certs.serverKey, 'utf8').split('\n')[1]!);
  }, 60_000);

  test('foreign daemon.json, dockerd running without live-restore: the admin\'s keys kept, old → new per key, and the restart WOULD stop containers', async () => {
    writeFileSync(sb.fs.resolve('/etc/docker/daemon.json'), JSON.stringify({ debug: true, 'log-level': 'warn', hosts: [`unix://${sb.socket}`] }, null, 2));
    await sb.services.start();
    await waitPing(sb.socket);
    const r = await unchanged(() => dryRun());
    expect(r.code).toBe(0);
    const text = normalise(r.out);
    expect(text).toContain(`/etc/docker/daemon.json: would be written
    keys that change (old → new):
      hosts: ["unix://<sandbox>/run/docker.sock"] → ["unix://<sandbox>/run/docker.sock","tcp://127.0.0.1:<port>"]
      log-opts: (not set) → {"max-size":"10m"}
      live-restore: (not set) → true
      tlsverify: (not set) → true
`);
    expect(text).toMatch(/\n {6}\{\n {8}"debug": true,\n {8}"log-level": "warn",\n/);
    expect(text).toMatch(/\ndockerd: restart \(.*hosts changed.*\)\nContainers: WOULD STOP: the running dockerd has live-restore off, so its restart stops every container \(those with a restart policy start again\)\n/);
    const j = await report();
    expect(j.engine!.daemonJson.changes.find((c) => c.key === 'debug')).toBeUndefined();
    expect(j.engine!.dockerd).toMatchObject({ action: 'restart', containersStop: true });
  }, 60_000);

  test('already configured by the extension: nothing to write, no restart, containers keep running', async () => {
    const log = silentLogger();
    await applier().apply(parseSettings(JSON.parse(readFileSync(pubFile, 'utf8')), JSON.parse(readFileSync(protFile, 'utf8'))), { log, onProgress: () => undefined, signal: new AbortController().signal });
    const r = await unchanged(() => dryRun());
    expect(r.code).toBe(0);
    const text = normalise(r.out);
    expect(text).toContain('\n/etc/docker/daemon.json: unchanged\n    its settings (the file keeps its own formatting):\n');
    expect(text).not.toMatch(/would be written/);
    expect(text).toContain('\ndockerd: no restart, no reload\nContainers: keep running (dockerd is not restarted)\nPlan:\n  1. verify GET /_ping');
    const j = await report();
    expect(j.engine!.daemonJson).toMatchObject({ action: 'unchanged', changes: [] });
    expect(j.engine!.files).toEqual([]);
    expect(j.engine!.dockerd).toMatchObject({ action: 'none', containersStop: false });
  }, 90_000);

  test('settings enable would refuse: exit 3, the error in the text and in the JSON, nothing planned', async () => {
    const bad = path.join(sb.dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ docker: { port: 'nope' } }));
    const r = await runApp(['enable', '--dry-run', '--public', bad, '--json'], deps());
    expect(r.exitCode).toBe(3);
    const j = DryRunReportSchema.parse(JSON.parse(r.stdout!));
    expect(j).toMatchObject({ ok: false, engine: null, steps: [] });
    expect(j.error).toMatch(/docker\.port/);
  });
});
