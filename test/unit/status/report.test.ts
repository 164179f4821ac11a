// `handler.sh status` from facts to report to text: the pure part, for the machines an admin has
// (never installed here, installed but not enabled, serving as applied, drifted with a failed
// enable and the monitor down, run without root). The whole text is compared: it is the admin's
// screen. The facts are fixed, so nothing needs normalising here (the integration suite does).
import { describe, expect, test } from '@jest/globals';
import { parseHandlerEnvironment } from '../../../handler/agent/handler-env.js';
import { buildStatusReport, STATUS_EXIT, StatusReportSchema, type StatusFacts } from '../../../handler/status/report.js';
import { renderStatus } from '../../../handler/status/render.js';
import { runApp } from '../../../handler/app.js';
import { makeApplier } from '../../../handler/lifecycle/make-applier.js';
import type { SpecRead } from '../../../handler/monitor/spec.js';

const NOW = Date.parse('2026-12-01T10:00:00Z');
const EXT = '/var/lib/waagent/Microsoft.Azure.Extensions.DockerExtension-2.0.0';
const env = parseHandlerEnvironment(
  JSON.stringify([
    {
      name: 'Microsoft.Azure.Extensions.DockerExtension',
      version: '2.0.0',
      handlerEnvironment: {
        logFolder: '/var/log/azure/Microsoft.Azure.Extensions.DockerExtension',
        configFolder: `${EXT}/config`,
        statusFolder: `${EXT}/status`,
        heartbeatFile: `${EXT}/heartbeat.log`,
      },
    },
  ]),
  EXT,
);
const FP = 'AB:'.repeat(31) + 'CD';

const base: StatusFacts = {
  now: NOW,
  version: '2.0.0',
  isRoot: true,
  searched: [`${EXT}/dist`, EXT],
  spec: { kind: 'absent' },
  ping: { socketPath: '/var/run/docker.sock', ok: true, detail: 'GET /_ping answered OK', version: '26.1.5', apiVersion: '1.45' },
  drift: [],
  dockerdLog: 'journalctl -u docker',
};

function configured(over: Partial<StatusFacts> = {}): StatusFacts {
  return {
    ...base,
    env,
    mrseq: 3,
    lastRun: { seq: 3, version: '2.0.0', result: 'success' },
    spec: {
      kind: 'ok',
      spec: {
        schema: 1,
        disabled: false,
        lastEnable: { seq: 3, result: 'success', message: 'Docker serves TLS on 2376.', at: '2026-12-01T09:00:00.000Z', version: '2.0.0' },
        target: {
          socketPath: '/run/docker.sock',
          pidFile: '/run/docker.pid',
          manager: { kind: 'systemd', unit: 'docker.service' },
          tcp: { host: '0.0.0.0', port: 2376, tls: { caFile: '/etc/docker/ca.pem', certFile: '/etc/docker/cert.pem', fingerprint256: FP } },
          files: [],
        },
      },
    },
    engineState: { version: 1, daemonJson: { path: '/etc/docker/daemon.json', owned: {}, created: true }, files: [], installed: { manager: 'apt', packages: ['docker.io'], source: 'distro', at: '2026-12-01T08:59:00.000Z' } },
    monitor: { pid: 4242, procStart: '1', version: '2.0.0', extensionDir: EXT, startedAt: '2026-12-01T09:00:01.000Z' },
    heartbeat: { status: 'Ready', message: 'Docker 26.1.5 serves /run/docker.sock and TLS on port 2376.', mtimeMs: NOW - 42_000 },
    ping: { socketPath: '/run/docker.sock', ok: true, detail: 'GET /_ping answered OK', version: '26.1.5', apiVersion: '1.45' },
    tcpListening: true,
    cert: { file: '/etc/docker/cert.pem', subject: 'CN=vm1', subjectAltNames: ['DNS:vm1', 'IP Address:10.0.0.4'], notAfter: Date.parse('2027-06-19T00:00:00Z'), fingerprint256: FP },
    ...over,
  };
}

const LOGS = `  Logs:         /var/log/azure/Microsoft.Azure.Extensions.DockerExtension/handler.log  (handler (every agent command, enable and uninstall work; JSON lines))
                /var/log/azure/Microsoft.Azure.Extensions.DockerExtension/monitor.log  (monitor (changes of state, drift, renewals; JSON lines))
                ${EXT}/status/<seq>.status  (status the agent reads (one file per configuration))
                ${EXT}/heartbeat.log  (heartbeat)
                journalctl -u docker  (dockerd)
                journalctl -u "azure-docker-extension-*"  (enable and uninstall work under systemd)
                /var/log/waagent.log  (the Azure Linux Agent)`;

describe('status: facts → report → text', () => {
  test('serving as applied: exit 0, every part on one row', () => {
    const r = buildStatusReport(configured());
    expect(StatusReportSchema.parse(r)).toEqual(r);
    expect(r.exitCode).toBe(STATUS_EXIT.ok);
    expect(renderStatus(r)).toBe(`Docker extension 2.0.0, 2026-12-01T10:00:00Z: Configuration 3 serves as applied; the monitor keeps the heartbeat current.
  Serves:       local socket /run/docker.sock; TCP 0.0.0.0:2376 with TLS, client certificates required (listening)
  Certificate:  CN=vm1; names DNS:vm1, IP Address:10.0.0.4; valid until 2027-06-19T00:00:00Z (199 days left); SHA-256 fingerprint ${FP} (compare: openssl x509 -noout -fingerprint -sha256 -in /etc/docker/cert.pem)
  Engine:       Docker 26.1.5 (API 1.45) answers; docker.io installed by the extension with apt at 2026-12-01T08:59:00.000Z
  Applied:      configuration 3 at 2026-12-01T09:00:00.000Z by version 2.0.0: success (Docker serves TLS on 2376.)
  Monitor:      running (pid 4242, since 2026-12-01T09:00:01.000Z)
  Heartbeat:    Ready, written 2026-12-01T09:59:18Z (42 s ago): Docker 26.1.5 serves /run/docker.sock and TLS on port 2376.
  Drift:        none: the files the extension manages are as it left them
  Last error:   none
${LOGS}
Exit code 0 (ok).`);
  });

  test('a failed enable, drift, the monitor down and a stale heartbeat: exit 1, each problem said with what to do', () => {
    const f = configured({
      spec: { kind: 'ok', spec: { ...(configured().spec as Extract<SpecRead, { kind: 'ok' }>).spec, lastEnable: { seq: 4, result: 'error', message: 'Invalid settings: unknown docker.options flag "--bogus".', at: '2026-12-01T09:30:00.000Z', version: '2.0.0' } } },
      monitor: undefined,
      heartbeat: { status: 'Ready', message: 'old', mtimeMs: NOW - 900_000 },
      tcpListening: false,
      drift: [{ path: '/etc/docker/daemon.json', what: 'daemon.json', kind: 'changed', summary: '/etc/docker/daemon.json was edited (key debug)', details: {} }],
    });
    const r = buildStatusReport(f);
    expect(r.state).toBe('attention');
    expect(r.exitCode).toBe(STATUS_EXIT.attention);
    expect(r.lastError).toBe('Invalid settings: unknown docker.options flag "--bogus".');
    expect(r.problems).toEqual([
      'configuration 4 was not applied: Invalid settings: unknown docker.options flag "--bogus".',
      'nothing listens on TCP port 2376; see journalctl -u docker',
      'the monitor is not running: see systemctl status azure-docker-extension-monitor and journalctl -u azure-docker-extension-monitor; the agent\'s next enable starts it',
      'the heartbeat was last written 900 s ago: the agent calls the extension Unresponsive after 600 s',
      'changed outside the extension: /etc/docker/daemon.json was edited (key debug) (the next enable re-applies the settings)',
    ]);
    const text = renderStatus(r);
    expect(text.split('\n')[0]).toBe('Docker extension 2.0.0, 2026-12-01T10:00:00Z: Needs attention (5 problems): configuration 4 was not applied: Invalid settings: unknown docker.options flag "--bogus".');
    expect(text).toContain('  Drift:        /etc/docker/daemon.json was edited (key debug)\n');
    expect(text).toContain('  Monitor:      NOT running\n');
    expect(text).toMatch(/\nProblems:\n {2}- configuration 4 was not applied: .*\n(?: {2}- .*\n){4}Exit code 1 \(attention\)\.$/);
  });

  test('an expired certificate and a TCP port without TLS are problems; one issued on the VM is the monitor\'s to renew', () => {
    const expired = buildStatusReport(configured({ cert: { ...configured().cert!, notAfter: NOW - 86_400_000 } }));
    expect(expired.problems).toEqual(['the server certificate expired on 2026-11-30T10:00:00Z: renew certs.cert and certs.key in the protected settings']);
    const soon = buildStatusReport(configured({ cert: { ...configured().cert!, notAfter: NOW + 10 * 86_400_000 } }));
    expect(soon.problems).toEqual(['the server certificate expires in 10 days (2026-12-11T10:00:00Z): renew certs.cert and certs.key in the protected settings']);
  });

  test('a certificate issued on the VM: the monitor renews it, and its last renewal is shown', () => {
    const c = configured();
    const spec = (c.spec as Extract<SpecRead, { kind: 'ok' }>).spec;
    const target = { ...spec.target!, issuance: { issuerCertFile: '/etc/docker/issuer.pem', issuerKeyFile: '/etc/docker/issuer-key.pem', keyFile: '/etc/docker/key.pem', validityMs: 1, renewBeforeMs: 1, extraNames: [] } };
    const renewal = { at: '2026-11-30T00:00:00.000Z', notAfter: '2027-02-28', fingerprint256: FP, reason: 'a third of its validity left' };
    const r = buildStatusReport({ ...c, spec: { kind: 'ok', spec: { ...spec, target, renewal } } });
    expect(r.certificate).toMatchObject({ issuedOnVm: true, lastRenewal: { at: renewal.at, reason: renewal.reason } });
    expect(renderStatus(r)).toContain('; issued on this VM, renewed by the monitor (last 2026-11-30T00:00:00.000Z: a third of its validity left); SHA-256 fingerprint');
  });

  describe('what the extension set up beside the engine: the compose project, the registry login, the docker group', () => {
    const SHA = 'a'.repeat(64);
    const record = { version: 1 as const, project: 'compose', file: '/etc/docker/compose/docker-compose.yml', documentSha256: SHA, envNames: ['SLEEP'], salt: '5'.repeat(64), envFingerprint: 'f'.repeat(64) };
    const login = { version: 1 as const, server: 'registry.example:5000', accounts: [{ name: 'root', configDir: '/root/.docker' }, { name: 'azureuser', configDir: '/home/azureuser/.docker', as: { uid: 1000, gid: 1000, home: '/home/azureuser' } }], salt: 's', hmac: 'h' };
    const group = { version: 1 as const, user: 'azureuser', group: 'docker', addedAt: '2026-12-01T09:00:02.000Z' };
    const healthy = (): StatusFacts['workloads'] => ({
      compose: { record, file: { sha256: SHA, startedServices: ['web', 'worker'] }, containers: { web: { total: 1, running: 1 }, worker: { total: 2, running: 2 } } },
      login: { record: login, rootHasCredentials: true },
      group: { record: group, member: true },
    });

    test('as applied: one row each, no problem, exit 0', () => {
      const r = buildStatusReport(configured({ workloads: healthy() }));
      expect(StatusReportSchema.parse(r)).toEqual(r);
      expect(r.exitCode).toBe(STATUS_EXIT.ok);
      const text = renderStatus(r);
      expect(text).toContain(`  Drift:        none: the files the extension manages are as it left them
  Compose:      project compose (/etc/docker/compose/docker-compose.yml): web 1/1 running, worker 2/2 running
  Registry:     root and azureuser logged in to registry.example:5000 by the extension
  Docker group: azureuser added by the extension at 2026-12-01T09:00:02.000Z
  Last error:   none
`);
      // The record's keyed hash is not a status fact.
      expect(JSON.stringify(r)).not.toMatch(/"salt"|"hmac"|envFingerprint/);
    });

    test('a stopped service, an edited compose file, an interrupted up, a logout and a removed membership: each a problem with what to do', () => {
      const w = healthy()!;
      const r = buildStatusReport(
        configured({
          workloads: {
            compose: { record: { ...record, pending: true }, file: { sha256: 'b'.repeat(64), startedServices: ['web', 'worker'] }, containers: { web: { total: 1, running: 0 } } },
            login: { ...w.login!, rootHasCredentials: false },
            group: { ...w.group!, member: false },
          },
        }),
      );
      expect(r.exitCode).toBe(STATUS_EXIT.attention);
      expect(r.problems).toEqual([
        'changed outside the extension: the compose file /etc/docker/compose/docker-compose.yml is not what the extension wrote (a new configuration writes it again and runs up -d)',
        "the compose project compose's last up -d was interrupted before it finished; the next enable runs it again",
        'compose project compose: service web has 0 of 1 containers running (see docker ps -a --filter label=com.docker.compose.service=web and docker logs); start it with compose (docker compose -p compose -f /etc/docker/compose/docker-compose.yml up -d, or docker-compose), or let a new configuration of the extension run up -d',
        'compose project compose: service worker has no container; start it with compose (docker compose -p compose -f /etc/docker/compose/docker-compose.yml up -d, or docker-compose), or let a new configuration of the extension run up -d',
        "root's docker client has no credentials for registry.example:5000 any more (logged out outside the extension): a new configuration of the extension logs in again",
        'azureuser is no longer in the docker group (removed outside the extension): a new configuration of the extension adds it again',
      ]);
      const text = renderStatus(r);
      expect(text).toContain('  Compose:      project compose (/etc/docker/compose/docker-compose.yml): web 0/1 running, worker 0/0 running; its last up -d was interrupted; the file was CHANGED outside the extension\n');
      expect(text).toContain("  Registry:     root and azureuser logged in to registry.example:5000 by the extension; root's client NO LONGER holds the credentials\n");
      expect(text).toContain('  Docker group: azureuser added by the extension at 2026-12-01T09:00:02.000Z; NO LONGER a member\n');
    });

    test('dockerd down: the containers are not listed (dockerd\'s own problem is reported), a removed file is said', () => {
      const r = buildStatusReport(configured({ workloads: { compose: { record, file: { missing: true } } } }));
      expect(r.compose).toMatchObject({ containersUnknown: true, fileAsWritten: false, services: [] });
      expect(r.problems).toEqual(['changed outside the extension: the compose file /etc/docker/compose/docker-compose.yml was removed (a new configuration writes it again and runs up -d)']);
      expect(renderStatus(r)).toContain('  Compose:      project compose (/etc/docker/compose/docker-compose.yml): containers not listed (dockerd does not answer); the file was CHANGED outside the extension\n');
    });
  });

  test('the monitor renewing the certificate under the worker lock: in progress, said as the monitor\'s work, not a configuration\'s', () => {
    const worker = { pid: 4242, procStart: '1', seq: 3, version: '2.0.0', startedAt: '2026-12-01T09:59:58.000Z', kind: 'monitor' as const, task: 'renew-certificate' as const };
    const r = buildStatusReport(configured({ worker }));
    expect(StatusReportSchema.parse(r).inProgress).toEqual({ kind: 'monitor', seq: 3, pid: 4242, since: worker.startedAt, task: 'renew-certificate' });
    expect(r.problems).toEqual(["the monitor's renewal of the server certificate (pid 4242, since 2026-12-01T09:59:58.000Z) is running; run status again when it is done"]);
    expect(renderStatus(r)).toContain("  In progress:  the monitor's renewal of the server certificate (pid 4242, since 2026-12-01T09:59:58.000Z)\n");
    const enable = buildStatusReport(configured({ worker: { ...worker, kind: 'enable', task: undefined, seq: 4 } }));
    expect(enable.problems).toEqual(['enable of configuration 4 (pid 4242, since 2026-12-01T09:59:58.000Z) is running; run status again when it is done']);
  });

  test('installed by the agent, no configuration applied yet: exit 4, says where to look', () => {
    const r = buildStatusReport({ ...base, env });
    expect(r.exitCode).toBe(STATUS_EXIT.notEnabled);
    expect(renderStatus(r)).toBe(`Docker extension 2.0.0, 2026-12-01T10:00:00Z: Not enabled yet: the extension is installed in ${EXT} but has applied no configuration. The agent runs enable with the VM's settings; see /var/log/azure/Microsoft.Azure.Extensions.DockerExtension/handler.log.
  Serves:       local socket /var/run/docker.sock
  Engine:       Docker 26.1.5 (API 1.45) answers
${LOGS}
Exit code 4 (not-enabled).`);
  });

  test('no HandlerEnvironment.json beside the package (never installed by the agent here): exit 4, names where it looked', () => {
    const r = buildStatusReport({ ...base, ping: { socketPath: '/var/run/docker.sock', ok: false, detail: '/var/run/docker.sock does not exist' } });
    expect(r.exitCode).toBe(STATUS_EXIT.notEnabled);
    expect(r.headline).toBe(
      `Not enabled yet: no HandlerEnvironment.json in ${EXT}/dist or ${EXT}, so the Azure Linux Agent has not installed the extension from this package. ` +
        'Run the status of the installed extension (sudo /var/lib/waagent/Microsoft.Azure.Extensions.DockerExtension-<version>/scripts/handler.sh status), or add the extension to the VM.',
    );
    expect(renderStatus(r)).toContain('  Engine:       dockerd does not answer (/var/run/docker.sock does not exist)');
  });

  test('without root: exit 3, says to run as root', () => {
    const r = buildStatusReport({ ...base, isRoot: false });
    expect(r.exitCode).toBe(STATUS_EXIT.unreadable);
    expect(r.headline).toBe("Run status as root (sudo): the extension's records, keys and logs are readable by root only.");
  });

  test('disabled: the monitor reports NotReady on purpose, which is one problem, not two', () => {
    const c = configured();
    const spec = (c.spec as { kind: 'ok'; spec: Record<string, unknown> }).spec;
    const r = buildStatusReport({ ...c, spec: { kind: 'ok', spec: { ...spec, disabled: true } as never }, heartbeat: { status: 'NotReady', message: 'disabled', mtimeMs: NOW } });
    expect(r.problems).toEqual(['the extension is disabled: dockerd keeps running, the monitor restarts nothing; enable it again or uninstall it']);
  });

  test('through the command: without root it says so on stderr and exits 3, reading nothing; --json for scripts', async () => {
    const deps = { env: {}, codeDir: '/nonexistent/dist', entryScript: '/nonexistent', makeApplier, isRoot: false };
    const text = await runApp(['status'], deps);
    expect(text.exitCode).toBe(3);
    expect(text.stdout).toBeUndefined();
    expect(text.stderr).toMatch(/: Run status as root \(sudo\): the extension's records, keys and logs are readable by root only\.\n/);
    const json = await runApp(['status', '--json'], deps);
    expect(StatusReportSchema.parse(JSON.parse(json.stdout!))).toMatchObject({ state: 'unreadable', exitCode: 3, engine: { answers: false, detail: 'not read: status runs as root' } });
  });
});
