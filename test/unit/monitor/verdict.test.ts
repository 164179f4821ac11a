import { describe, expect, test } from '@jest/globals';
import { ago, judge, type DaemonHealth, type Observation } from '../../../handler/monitor/verdict.js';
import type { MonitorTarget } from '../../../handler/monitor/spec.js';
import { buildHeartbeat } from '../../../handler/agent/heartbeat.js';

// Every rule of "Ready only while Docker serves what the extension configured", as data.

const NOW = Date.parse('2026-12-01T10:00:00Z');
const DAY = 86_400_000;

const target: MonitorTarget = {
  socketPath: '/run/docker.sock',
  pidFile: '/run/docker.pid',
  manager: { kind: 'systemd', unit: 'docker.service' },
  tcp: { host: '127.0.0.1', port: 2376, tls: { caFile: '/etc/docker/ca.pem', certFile: '/etc/docker/cert.pem' } },
  files: [],
  engineVersion: '20.10.24',
};
const serving: DaemonHealth = {
  pid: 4242,
  socket: { ok: true, version: '20.10.24+dfsg1' },
  tcp: { listening: true, tls: { ok: true, detail: 'verified' } },
  recovery: { by: 'systemd', unit: 'docker.service' },
};
const good: Observation = {
  now: NOW,
  disabled: false,
  target,
  dockerd: serving,
  drift: [],
  cert: { subject: 'CN=vm1', notAfter: NOW + 200 * DAY },
  lastEnable: { seq: 3, result: 'success', message: 'ok', at: '2026-12-01T09:00:00Z', version: '2.0.0' },
};
const obs = (o: Partial<Observation>): Observation => ({ ...good, ...o });
const down = (h: Partial<DaemonHealth>): DaemonHealth => ({ recovery: serving.recovery, ...h });

describe('the heartbeat verdict', () => {
  test('Ready: what serves, the certificate, the applied configuration, when it was checked', () => {
    const v = judge(good);
    expect(v.status).toBe('Ready');
    expect(v.message).toBe(
      'Docker 20.10.24+dfsg1 serves /run/docker.sock and TLS on port 2376 (server certificate CN=vm1, valid until 2027-06-19). Configuration 3 applied 2026-12-01 09:00:00 UTC. Checked 2026-12-01 10:00:00 UTC.',
    );
    expect(v.reasons).toEqual([]);
  });

  test.each<[string, Partial<Observation>, 'Ready' | 'NotReady', RegExp]>([
    ['dockerd gone, systemd restarts it', { dockerd: down({ unhealthySince: NOW - 80_000, exitedPid: 4242 }) }, 'NotReady', /^dockerd is not running since 2026-12-01 09:58:40 UTC \(80 s\); pid 4242 exited\. systemd restarts docker\.service; if it stays down see journalctl -u docker\.service\./],
    [
      'dockerd failed for good under systemd',
      { dockerd: down({ unhealthySince: NOW - 600_000, recovery: { by: 'systemd', unit: 'docker.service', unitState: 'failed' } }) },
      'NotReady',
      /docker\.service has failed and systemd gave up restarting it: see journalctl -u docker\.service, fix the cause, then systemctl restart docker\.service\./,
    ],
    [
      'no service manager: the monitor restarts it, with the next attempt',
      { dockerd: down({ unhealthySince: NOW - 1000, recovery: { by: 'monitor', attempt: 0, nextAt: NOW + 2000, logFile: '/var/log/dockerd.log' } }) },
      'NotReady',
      /No service manager restarts it, so the monitor does\. Next attempt at 2026-12-01 10:00:02 UTC \(in 2 s\)\. dockerd's log: \/var\/log\/dockerd\.log\./,
    ],
    [
      'a failed restart names dockerd\'s reason',
      { dockerd: down({ unhealthySince: NOW - 60_000, recovery: { by: 'monitor', attempt: 2, nextAt: NOW + 15_000, lastError: 'failed to load listeners: bind: address already in use', logFile: '/var/log/dockerd.log' } }) },
      'NotReady',
      /Restart attempt 2 failed: failed to load listeners: bind: address already in use\. Next attempt/,
    ],
    ['disabled: not restarted', { disabled: true, dockerd: down({ unhealthySince: NOW, recovery: { by: 'none', why: 'the extension is disabled' } }) }, 'NotReady', /It is not restarted: the extension is disabled\./],
    ['running, but the socket does not answer', { dockerd: { ...serving, socket: { ok: false, detail: 'no answer within 5000 ms' }, unhealthySince: NOW - 30_000 } }, 'NotReady', /^dockerd \(pid 4242\) does not answer on \/run\/docker\.sock since .*: no answer within 5000 ms\./],
    ['TLS port not listening', { dockerd: { ...serving, tcp: { listening: false }, unhealthySince: NOW - 5000 } }, 'NotReady', /dockerd answers on \/run\/docker\.sock, but nothing listens on TCP port 2376 since/],
    ['another certificate presented', { dockerd: { ...serving, tcp: { listening: true, tls: { ok: false, detail: 'dockerd presents another certificate than /etc/docker/cert.pem' } } } }, 'NotReady', /TLS on port 2376 is not what the extension configured: dockerd presents another certificate/],
    ['certificate expired', { cert: { subject: 'CN=vm1', notAfter: NOW - DAY } }, 'NotReady', /The server certificate \(CN=vm1\) expired on 2026-11-30: clients refuse it\. Renew certs\.cert and certs\.key/],
    ['certificate expires in 12 days', { cert: { subject: 'CN=vm1', notAfter: NOW + 11.5 * DAY } }, 'Ready', /^The server certificate \(CN=vm1\) expires in 12 days \(2026-12-12\): renew certs\.cert and certs\.key in the protected settings\./],
    ['certificate expires tomorrow', { cert: { subject: 'CN=vm1', notAfter: NOW + 3_600_000 } }, 'Ready', /expires in 1 day \(2026-12-01\)/],
    ['certificate unreadable', { cert: { problem: '/etc/docker/cert.pem is missing' } }, 'Ready', /The server certificate cannot be read: \/etc\/docker\/cert\.pem is missing\./],
    [
      'drift is named and left alone',
      { drift: [{ path: '/etc/docker/daemon.json', what: 'daemon.json', kind: 'changed', summary: '/etc/docker/daemon.json was edited (key debug)', details: {} }] },
      'Ready',
      /^Changed outside the extension: \/etc\/docker\/daemon\.json was edited \(key debug\)\. The extension leaves this as it is; the next enable re-applies the settings\. Docker/,
    ],
    [
      'the last enable failed: NotReady, its reason, and what still serves',
      { lastEnable: { seq: 4, result: 'error', message: 'Configuration 4 failed: protected setting "certs.key" does not belong to the certificate', at: '', version: '2' } },
      'NotReady',
      /^Configuration 4 was not applied: protected setting "certs\.key" does not belong to the certificate Docker 20\.10\.24\+dfsg1 serves/,
    ],
    [
      'an apply killed mid-way (its worker is gone, its lock left): NotReady until the next enable',
      { interrupted: { seq: 6, pid: 999, startedAt: '2026-12-01T09:30:00Z' } },
      'NotReady',
      /^Applying configuration 6 was interrupted \(its worker, pid 999, started 2026-12-01 09:30:00 UTC, is gone\); the agent's next enable resumes it, and restarting the agent \(systemctl restart walinuxagent\) makes that happen now\. Docker/,
    ],
    [
      'a restart by the monitor is mentioned for an hour',
      { dockerd: { ...serving, recovery: { by: 'monitor', attempt: 0, restartedAt: NOW - 10 * 60_000, logFile: '/var/log/dockerd.log' } } },
      'Ready',
      /^dockerd had exited; the monitor restarted it at 2026-12-01 09:50:00 UTC \(log: \/var\/log\/dockerd\.log\)\./,
    ],
  ])('%s', (_name, o, status, message) => {
    const v = judge(obs(o));
    expect(v.status).toBe(status);
    expect(v.message).toMatch(message);
    expect(v.message).toMatch(/Checked 2026-12-01 10:00:00 UTC\.$/);
  });

  test('an enable in progress: Ready, nothing else judged (dockerd restarts then on purpose)', () => {
    const v = judge(obs({ worker: { pid: 77, seq: 5, kind: 'enable', startedAt: '2026-12-01T09:59:00Z' }, dockerd: down({ unhealthySince: NOW }) }));
    expect(v).toEqual({ status: 'Ready', message: 'Applying configuration 5 (pid 77, since 2026-12-01 09:59:00 UTC). Checked 2026-12-01 10:00:00 UTC.', reasons: ['applying'] });
  });

  test('another monitor\'s task under the worker lock (the version before an update, finishing a renewal): Ready, said as such', () => {
    const v = judge(obs({ worker: { pid: 78, seq: 5, kind: 'monitor', startedAt: '2026-12-01T09:59:50Z' } }));
    expect(v).toEqual({ status: 'Ready', message: 'The previous monitor finishes its work on dockerd (pid 78, since 2026-12-01 09:59:50 UTC). Checked 2026-12-01 10:00:00 UTC.', reasons: ['applying'] });
  });

  test('an unreadable record: NotReady saying the next enable rewrites it', () => {
    expect(judge(obs({ specProblem: 'monitor.json: not valid JSON' })).message).toMatch(/cannot read its record .*not valid JSON.*the next enable rewrites it/);
  });

  test('before the first enable finished, and with the engine step switched off', () => {
    expect(judge({ now: NOW, disabled: false, drift: [] }).message).toBe('Waiting for the first enable to finish. Checked 2026-12-01 10:00:00 UTC.');
    const off = judge({ now: NOW, disabled: false, drift: [], lastEnable: { seq: 0, result: 'success', message: 'Settings applied with the engine step switched off.', at: '', version: '' } });
    expect(off).toMatchObject({ status: 'Ready', message: 'Settings applied with the engine step switched off. Checked 2026-12-01 10:00:00 UTC.' });
  });

  test('every message fits the heartbeat the agent publishes (1 KiB) without losing its status', () => {
    const long = 'x'.repeat(5000);
    const v = judge(obs({ lastEnable: { seq: 9, result: 'error', message: long, at: '', version: '' }, drift: Array.from({ length: 30 }, (_, i) => ({ path: `/f${i}`, what: 'f', kind: 'changed' as const, summary: `/etc/docker/file-${i} was changed`, details: {} })) }));
    const hb = JSON.parse(buildHeartbeat(v.status, v.message))[0].heartbeat;
    expect(hb.status).toBe('NotReady');
    expect(Array.from(hb.formattedMessage.message as string).length).toBeLessThanOrEqual(1024);
  });

  test('durations read naturally', () => {
    expect([ago(0), ago(89_000), ago(91_000), ago(89 * 60_000), ago(3 * 3_600_000), ago(3 * DAY)]).toEqual(['0 s', '89 s', '2 min', '89 min', '3 h', '3 days']);
  });
});

describe('a certificate issued on the VM (certs.issuer)', () => {
  const issued: MonitorTarget = {
    ...target,
    issuance: { issuerCertFile: '/etc/docker/issuer.pem', issuerKeyFile: '/etc/docker/issuer-key.pem', keyFile: '/etc/docker/key.pem', validityMs: 90 * DAY, renewBeforeMs: 30 * DAY, extraNames: [] },
  };
  const last = { at: '2026-11-30T08:00:00Z', notAfter: '2027-02-28T08:00:00Z', fingerprint256: 'AA:BB', reason: 'the certificate expires at …, within the renewal window' };

  test('Ready with its expiry and the last renewal; no "renew certs.cert" note when it nears its end (the monitor renews it)', () => {
    const v = judge(obs({ target: issued, cert: { subject: 'CN=vm1', notAfter: NOW + 5 * DAY }, renewal: { last } }));
    expect(v.status).toBe('Ready');
    expect(v.message).toContain('(server certificate CN=vm1 issued on this VM, valid until 2026-12-06 10:00:00 UTC, last renewed 2026-11-30 08:00:00 UTC)');
    expect(v.message).not.toMatch(/renew certs\.cert/);
    expect(v.reasons).toEqual([]);
  });

  test('a failed renewal is a note while the old certificate is valid, NotReady once it expired', () => {
    const failure = { at: NOW - 60_000, error: 'dockerd did not serve the new certificate on port 2376 within 60 s', nextAt: NOW + 540_000 };
    const note = judge(obs({ target: issued, cert: { subject: 'CN=vm1', notAfter: NOW + DAY }, renewal: { failure } }));
    expect(note.status).toBe('Ready');
    expect(note.message).toMatch(/^The server certificate issued on this VM stays valid until 2026-12-02 10:00:00 UTC, but renewing it failed \(dockerd did not serve .*\); the monitor tries again at 2026-12-01 10:09:00 UTC\./);
    expect(note.reasons).toEqual(['renewal-failed']);
    const expired = judge(obs({ target: issued, cert: { subject: 'CN=vm1', notAfter: NOW - 1000 }, renewal: { failure } }));
    expect(expired.status).toBe('NotReady');
    expect(expired.message).toMatch(/^The server certificate issued on this VM \(CN=vm1\) expired at 2026-12-01 09:59:59 UTC: clients refuse it; renewing it failed .* Re-applying the extension issues a new one\./);
    expect(expired.reasons).toEqual(['cert-expired']);
  });
});
