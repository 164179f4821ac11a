import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtemp, readFile, readdir, rm, stat, unlink, cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { runApp, type AppDeps } from '../../handler/app.js';
import { WORKER_VERB } from '../../handler/cli/args.js';
import type { Applier } from '../../handler/lifecycle/context.js';
import type { MonitorSupervisor } from '../../handler/monitor/supervisor.js';
import { addVersion, makeAgentTree, type AgentTree } from '../support/agent-tree.js';
import { inProcessWork } from '../support/in-process-work.js';
import { makeWaagentCertificate, type WaagentCertificate } from '../support/openssl-vectors.js';
import { exampleSettings } from '../../handler/demo/example-settings.js';

// The whole agent contract in-process: real files in a temp /var/lib/waagent, real CMS
// protected settings made by openssl, the worker run in-process instead of detached. The
// applier records calls instead of touching Docker (that is the engine suites' job).

interface Recorder extends Applier {
  applied: number;
  removed: number;
}

function recordingApplier(fail?: Error): Recorder {
  const r: Recorder = {
    applied: 0,
    removed: 0,
    async apply(_s, o) {
      r.applied++;
      o.onProgress({ name: 'engine', status: 'transitioning', message: 'working' });
      if (fail) throw fail;
      return { message: 'Docker serves TLS on 2376.', steps: [{ name: 'engine', status: 'success', message: 'ok' }], warnings: [] };
    },
    async plan() {
      return { lines: ['step'] };
    },
    async remove() {
      r.removed++;
      return { message: 'removed', steps: [], warnings: [] };
    },
  };
  return r;
}

let cert: WaagentCertificate;
let certDir: string;
const ex = exampleSettings();
const PASSWORD = 'registry-p4ssw0rd-XYZ';
const prot = { ...ex.protectedSettings, login: { server: 'reg.example', username: 'bob', password: PASSWORD } };
const pub = { docker: { port: 2376 } };

beforeAll(async () => {
  certDir = await mkdtemp(path.join(tmpdir(), 'lc-cert-'));
  cert = await makeWaagentCertificate(certDir);
});
afterAll(() => rm(certDir, { recursive: true, force: true }));

async function tree(version = '1.0.0'): Promise<AgentTree> {
  const t = await makeAgentTree({ cert, version });
  await cp(cert.crtPath, path.join(t.libDir, path.basename(cert.crtPath)));
  await cp(cert.prvPath, path.join(t.libDir, path.basename(cert.prvPath)));
  return t;
}

/** Stands in for the monitor's supervisor (the monitor suites run the real one). */
const monitorCalls: string[] = [];
const stubMonitor = (): MonitorSupervisor => ({
  kind: 'direct',
  async ensureRunning() {
    monitorCalls.push('ensure');
    return { started: true, detail: 'stub' };
  },
  async remove() {
    monitorCalls.push('remove');
  },
});

function deps(t: AgentTree, applier: Applier, seq?: number, extDir = t.extDir, version = t.version): AppDeps {
  const env = { ...t.env(seq), AZURE_GUEST_AGENT_EXTENSION_PATH: extDir, AZURE_GUEST_AGENT_EXTENSION_VERSION: version };
  const d: AppDeps = {
    env,
    codeDir: path.join(extDir, 'dist'),
    entryScript: '/nonexistent',
    makeApplier: () => applier,
    monitorSupervisor: stubMonitor,
    ...inProcessWork(() => d),
  };
  return d;
}

const statusOf = async (t: AgentTree, seq: number, dir = t.extDir) => JSON.parse(await readFile(path.join(dir, 'status', `${seq}.status`), 'utf8'))[0].status;

describe('install and enable', () => {
  test('install writes the heartbeat and no status', async () => {
    const t = await tree();
    const r = await runApp(['install'], deps(t, recordingApplier(), 0));
    expect(r.exitCode).toBe(0);
    expect((await t.readHeartbeat())[0].heartbeat.status).toBe('Ready');
    expect(await readdir(path.join(t.extDir, 'status'))).toEqual([]);
    await t.cleanup();
  });

  test('enable decrypts, validates, applies, reports success; secrets never published', async () => {
    const t = await tree();
    await t.writeSettings(0, pub, prot);
    const applier = recordingApplier();
    const r = await runApp(['enable'], deps(t, applier, 0));
    expect(r.exitCode).toBe(0);
    expect(applier.applied).toBe(1);
    const st = await statusOf(t, 0);
    expect(st).toMatchObject({ operation: 'Enable', status: 'success' });
    // the engine's message: the login is the engine applier's (its steps and warnings), nothing "not applied yet"
    expect(st.formattedMessage.message).toBe('Docker serves TLS on 2376.');
    expect(st.substatus[0].formattedMessage.message).toMatch(/cert SHA-256 fingerprint (?:[0-9A-F]{2}:){31}[0-9A-F]{2}; key set, never fingerprinted/);
    expect(st.substatus[0].formattedMessage.message).toMatch(/registry login to reg.example for root and the VM's provisioned account: user name and password set/);
    expect((await readFile(path.join(t.extDir, 'mrseq'), 'utf8')).trim()).toBe('0');
    const published = [r.stdout, JSON.stringify(st), await readFile(path.join(t.extDir, 'heartbeat.log'), 'utf8'), await readFile(path.join(t.logDir, 'handler.log'), 'utf8')].join('\n');
    for (const secret of [PASSWORD, 'bob', (ex.protectedSettings.certs as { key: string }).key.split('\n')[1]!]) expect(published).not.toContain(secret);
    const events = await readdir(path.join(t.logDir, 'events'));
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((f) => /^\d+\.json$/.test(f))).toBe(true);
    await t.cleanup();
  });

  test('a re-enable of the applied sequence number changes nothing, not even the status file', async () => {
    const t = await tree();
    await t.writeSettings(3, pub, prot);
    const applier = recordingApplier();
    await runApp(['enable'], deps(t, applier, 3));
    const file = path.join(t.extDir, 'status', '3.status');
    const before = { text: await readFile(file, 'utf8'), mtime: (await stat(file)).mtimeMs };
    const r = await runApp(['enable'], deps(t, applier, 3));
    expect(r).toMatchObject({ exitCode: 0, stdout: expect.stringMatching(/already applied/) });
    expect(applier.applied).toBe(1);
    expect({ text: await readFile(file, 'utf8'), mtime: (await stat(file)).mtimeMs }).toEqual(before);
    await t.cleanup();
  });

  test('an older sequence number never overwrites the newer result', async () => {
    const t = await tree();
    await t.writeSettings(5, pub, prot);
    await t.writeSettings(4, pub, prot);
    const applier = recordingApplier();
    await runApp(['enable'], deps(t, applier, 5));
    const r = await runApp(['enable'], deps(t, applier, 4));
    expect(r.stdout).toMatch(/older than the applied 5/);
    expect(applier.applied).toBe(1);
    await expect(stat(path.join(t.extDir, 'status', '4.status'))).rejects.toThrow();
    await t.cleanup();
  });

  test('an old extension\'s template: taken in its old meaning, one warning per form in the success status', async () => {
    const t = await tree();
    const c = ex.protectedSettings.certs as { ca: string; cert: string; key: string };
    const b64 = (v: string) => Buffer.from(v).toString('base64');
    await t.writeSettings(
      0,
      { Docker: { Port: '2376', options: ['-g /mnt/docker'] }, 'azure-environment': '' },
      { Certs: { ca: b64(c.ca), cert: b64(c.cert), key: b64(c.key) }, login: { server: '', username: '', password: '', email: '' } },
    );
    const applier = recordingApplier();
    expect((await runApp(['enable'], deps(t, applier, 0))).exitCode).toBe(0);
    expect(applier.applied).toBe(1);
    const st = await statusOf(t, 0);
    expect(st.status).toBe('success');
    const warnings = [
      'public setting "docker" is written "Docker": setting names are lower case; write "docker"',
      'public setting "docker.port" is written "Port": setting names are lower case; write "port"',
      'public setting "azure-environment" is an empty string, which is taken as not set: remove it',
      'protected setting "certs" is written with capitals: setting names are lower case; write "certs"',
      'protected setting "login" has no username and password (no registry login, as the old extension took it): remove "login"',
    ];
    expect(st.formattedMessage.message).toBe(`Docker serves TLS on 2376. Warnings: ${warnings.join('; ')}.`);
    expect(st.substatus[0].formattedMessage.message).toContain(`Old forms taken in their old meaning: ${warnings.join('; ')}.`);
    expect(st.substatus[0].formattedMessage.message).toMatch(/TLS on port 2376|2376/);
    await t.cleanup();
  });

  test('an old template\'s port with empty certs stays refused, saying what to add; nothing applied', async () => {
    const t = await tree();
    await t.writeSettings(1, { docker: { port: '2375' } }, { certs: { ca: '', cert: '', key: '' } });
    const applier = recordingApplier();
    expect((await runApp(['enable'], deps(t, applier, 1))).exitCode).toBe(3);
    expect(applier.applied).toBe(0);
    const st = await statusOf(t, 1);
    expect(st.status).toBe('error');
    expect(st.formattedMessage.message).toContain('add to the protected settings "certs": {"ca": <CA certificate>, "cert": <server certificate>, "key": <its private key>}');
    await t.cleanup();
  });

  test('the empty 0.settings of an extension without settings applies the defaults', async () => {
    const t = await tree();
    await t.writeSettings(0, null, undefined, { empty: true });
    expect((await runApp(['enable'], deps(t, recordingApplier(), 0))).exitCode).toBe(0);
    expect((await statusOf(t, 0)).substatus[0].formattedMessage.message).toMatch(/local socket only/);
    await t.cleanup();
  });
});

describe('failures are reported before the non-zero exit and change nothing', () => {
  test('bad settings: error status naming the setting, NotReady heartbeat, applier never called', async () => {
    const t = await tree();
    await t.writeSettings(1, { docker: { prot: 2376 } }, prot);
    const applier = recordingApplier();
    const r = await runApp(['enable'], deps(t, applier, 1));
    expect(r.exitCode).toBe(3);
    expect(applier.applied).toBe(0);
    const st = await statusOf(t, 1);
    expect(st.status).toBe('error');
    expect(st.formattedMessage.message).toContain('unknown public setting "docker.prot"; did you mean "docker.port"?');
    expect((await t.readHeartbeat())[0].heartbeat.status).toBe('NotReady');
    expect(r.stdout).toContain('docker.prot');
    await t.cleanup();
  });

  test('the VM certificate is missing: the error names the thumbprint', async () => {
    const t = await tree();
    await t.writeSettings(1, pub, prot);
    await unlink(path.join(t.libDir, `${cert.thumbprint}.prv`)).catch(() => undefined);
    await rm(path.join(t.libDir, `${cert.thumbprint}.prv`), { force: true });
    const r = await runApp(['enable'], deps(t, recordingApplier(), 1));
    expect(r.exitCode).toBe(3);
    expect((await statusOf(t, 1)).formattedMessage.message).toContain(cert.thumbprint);
    await t.cleanup();
  });

  test('the worker reports an apply failure as error, and the next enable retries it', async () => {
    const t = await tree();
    await t.writeSettings(2, pub, prot);
    const { StepFailedError } = await import('../../handler/errors.js');
    await runApp(['enable'], deps(t, recordingApplier(new StepFailedError('dockerd did not start: port 2376 in use')), 2));
    const st = await statusOf(t, 2);
    expect(st.status).toBe('error');
    expect(st.formattedMessage.message).toContain('port 2376 in use');
    expect(st.substatus.find((s: { name: string }) => s.name === 'engine').status).toBe('error');
    expect(st.substatus[0]).toMatchObject({ name: 'settings', status: 'success' });
    const retry = recordingApplier();
    await runApp(['enable'], deps(t, retry, 2));
    expect(retry.applied).toBe(1);
    expect((await statusOf(t, 2)).status).toBe('success');
    await t.cleanup();
  });

  test('no sequence number at all', async () => {
    const t = await tree();
    const r = await runApp(['enable'], deps(t, recordingApplier()));
    expect(r.exitCode).toBe(3);
    expect(r.stdout).toMatch(/No sequence number/);
    await t.cleanup();
  });
});

describe("the agent's update sequence keeps Docker and reports the new version's own status", () => {
  test('old disable, new update, old uninstall, new install, new enable', async () => {
    const t = await tree('1.0.0');
    await t.writeSettings(0, pub, prot);
    const oldApplier = recordingApplier();
    await runApp(['enable'], deps(t, oldApplier, 0));
    // The agent unpacks X+1 and writes the new settings only in the new config folder.
    const newDir = await addVersion(t.libDir, t.logDir, t.name, '1.0.1');
    const newApplier = recordingApplier();
    const nt: AgentTree = { ...t, extDir: newDir, version: '1.0.1' };
    await nt.writeSettings.call({ ...t, extDir: newDir }, 1, pub, prot);
    await (async () => {
      const { writeFile } = await import('node:fs/promises');
      const hs = JSON.parse(await readFile(path.join(t.extDir, 'config', '0.settings'), 'utf8'));
      await writeFile(path.join(newDir, 'config', '1.settings'), JSON.stringify(hs));
    })();
    // 1. old disable with the NEW number: it has no 1.settings, so it writes no status.
    expect((await runApp(['disable'], deps(t, oldApplier, 1))).exitCode).toBe(0);
    await expect(stat(path.join(t.extDir, 'status', '1.status'))).rejects.toThrow();
    // (agent: copy_status_files old → new)
    await cp(path.join(t.extDir, 'status'), path.join(newDir, 'status'), { recursive: true });
    await cp(path.join(t.extDir, 'mrseq'), path.join(newDir, 'mrseq'));
    // 2. new update
    expect((await runApp(['update'], { ...deps(nt, newApplier, 1, newDir, '1.0.1') })).exitCode).toBe(0);
    // 3. old uninstall: part of an update, nothing removed
    const u = await runApp(['uninstall'], deps(t, oldApplier, 1));
    expect(u.stdout).toMatch(/part of an update/);
    expect(oldApplier.removed).toBe(0);
    await rm(t.extDir, { recursive: true }); // agent: remove_ext_handler(old)
    // 4. new install, 5. new enable: runs and writes its own status
    expect((await runApp(['install'], deps(nt, newApplier, 1, newDir, '1.0.1'))).exitCode).toBe(0);
    expect((await runApp(['enable'], deps(nt, newApplier, 1, newDir, '1.0.1'))).exitCode).toBe(0);
    expect(newApplier.applied).toBe(1);
    expect(await statusOf(nt, 1, newDir)).toMatchObject({ operation: 'Enable', status: 'success' });
    await t.cleanup();
  });

  test('same sequence number across the update: the copied success is not reused', async () => {
    const t = await tree('1.0.0');
    await t.writeSettings(0, pub, prot);
    await runApp(['enable'], deps(t, recordingApplier(), 0));
    const newDir = await addVersion(t.libDir, t.logDir, t.name, '1.0.1');
    await cp(path.join(t.extDir, 'config', '0.settings'), path.join(newDir, 'config', '0.settings'));
    // legacy-shaped disable of the old version does have 0.settings, but an update is running
    await runApp(['disable'], deps(t, recordingApplier(), 0));
    expect((await statusOf(t, 0)).operation).toBe('Enable');
    await cp(path.join(t.extDir, 'status'), path.join(newDir, 'status'), { recursive: true });
    await cp(path.join(t.extDir, 'mrseq'), path.join(newDir, 'mrseq'));
    const nt: AgentTree = { ...t, extDir: newDir, version: '1.0.1' };
    const a = recordingApplier();
    await runApp(['enable'], deps(nt, a, 0, newDir, '1.0.1'));
    expect(a.applied).toBe(1);
    await t.cleanup();
  });
});

describe('disable and uninstall', () => {
  test('a legacy disable keeps Docker and reports success for its own settings', async () => {
    const t = await tree();
    await t.writeSettings(0, pub, prot);
    const a = recordingApplier();
    await runApp(['enable'], deps(t, a, 0));
    expect((await runApp(['disable'], deps(t, a, 0))).exitCode).toBe(0);
    expect(await statusOf(t, 0)).toMatchObject({ operation: 'Disable', status: 'success' });
    expect(a.removed).toBe(0);
    await t.cleanup();
  });

  test('uninstall removes what the extension added and its data directory', async () => {
    const t = await tree();
    await t.writeSettings(0, pub, prot);
    const a = recordingApplier();
    await runApp(['enable'], deps(t, a, 0));
    const r = await runApp(['uninstall'], deps(t, a, 0));
    expect(r.exitCode).toBe(0);
    expect(a.removed).toBe(1);
    await expect(stat(path.join(t.libDir, t.name))).rejects.toThrow();
    await t.cleanup();
  });
});

describe('an enable\'s worker that starts late', () => {
  test('only after the uninstall that followed its enable: it applies nothing and leaves no data directory behind', async () => {
    const t = await tree();
    await t.writeSettings(0, pub, prot);
    const a = recordingApplier();
    const d = deps(t, a, 0);
    // Enable starts its worker, which (a slow start on a loaded VM) runs only after the uninstall.
    let late: (() => Promise<unknown>) | undefined;
    const started = await runApp(['enable'], { ...d, spawnWorker: async ({ seq }) => ((late = () => runApp([WORKER_VERB, String(seq)], { ...d, signal: new AbortController().signal })), 'late worker') });
    expect(started.exitCode).toBe(0);
    expect((await runApp(['uninstall'], deps(t, a, 0))).exitCode).toBe(0);
    expect((await late!()) as { exitCode: number }).toMatchObject({ exitCode: 0 });
    expect(a.applied).toBe(0);
    await expect(stat(path.join(t.libDir, t.name))).rejects.toThrow();
    await t.cleanup();
  });
});

describe('uninstall within the agent\'s 300 s', () => {
  test('work still running after the wait: uninstall returns 0 and says where to look', async () => {
    const t = await tree();
    await t.writeSettings(0, pub, prot);
    const a = recordingApplier();
    await runApp(['enable'], deps(t, a, 0));
    const r = await runApp(['uninstall'], { ...deps(t, a, 0), runUninstallWorker: async () => ({ finished: false, label: 'azure-docker-extension-uninstall-1a2b3c4d.service' }) });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^uninstall: still working after 200 s; it goes on in the background \(azure-docker-extension-uninstall-1a2b3c4d\.service\); see .*handler\.log$/);
    await t.cleanup();
  });
});

describe('dry run', () => {
  test('the embedded example validates and plans, writing nothing', async () => {
    const r = await runApp(['enable', '--dry-run'], { env: {}, codeDir: '/nonexistent/dist', entryScript: '', makeApplier: () => recordingApplier() });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/embedded example/);
    expect(r.stdout).toMatch(/TCP 2376 with TLS/);
    expect(r.stdout).not.toMatch(/BEGIN/);
  });
});
