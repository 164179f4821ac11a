// (integration) `handler.sh status` on a machine with a real dockerd (the sandbox, direct
// manager) and the real monitor process, run as an admin would: the packaged shim and bundle
// copied into the extension directory, started from another directory, without the agent's
// environment. The machines: installed but never enabled, serving as applied, and a daemon.json
// edited by hand. The text is compared whole, with the volatile parts (times, pids, ports,
// temporary paths, the engine's version, the fingerprint) normalised; the fingerprint itself is
// compared with openssl's.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { StatusReportSchema, type StatusReport } from '../../../handler/status/report.js';
import { dockerUnavailable, freePort } from '../../support/docker-daemon.js';
import { BUNDLE, makeMonitorRig, type MonitorRig } from '../../support/monitor-rig.js';
import { makeWaagentCertificate } from '../../support/openssl-vectors.js';
import { makeCa, makeLeaf, pem } from '../../support/tls-certs.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const skip = dockerUnavailable();
const d = skip ? describe.skip : describe;
if (skip) console.warn(`(integration) status tests skipped: ${skip}`);

d('(integration) handler.sh status against a real dockerd and the real monitor', () => {
  let work: string;
  let rig: MonitorRig;
  let port: number;
  let certs: { ca: string; cert: string; key: string };
  let certFile: string;

  /** The packaged layout the agent unpacks: scripts/handler.sh, dist/handler.cjs, runtime/linux-<arch>/node. */
  function installPackage(extDir: string): void {
    mkdirSync(path.join(extDir, 'scripts'), { recursive: true });
    mkdirSync(path.join(extDir, 'dist'), { recursive: true });
    copyFileSync(path.join(ROOT, 'scripts/handler.sh'), path.join(extDir, 'scripts/handler.sh'));
    copyFileSync(BUNDLE, path.join(extDir, 'dist/handler.cjs'));
    const arch = process.arch === 'arm64' ? 'arm64' : 'x64';
    mkdirSync(path.join(extDir, 'runtime', `linux-${arch}`), { recursive: true });
    symlinkSync(process.execPath, path.join(extDir, 'runtime', `linux-${arch}`, 'node'));
    writeFileSync(path.join(extDir, 'VERSION'), '2.0.0\n');
  }

  /** As an admin runs it: sh <ext>/scripts/handler.sh status, from /, with no agent variables. */
  function status(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AZURE_GUEST_AGENT_') && k !== 'ConfigSequenceNumber'));
    return new Promise((resolve) => {
      execFile('sh', [path.join(rig.tree.extDir, 'scripts/handler.sh'), 'status', ...args], { cwd: '/', env }, (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr });
      });
    });
  }

  async function statusJson(): Promise<StatusReport> {
    const r = await status('--json');
    return StatusReportSchema.parse(JSON.parse(r.stdout));
  }

  /** The volatile parts of the text, named. */
  function normalise(text: string): string {
    return text
      .split(rig.tree.root).join('<tree>')
      .split(rig.sb.dir).join('<sandbox>')
      .replace(/\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{3})?Z/g, '<time>')
      .replace(/(?:[0-9A-F]{2}:){31}[0-9A-F]{2}/g, '<fingerprint>')
      .replace(/\bpid \d+/g, 'pid <n>')
      .replace(/\(\d+ s ago\)/g, '(<n> s ago)')
      .replace(/\(\d+ days left\)/g, '(<n> days left)')
      .replace(new RegExp(`\\b${port}\\b`, 'g'), '<port>')
      .replace(/Docker \d+\.\d+\.\S+ \(API [\d.]+\)/g, 'Docker <version> (API <api>)')
      .replace(/Docker (Engine )?\d+\.\d+\.\S+ serves/g, 'Docker $1<version> serves')
      .trimEnd();
  }

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'status-it-'));
    const ca = makeCa(path.join(work, 'pki'), 'status-ca', 400);
    const leaf = makeLeaf(path.join(work, 'pki'), ca, 'server', { cn: 'localhost', san: 'IP:127.0.0.1,DNS:localhost', eku: 'serverAuth', days: 400 });
    certs = { ca: pem(ca.ca), cert: pem(leaf.cert), key: pem(leaf.key) };
    certFile = leaf.cert;
    rig = await makeMonitorRig(await makeWaagentCertificate(work), { version: '2.0.0' });
    installPackage(rig.tree.extDir);
    port = await freePort();
  }, 60_000);

  afterAll(async () => {
    await rig?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  }, 60_000);

  test('installed by the agent, never enabled: exit 4, "not enabled yet", where the logs are', async () => {
    const r = await status();
    expect(r.code).toBe(4);
    const lines = normalise(r.stdout).split('\n');
    expect(lines[0]).toBe(
      "Docker extension 2.0.0, <time>: Not enabled yet: the extension is installed in <tree>/var/lib/waagent/Microsoft.Azure.Extensions.DockerExtension-2.0.0 but has applied no configuration. The agent runs enable with the VM's settings; see <tree>/var/log/azure/Microsoft.Azure.Extensions.DockerExtension/handler.log.",
    );
    expect(lines).toContain('  Logs:         <tree>/var/log/azure/Microsoft.Azure.Extensions.DockerExtension/handler.log  (handler (every agent command, enable and uninstall work; JSON lines))');
    expect(lines.at(-1)).toBe('Exit code 4 (not-enabled).');
  }, 30_000);

  test('serving as applied: exit 0; the TLS port, the certificate (openssl\'s fingerprint), the engine, configuration 0, the monitor and its heartbeat', async () => {
    expect((await rig.enable(0, { docker: { port } }, { certs })).exitCode).toBe(0);
    await rig.waitHeartbeat((h) => h.status === 'Ready' && /serves .* Checked/.test(h.message), 20_000, 'Ready with what serves');
    const t0 = process.hrtime.bigint();
    const r = await status();
    // Printed, never asserted: the whole command (shim, Node start, reads, ping) as an admin waits for it.
    console.log(`status (shim + node + reads + ping), serving machine: ${Number(process.hrtime.bigint() - t0) / 1e6} ms`);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const ext = '<tree>/var/lib/waagent/Microsoft.Azure.Extensions.DockerExtension-2.0.0';
    const logs = '<tree>/var/log/azure/Microsoft.Azure.Extensions.DockerExtension';
    expect(normalise(r.stdout).split('\n')).toEqual(
      [
        'Docker extension 2.0.0, <time>: Configuration 0 serves as applied; the monitor keeps the heartbeat current.',
        '  Serves:       local socket <sandbox>/run/docker.sock; TCP 127.0.0.1:<port> with TLS, client certificates required (listening)',
        '  Certificate:  CN=localhost; names IP Address:127.0.0.1, DNS:localhost; valid until <time> (<n> days left); SHA-256 fingerprint <fingerprint> (compare: openssl x509 -noout -fingerprint -sha256 -in <sandbox>/root/etc/docker/cert.pem)',
        '  Engine:       Docker <version> (API <api>) answers',
        '  Applied:      configuration 0 at <time> by version 2.0.0: success (Docker Engine <version> serves the local socket and TLS on port <port>; started (dockerd is not running).)',
        '  Monitor:      running (pid <n>, since <time>)',
        expect.any(String),
        '  Drift:        none: the files the extension manages are as it left them',
        '  Last error:   none',
        `  Logs:         ${logs}/handler.log  (handler (every agent command, enable and uninstall work; JSON lines))`,
        `                ${logs}/monitor.log  (monitor (changes of state, drift, renewals; JSON lines))`,
        `                ${ext}/status/<seq>.status  (status the agent reads (one file per configuration))`,
        `                ${ext}/heartbeat.log  (heartbeat)`,
        '                <sandbox>/dockerd.log  (dockerd)',
        '                journalctl -u "azure-docker-extension-*"  (enable and uninstall work under systemd)',
        '                /var/log/waagent.log  (the Azure Linux Agent)',
        'Exit code 0 (ok).',
      ],
    );
    expect(normalise(r.stdout)).toMatch(/\n {2}Heartbeat: {4}Ready, written <time> \(<n> s ago\): Docker <version> serves <sandbox>\/run\/docker\.sock and TLS on port <port> .*Checked \d{4}-\d\d-\d\d /);
    const j = await statusJson();
    expect(j).toMatchObject({ state: 'ok', exitCode: 0, serves: { tcp: { port, tls: true, listening: true } }, applied: { seq: 0, result: 'success' }, monitor: { running: true }, drift: [] });
    // The fingerprint an admin compares is openssl's for the same certificate.
    const openssl = execFileSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256', '-in', certFile], { encoding: 'utf8' }).trim();
    expect(openssl.replace(/^sha256 Fingerprint=/i, '')).toBe(j.certificate!.fingerprintSha256);
    expect(j.engine.version).toMatch(/^\d+\.\d+/);
    // Nothing secret in either form.
    expect(r.stdout + JSON.stringify(j)).not.toContain(certs.key.split('\n')[1]!);
  }, 90_000);

  test('daemon.json edited by hand: exit 1, the drift names the file and the keys; status changes nothing', async () => {
    const file = rig.sb.fs.resolve('/etc/docker/daemon.json');
    const edited = { ...JSON.parse(readFileSync(file, 'utf8')), debug: true };
    writeFileSync(file, JSON.stringify(edited, null, 2));
    const r = await status();
    expect(r.code).toBe(1);
    const text = normalise(r.stdout);
    expect(text.split('\n')[0]).toBe('Docker extension 2.0.0, <time>: Needs attention (1 problem): changed outside the extension: <sandbox>/root/etc/docker/daemon.json was edited (key debug) (the next enable re-applies the settings)');
    expect(text).toContain('  Drift:        <sandbox>/root/etc/docker/daemon.json was edited (key debug)\n');
    expect((await statusJson()).drift).toEqual([{ path: file, kind: 'changed', summary: `${file} was edited (key debug)` }]);
    // read-only: the edit is still there
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(edited);
  }, 30_000);
});
