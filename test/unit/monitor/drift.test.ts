import { describe, expect, test } from '@jest/globals';
import { changedKeyNames, detectDrift, type FileNow } from '../../../handler/monitor/drift.js';
import type { WatchedFile } from '../../../handler/monitor/spec.js';

const daemonJson: WatchedFile = { path: '/etc/docker/daemon.json', what: 'daemon.json', sha256: 'a1', mode: 0o644, sensitive: false, json: { hosts: ['fd://'], 'log-level': 'info', labels: ['a'] } };
const cert: WatchedFile = { path: '/etc/docker/cert.pem', what: 'server certificate', sha256: 'c1', mode: 0o644, sensitive: false };
const key: WatchedFile = { path: '/etc/docker/key.pem', what: 'server private key', sha256: 'k1', mode: 0o600, sensitive: true };
const dropIn: WatchedFile = { path: '/etc/systemd/system/docker.service.d/10-azure-docker-extension.conf', what: 'systemd drop-in', sha256: null, mode: null, sensitive: false };
const base = [daemonJson, cert, key, dropIn];

const same = (): Map<string, FileNow> =>
  new Map<string, FileNow>([
    [daemonJson.path, { sha256: 'a1', mode: 0o100644, json: daemonJson.json as Record<string, unknown> }],
    [cert.path, { sha256: 'c1', mode: 0o100644 }],
    [key.path, { sha256: 'k1', mode: 0o100600 }],
    [dropIn.path, { sha256: null, mode: null }],
  ]);

describe('changes made outside the extension', () => {
  test('nothing changed: no drift (file type bits in the mode do not count)', () => {
    expect(detectDrift(base, same())).toEqual([]);
  });

  test('daemon.json edited: the changed keys, sorted; values never in the summary', () => {
    const now = same();
    now.set(daemonJson.path, { sha256: 'a2', mode: 0o644, json: { hosts: ['fd://'], 'log-level': 'debug', debug: true, labels: ['a'] } });
    const [d] = detectDrift(base, now);
    expect(d).toMatchObject({ kind: 'changed', summary: '/etc/docker/daemon.json was edited (keys debug, log-level)', details: { keys: ['debug', 'log-level'] } });
    expect(JSON.stringify(d)).not.toContain('"debug":true');
  });

  test('daemon.json reformatted only, or broken', () => {
    const now = same();
    now.set(daemonJson.path, { sha256: 'a3', mode: 0o644, json: { labels: ['a'], 'log-level': 'info', hosts: ['fd://'] } });
    expect(detectDrift(base, now)[0]!.summary).toBe('/etc/docker/daemon.json was reformatted (same settings)');
    now.set(daemonJson.path, { sha256: 'a4', mode: 0o644, json: 'invalid' });
    expect(detectDrift(base, now)[0]!.summary).toMatch(/no longer valid JSON \(dockerd will refuse it at its next start\)/);
  });

  test('a replaced certificate names its new identity; a replaced key says only that', () => {
    const now = same();
    now.set(cert.path, { sha256: 'c2', mode: 0o644, cert: { subject: 'CN=other', fingerprint256: 'AA:BB', notAfter: '2027-01-01' } });
    now.set(key.path, { sha256: 'k2', mode: 0o600 });
    expect(detectDrift(base, now).map((d) => d.summary)).toEqual([
      'server certificate /etc/docker/cert.pem was replaced (now CN=other, valid until 2027-01-01)',
      'server private key /etc/docker/key.pem was replaced',
    ]);
  });

  test('removed files, a created file where the extension left none, a key made readable', () => {
    const now = same();
    now.set(cert.path, { sha256: null, mode: null });
    now.set(dropIn.path, { sha256: 'd1', mode: 0o644 });
    now.set(key.path, { sha256: 'k1', mode: 0o100644 });
    expect(detectDrift(base, now).map((d) => [d.kind, d.summary])).toEqual([
      ['removed', 'server certificate /etc/docker/cert.pem was removed'],
      ['mode', '/etc/docker/key.pem mode changed from 0600 to 0644 (the private key is readable by other users)'],
      ['created', '/etc/systemd/system/docker.service.d/10-azure-docker-extension.conf was created'],
    ]);
  });

  test('key names compare values deeply and ignore key order', () => {
    expect(changedKeyNames({ a: { x: 1, y: [1, 2] }, b: 1 }, { b: 1, a: { y: [1, 2], x: 1 } })).toEqual([]);
    expect(changedKeyNames({ a: 1 }, { a: 1, c: null })).toEqual(['c']);
  });
});
