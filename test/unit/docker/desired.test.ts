// Pure: daemon.json merge/ownership, desired state from settings + unit facts, and the
// diff/restart decision table.
import { describe, expect, test } from '@jest/globals';
import { parseSettings } from '../../../handler/agent/settings.js';
import { changedKeys, foreignView, mergeDaemonConfig, parseDaemonJson, tcpTarget } from '../../../handler/docker/daemon-config.js';
import { computeDesired, DEFAULT_LAYOUT, type DesiredState, type EngineState } from '../../../handler/docker/desired.js';
import { describeSteps, diffConfig, type ObservedConfig } from '../../../handler/docker/plan.js';
import type { DaemonLaunch } from '../../../handler/system/service-manager.js';
import { ConfigError } from '../../../handler/errors.js';

// Not real certificates: computeDesired does not parse them (certs.ts does, before).
const CERTS = { ca: '-----BEGIN CERTIFICATE-----\nQ0E=\n-----END CERTIFICATE-----\n', cert: '-----BEGIN CERTIFICATE-----\nQ0VSVA==\n-----END CERTIFICATE-----\n', key: '-----BEGIN PRIVATE KEY-----\nS0VZ\n-----END PRIVATE KEY-----\n' };

const debianUnit: DaemonLaunch = {
  manager: 'systemd',
  dockerdPath: '/usr/sbin/dockerd',
  replaceableArgs: ['-H', 'fd://', '--containerd=/run/containerd/containerd.sock'],
  replaceableSource: '/lib/systemd/system/docker.service',
  fixedArgs: [],
  socketActivated: true,
  socketPath: '/run/docker.sock',
  installed: true,
  notes: [],
};
const azureLinuxUnit: DaemonLaunch = { ...debianUnit, dockerdPath: '/usr/bin/dockerd', replaceableArgs: ['-H', 'fd://', '--containerd=/run/containerd/containerd.sock', '--exec-opt', 'native.cgroupdriver=systemd'], replaceableSource: '/usr/lib/systemd/system/docker.service' };

const desired = (pub: Record<string, unknown>, prot: Record<string, unknown>, launch: DaemonLaunch, current: Record<string, unknown> = {}, state?: EngineState, removal = false) =>
  computeDesired({ settings: parseSettings(pub, prot), launch, current: current as never, currentExists: Object.keys(current).length > 0, state, layout: DEFAULT_LAYOUT, removal });

describe('daemon.json merge and ownership', () => {
  test('foreign keys stay in place and in order; our keys appended; priors recorded', () => {
    const r = mergeDaemonConfig({ 'userland-proxy-path': '/usr/libexec/docker-proxy', 'log-driver': 'journald' }, {}, { hosts: ['fd://'], 'log-driver': 'json-file' });
    expect(Object.keys(r.config)).toEqual(['userland-proxy-path', 'log-driver', 'hosts']);
    expect(r.config['log-driver']).toBe('json-file');
    expect(r.owned).toEqual({ hosts: { hadPrior: false }, 'log-driver': { hadPrior: true, prior: 'journald' } });
  });
  test('keys we no longer want go back to the admin\'s value or away', () => {
    const owned = { hosts: { hadPrior: false }, 'log-driver': { hadPrior: true, prior: 'journald' } };
    const current = { 'userland-proxy-path': '/p', 'log-driver': 'json-file', hosts: ['fd://'] };
    expect(foreignView(current, owned)).toEqual({ 'userland-proxy-path': '/p', 'log-driver': 'journald' });
    expect(mergeDaemonConfig(current, owned, {}).config).toEqual({ 'userland-proxy-path': '/p', 'log-driver': 'journald' });
  });
  test('invalid JSON is a ConfigError naming the file', () => {
    expect(() => parseDaemonJson('{"a":', '/etc/docker/daemon.json')).toThrow(/\/etc\/docker\/daemon\.json is not valid JSON at line 1, column 6 \(expected a value, but the text ends\)/);
    expect(() => parseDaemonJson('[1]', '/etc/docker/daemon.json')).toThrow(ConfigError);
    expect(parseDaemonJson('  ', '/x')).toEqual({});
  });
  test('changedKeys and tcpTarget', () => {
    expect(changedKeys({ a: 1, b: [1], c: 1 }, { a: 1, b: [2], d: 1 })).toEqual([
      { key: 'b', change: 'changed' },
      { key: 'c', change: 'removed' },
      { key: 'd', change: 'added' },
    ]);
    expect(tcpTarget('tcp://0.0.0.0:2376')).toEqual({ host: '127.0.0.1', port: 2376 });
    expect(tcpTarget('tcp://[::]:2376')).toEqual({ host: '::1', port: 2376 });
    expect(tcpTarget('tcp://10.0.0.4:2376')).toEqual({ host: '10.0.0.4', port: 2376 });
  });
});

describe('computeDesired', () => {
  test('Debian docker.io with certs: one drop-in, unit flags moved, fd:// kept, TLS on 2376', () => {
    const d = desired({}, { certs: CERTS }, debianUnit, { 'log-level': 'warn' });
    expect(d.config).toEqual({
      'log-level': 'warn',
      'live-restore': true,
      hosts: ['fd://', 'tcp://0.0.0.0:2376'],
      containerd: '/run/containerd/containerd.sock',
      tlsverify: true,
      tlscacert: '/etc/docker/ca.pem',
      tlscert: '/etc/docker/cert.pem',
      tlskey: '/etc/docker/key.pem',
    });
    expect(d.dropIn?.path).toBe('/etc/systemd/system/docker.service.d/10-azure-docker-extension.conf');
    expect(d.dropIn?.content).toMatch(/\[Service\]\nExecStart=\nExecStart=\/usr\/sbin\/dockerd\n$/);
    expect(d.files.map((f) => [f.path, f.mode.toString(8), f.sensitive])).toEqual([
      ['/etc/docker/ca.pem', '644', false],
      ['/etc/docker/cert.pem', '644', false],
      ['/etc/docker/key.pem', '600', true],
    ]);
    expect(d.verify).toMatchObject({ socketPath: '/run/docker.sock', tcp: { host: '127.0.0.1', port: 2376, tls: { caPem: CERTS.ca } } });
  });

  test('no certs, no port: local socket only, vendor unit untouched', () => {
    const d = desired({}, {}, debianUnit, { 'userland-proxy-path': '/usr/libexec/docker-proxy' });
    // live-restore needs no drop-in: the unit does not pass it
    expect(d.config).toEqual({ 'userland-proxy-path': '/usr/libexec/docker-proxy', 'live-restore': true });
    expect(d.dropIn).toBeUndefined();
    expect(d.removeDropIn).toBe(true);
    expect(d.tcp).toBeUndefined();
    expect(d.verify).toEqual({ socketPath: '/run/docker.sock' });
  });

  test('options that do not clash with the unit need no drop-in', () => {
    const d = desired({ docker: { options: ['--log-driver=journald'] } }, {}, debianUnit);
    expect(d.config).toEqual({ 'log-driver': 'journald', 'live-restore': true });
    expect(d.dropIn).toBeUndefined();
  });

  test('Azure Linux: a user --exec-opt clashes with the unit → drop-in; cgroup driver taken from the user', () => {
    const d = desired({ docker: { options: ['--exec-opt native.cgroupdriver=cgroupfs'] } }, {}, azureLinuxUnit, { 'userland-proxy-path': '/usr/libexec/docker-proxy' });
    expect(d.dropIn?.content).toContain('ExecStart=/usr/bin/dockerd');
    expect(d.config).toEqual({
      'userland-proxy-path': '/usr/libexec/docker-proxy',
      'live-restore': true,
      hosts: ['fd://'],
      containerd: '/run/containerd/containerd.sock',
      'exec-opts': ['native.cgroupdriver=cgroupfs'],
    });
  });

  test('custom port; port-without-certs needs the opt-in and is explicit about TLS', () => {
    expect(desired({ docker: { port: 4243 } }, { certs: CERTS }, debianUnit).config.hosts).toEqual(['fd://', 'tcp://0.0.0.0:4243']);
    const d = desired({ docker: { port: 2375, allowInsecureTcp: true } }, {}, debianUnit);
    expect(d.config).toMatchObject({ hosts: ['fd://', 'tcp://0.0.0.0:2375'], tls: false, tlsverify: false });
    expect(d.warnings.join()).toMatch(/WITHOUT TLS/);
  });

  test('an old template\'s "-g" and "--disable-legacy-registry": data-root set, the flag left out, both warned', () => {
    const d = desired({ Docker: { port: '', options: ['-g /mnt/docker', '--disable-legacy-registry'] } }, {}, debianUnit);
    expect(d.config['data-root']).toBe('/mnt/docker');
    expect(d.config).not.toHaveProperty('disable-legacy-registry');
    expect(JSON.stringify(d.config)).not.toContain('tcp://');
    expect(d.warnings.join('\n')).toMatch(/"-g", the old name of "--data-root", and is taken as such: write "--data-root=\/mnt\/docker"/);
    expect(d.warnings.join('\n')).toMatch(/"--disable-legacy-registry", which is left out/);
  });

  test('a foreign drop-in that sorts after ours and sets ExecStart is reported, nothing changed', () => {
    expect(() => desired({}, { certs: CERTS }, { ...debianUnit, overriddenBy: '/etc/systemd/system/docker.service.d/override.conf', fixedArgs: ['-H', 'fd://'] })).toThrow(
      /override\.conf sets ExecStart= for docker\.service and sorts after the extension's drop-in/,
    );
  });

  test('a unit flag we cannot translate is reported when it would have to move', () => {
    expect(() => desired({}, { certs: CERTS }, { ...debianUnit, replaceableArgs: [...debianUnit.replaceableArgs, '--cluster-store=consul://x'] })).toThrow(/passes --cluster-store=consul:\/\/x to dockerd, which the extension cannot move/);
  });

  test('an option clashing with a flag that stays on the command line names docker.options', () => {
    const direct: DaemonLaunch = { ...debianUnit, manager: 'direct', replaceableArgs: [], fixedArgs: ['--pidfile', '/run/docker.pid', '--data-root', '/x'], fixedSource: 'the direct manager' };
    expect(() => desired({ docker: { options: ['--data-root=/mnt/d'] } }, {}, direct)).toThrow(/public setting "docker\.options" sets --data-root, which the direct manager already passes \(--data-root\)/);
  });

  test('removal: priors restored, hosts and TLS keys gone, drop-in removed, our certificate files removed', () => {
    const first = desired({ docker: { options: ['--log-driver=json-file'] } }, { certs: CERTS }, debianUnit, { 'log-driver': 'journald', 'userland-proxy-path': '/p' });
    const state: EngineState = { version: 1, daemonJson: { path: '/etc/docker/daemon.json', owned: first.owned, created: false }, files: first.files.map((f) => f.path), dropIn: first.dropIn!.path };
    const r = desired({}, {}, debianUnit, first.config, state, true);
    expect(r.config).toEqual({ 'log-driver': 'journald', 'userland-proxy-path': '/p' });
    expect(r.removeDropIn).toBe(true);
    expect(r.removeFiles).toEqual(['/etc/docker/ca.pem', '/etc/docker/cert.pem', '/etc/docker/key.pem']);
    expect(r.owned).toEqual({});
  });

  test('Debian DOCKER_OPTS from /etc/default/docker (already expanded by the manager) move too', () => {
    const d = desired({}, { certs: CERTS }, { ...debianUnit, replaceableArgs: [...debianUnit.replaceableArgs, '--dns', '8.8.8.8'] });
    expect(d.config.dns).toEqual(['8.8.8.8']);
    expect(d.moved).toContain('8.8.8.8');
  });
});

describe('diffConfig: restart only when needed', () => {
  const observe = (d: DesiredState, over: Partial<ObservedConfig> = {}, disk: Record<string, unknown> = d.config): ObservedConfig => {
    const files: ObservedConfig['files'] = {};
    for (const f of [...d.files, ...(d.dropIn ? [d.dropIn] : [])]) files[f.path] = { content: Buffer.from(f.content), mode: f.mode };
    return {
      daemonJson: { parsed: disk as never, content: Buffer.from(JSON.stringify(disk)), mode: 0o644 },
      files,
      running: true,
      enabled: true,
      interrupted: false,
      stateChanged: false,
      statePath: '/state/engine-state.json',
      ...over,
    };
  };
  const base = desired({ docker: { options: ['--label a=1'] } }, { certs: CERTS }, debianUnit);

  test('equal → nothing to do but verify', () => {
    const p = diffConfig(base, observe(base), DEFAULT_LAYOUT);
    expect(p.action).toBe('none');
    expect(p.filesChanged).toBe(false);
    expect(p.steps.map((s) => s.kind)).toEqual(['verify']);
  });
  test('equal but formatted differently → not rewritten', () => {
    const o = observe(base);
    o.daemonJson.content = Buffer.from(JSON.stringify(base.config, null, 8));
    expect(diffConfig(base, o, DEFAULT_LAYOUT).filesChanged).toBe(false);
  });
  test('only a reloadable key changed → reload', () => {
    const p = diffConfig(base, observe(base, {}, { ...base.config, labels: ['a=0'] }), DEFAULT_LAYOUT);
    expect(p.action).toBe('reload');
    expect(p.reasons).toEqual(['labels changed']);
  });
  test('a reloadable key removed → restart (SIGHUP keeps the old value)', () => {
    const noLabels = desired({}, { certs: CERTS }, debianUnit);
    expect(diffConfig(noLabels, observe(noLabels, {}, base.config), DEFAULT_LAYOUT).action).toBe('restart');
  });
  test('a restart-requiring key changed → restart', () => {
    const p = diffConfig(base, observe(base, {}, { ...base.config, hosts: ['fd://'] }), DEFAULT_LAYOUT);
    expect(p.action).toBe('restart');
  });
  test('certificate content changed → restart; mode only → chmod, no restart', () => {
    const o = observe(base);
    o.files['/etc/docker/cert.pem'] = { content: Buffer.from('old'), mode: 0o644 };
    expect(diffConfig(base, o, DEFAULT_LAYOUT).reasons).toEqual(['the TLS certificate files changed (SIGHUP does not reload them)']);
    const m = observe(base);
    m.files['/etc/docker/key.pem']!.mode = 0o644;
    const p = diffConfig(base, m, DEFAULT_LAYOUT);
    expect(p.action).toBe('none');
    expect(p.chmods).toEqual([{ path: '/etc/docker/key.pem', mode: 0o600 }]);
  });
  test('drop-in new → daemon-reload and restart', () => {
    const o = observe(base);
    delete o.files[base.dropIn!.path];
    const p = diffConfig(base, o, DEFAULT_LAYOUT);
    expect(p.daemonReload).toBe(true);
    expect(p.action).toBe('restart');
  });
  test('not running → start; interrupted earlier → restart; not enabled → enable', () => {
    expect(diffConfig(base, observe(base, { running: false }), DEFAULT_LAYOUT).action).toBe('start');
    expect(diffConfig(base, observe(base, { interrupted: true }), DEFAULT_LAYOUT).action).toBe('restart');
    expect(diffConfig(base, observe(base, { enabled: false }), DEFAULT_LAYOUT).steps.map((s) => s.kind)).toEqual(['enable-service', 'verify']);
  });
  test('steps show no secret and no hash of one', () => {
    const o = observe(base);
    o.files = {};
    const lines = describeSteps(diffConfig(base, o, DEFAULT_LAYOUT).steps).join('\n');
    expect(lines).toMatch(/write \/etc\/docker\/key\.pem \(mode 600, \d+ bytes, secret: no hash shown\)/);
    expect(lines).not.toContain('S0VZ');
    expect(JSON.stringify(diffConfig(base, o, DEFAULT_LAYOUT).steps)).not.toContain('S0VZ');
  });
});

describe('live-restore: containers keep running through the restarts the extension makes', () => {
  test('on by default', () => {
    expect(desired({}, {}, debianUnit).config['live-restore']).toBe(true);
  });
  test('"docker.liveRestore": false leaves it alone', () => {
    expect(desired({ docker: { liveRestore: false } }, {}, debianUnit).config).not.toHaveProperty('live-restore');
  });
  test('an explicit value wins: docker.options, or the admin\'s own daemon.json', () => {
    expect(desired({ docker: { options: ['--live-restore=false'] } }, {}, debianUnit).config['live-restore']).toBe(false);
    expect(desired({}, {}, debianUnit, { 'live-restore': false }).config['live-restore']).toBe(false);
  });
  test('the unit\'s own --live-restore wins too: the key is not added, so dockerd does not refuse flag and file', () => {
    const dropIn: DaemonLaunch = { ...debianUnit, fixedArgs: ['-H', 'fd://', '--live-restore'], fixedSource: '/etc/systemd/system/docker.service.d/admin.conf' };
    expect(desired({}, {}, dropIn).config).not.toHaveProperty('live-restore');
    const vendor: DaemonLaunch = { ...debianUnit, replaceableArgs: [...debianUnit.replaceableArgs, '--live-restore'] };
    expect(desired({}, {}, vendor).config).not.toHaveProperty('live-restore');
  });
  test('a swarm node: left off, with a warning that says why', () => {
    const d = computeDesired({ settings: parseSettings({}, {}), launch: debianUnit, current: {}, currentExists: false, state: undefined, layout: DEFAULT_LAYOUT, swarmActive: true });
    expect(d.config).not.toHaveProperty('live-restore');
    expect(d.warnings.join()).toMatch(/live-restore is left off: this node is in swarm mode/);
  });
});
