// What DockerExtension 1.x left in the vendor unit (it rewrote /lib/systemd/system/docker.service's
// ExecStart in place: `-H=fd:// --tlsverify --tlscacert=/etc/docker/ca.pem --tlscert=… --tlskey=… -H=0.0.0.0:<port>`)
// is taken over by our drop-in: the flags move into daemon.json, the old TCP listener becomes ours
// (same port) or is replaced (another port), and no listener is given twice.
import { describe, expect, test } from '@jest/globals';
import { parseSettings } from '../../../handler/agent/settings.js';
import { computeDesired, DEFAULT_LAYOUT } from '../../../handler/docker/desired.js';
import type { DaemonLaunch } from '../../../handler/system/service-manager.js';

const CERTS = { ca: '-----BEGIN CERTIFICATE-----\nQ0E=\n-----END CERTIFICATE-----\n', cert: '-----BEGIN CERTIFICATE-----\nQ0VSVA==\n-----END CERTIFICATE-----\n', key: '-----BEGIN PRIVATE KEY-----\nS0VZ\n-----END PRIVATE KEY-----\n' };

// The ExecStart 1.x wrote (its BaseOpts, TLS flags and -H=0.0.0.0:<port>), with the distribution's dockerd.
const legacyArgs = (port: number) => ['-H=fd://', '--tlsverify', '--tlscacert=/etc/docker/ca.pem', '--tlscert=/etc/docker/cert.pem', '--tlskey=/etc/docker/key.pem', `-H=0.0.0.0:${port}`];
const legacyUnit = (port: number): DaemonLaunch => ({
  manager: 'systemd',
  dockerdPath: '/usr/sbin/dockerd',
  replaceableArgs: legacyArgs(port),
  replaceableSource: '/lib/systemd/system/docker.service',
  fixedArgs: [],
  socketActivated: true,
  socketPath: '/run/docker.sock',
  installed: true,
  notes: [],
});
const desired = (pub: Record<string, unknown>, prot: Record<string, unknown>, launch: DaemonLaunch) =>
  computeDesired({ settings: parseSettings(pub, prot), launch, current: {}, currentExists: false, state: undefined, layout: DEFAULT_LAYOUT });

describe('the unit edit DockerExtension 1.x left', () => {
  test('same port: its listener becomes ours, once; fd:// kept; TLS files are ours', () => {
    const d = desired({ docker: { port: 2376 } }, { certs: CERTS }, legacyUnit(2376));
    expect(d.dropIn?.content).toMatch(/^ExecStart=$/m);
    expect(d.config['hosts']).toEqual(['fd://', 'tcp://0.0.0.0:2376']);
    expect(d.config).toMatchObject({ tlsverify: true, tlscacert: '/etc/docker/ca.pem', tlscert: '/etc/docker/cert.pem', tlskey: '/etc/docker/key.pem' });
    expect(d.warnings.join('\n')).toMatch(/DockerExtension 1\.x had rewritten ExecStart in \/lib\/systemd\/system\/docker\.service; the extension's drop-in replaces it; its listener tcp:\/\/0\.0\.0\.0:2376 is kept, served with the certificates from the settings/);
    expect(d.removeFiles).toEqual([]);
  });
  test('another port: the old listener is replaced, and the status says so', () => {
    const d = desired({ docker: { port: 2377 } }, { certs: CERTS }, legacyUnit(4243));
    expect(d.config['hosts']).toEqual(['fd://', 'tcp://0.0.0.0:2377']);
    expect(d.warnings.join('\n')).toMatch(/its listener tcp:\/\/0\.0\.0\.0:4243 is no longer served \(the settings ask for tcp:\/\/0\.0\.0\.0:2377\)/);
  });
  test('no certs any more: its listener is not served, its certificate files are removed, and the status says both', () => {
    const d = desired({}, {}, legacyUnit(2376));
    expect(d.tcp).toBeUndefined();
    expect(d.dropIn?.content).toMatch(/^ExecStart=$/m);
    expect(d.config['hosts']).toEqual(['fd://']);
    expect(d.config).not.toHaveProperty('tlsverify');
    expect(d.removeFiles).toEqual(['/etc/docker/ca.pem', '/etc/docker/cert.pem', '/etc/docker/key.pem']);
    expect(d.warnings.join('\n')).toMatch(/its listener tcp:\/\/0\.0\.0\.0:2376 is no longer served \(the settings configure no TCP listener\)/);
    expect(d.warnings.join('\n')).toMatch(/certificate files DockerExtension 1\.x wrote .* are removed: the settings give no "certs"/);
  });
  test('its `daemon` subcommand (older 1.x) is dropped, not refused as an unknown flag', () => {
    const d = desired({ docker: { port: 2376 } }, { certs: CERTS }, { ...legacyUnit(2376), replaceableArgs: ['daemon', ...legacyArgs(2376)] });
    expect(d.config['hosts']).toEqual(['fd://', 'tcp://0.0.0.0:2376']);
  });
  test('uninstall keeps the drop-in over 1.x\'s ExecStart: dockerd serves the local socket only', () => {
    const d = computeDesired({ settings: parseSettings({}, {}), launch: legacyUnit(2376), current: {}, currentExists: false, state: undefined, layout: DEFAULT_LAYOUT, removal: true });
    expect(d.dropIn?.content).toMatch(/^ExecStart=\/usr\/sbin\/dockerd$/m);
    expect(d.removeDropIn).toBe(false);
    expect(d.config['hosts']).toEqual(['fd://']);
  });
  test('a vendor unit is not taken for 1.x\'s edit', () => {
    const d = desired({}, {}, { ...legacyUnit(2376), replaceableArgs: ['-H', 'fd://', '--containerd=/run/containerd/containerd.sock'] });
    expect(d.dropIn).toBeUndefined();
    expect(d.warnings.join('\n')).not.toMatch(/1\.x/);
  });
});
