import { describe, expect, test } from '@jest/globals';
import { combineConfigs, FLAG_TABLE, RELOADABLE_KEYS, splitWords, translateDockerOptions, translateFlags } from '../../../handler/docker/options.js';

describe('splitWords', () => {
  test('shell-like quoting', () => {
    expect(splitWords(`--label "a=b c" --log-opt 'x=y z' plain\\ word`)).toEqual(['--label', 'a=b c', '--log-opt', 'x=y z', 'plain word']);
  });
});

describe('translateDockerOptions: known flags to daemon.json keys', () => {
  test('both spellings, one element or split across elements', () => {
    const r = translateDockerOptions(['--registry-mirror=https://m1', '--registry-mirror https://m2', '--log-driver', 'journald', '--insecure-registry=r:5000']);
    expect(r.problems).toEqual([]);
    expect(r.config).toEqual({ 'registry-mirrors': ['https://m1', 'https://m2'], 'log-driver': 'journald', 'insecure-registries': ['r:5000'] });
  });

  test('every kind of value', () => {
    const r = translateDockerOptions([
      '--log-opt max-size=10m',
      '--log-opt=max-file=3',
      '--storage-driver=overlay2',
      '--data-root /mnt/docker',
      '--label env=prod',
      '--label=team=a=b',
      '--dns 10.0.0.2 --dns 10.0.0.3',
      '--default-ulimit nofile=1024:2048',
      '--default-ulimit nproc=512',
      '--live-restore',
      '-D',
      '--experimental=false',
      '--max-concurrent-downloads 6',
      '--bip 172.26.0.1/16',
      '--mtu=1400',
      '--exec-opt native.cgroupdriver=systemd',
      '--add-runtime crun=/usr/bin/crun',
      '--default-address-pool base=10.10.0.0/16,size=24',
      '-l warn',
    ]);
    expect(r.problems).toEqual([]);
    expect(r.config).toEqual({
      'log-opts': { 'max-size': '10m', 'max-file': '3' },
      'storage-driver': 'overlay2',
      'data-root': '/mnt/docker',
      labels: ['env=prod', 'team=a=b'],
      dns: ['10.0.0.2', '10.0.0.3'],
      'default-ulimits': { nofile: { Name: 'nofile', Hard: 2048, Soft: 1024 }, nproc: { Name: 'nproc', Hard: 512, Soft: 512 } },
      'live-restore': true,
      debug: true,
      experimental: false,
      'max-concurrent-downloads': 6,
      bip: '172.26.0.1/16',
      mtu: 1400,
      'exec-opts': ['native.cgroupdriver=systemd'],
      runtimes: { crun: { path: '/usr/bin/crun' } },
      'default-address-pools': [{ base: '10.10.0.0/16', size: 24 }],
      'log-level': 'warn',
    });
  });

  test.each([
    ['-H tcp://0.0.0.0:2375', /"docker\.options" cannot contain "-H": the listeners are managed by the extension: use the public setting "docker\.port"/],
    ['--host=unix:///x.sock', /cannot contain "--host"/],
    ['--tlsverify', /cannot contain "--tlsverify": TLS is configured from the protected setting "certs"/],
    ['--tlskey /k.pem', /cannot contain "--tlskey"/],
    ['--config-file /x.json', /cannot contain "--config-file"/],
    ['--registry-mirrors https://x', /unknown dockerd option "--registry-mirrors"; did you mean "--registry-mirror"\?/],
    ['--frobnicate', /unknown dockerd option "--frobnicate"; see the options table/],
    ['--debug false', /"false", which is not an option/],
    ['--mtu big', /--mtu big": --mtu takes a whole number/],
    ['--log-opt', /"--log-opt" without a value \(for example "--log-opt=max-size=10m"\)/],
    ['--default-ulimit nofile', /takes NAME=SOFT\[:HARD\]/],
    ['--live-restore=yes', /takes true or false/],
  ])('%s is refused with a message naming docker.options and the option', (opt, msg) => {
    const r = translateDockerOptions([opt]);
    expect(r.problems.join('\n')).toMatch(msg);
    expect(r.problems.join('\n')).toMatch(/public setting "docker\.options"/);
  });

  test.each([['--data-root', '../../etc'], ['--exec-root', 'run/docker'], ['--pidfile', '/run/../etc/passwd'], ['--init-path', '../x'], ['--containerd', 'c.sock']])(
    'a path option needs an absolute path without "..": %s %s',
    (flag, value) => {
      expect(translateDockerOptions([flag, value]).problems.join('\n')).toContain(`${flag} takes an absolute path without ".."`);
    },
  );

  test('all problems are reported at once', () => {
    expect(translateDockerOptions(['--tls', '--nope', '--mtu=x']).problems).toHaveLength(3);
  });
});

describe('the old extension\'s dockerd flags', () => {
  test.each([
    ['-g /mnt/docker', ['-g /mnt/docker']],
    ['-g=/mnt/docker', ['-g=/mnt/docker']],
    ['--graph /mnt/docker', ['--graph', '/mnt/docker']],
    ['--graph=/mnt/docker', ['--graph=/mnt/docker']],
  ])('%s is data-root, with a note saying to write --data-root', (_name, opts) => {
    const r = translateDockerOptions(opts);
    expect(r.problems).toEqual([]);
    expect(r.config).toEqual({ 'data-root': '/mnt/docker' });
    expect(r.notes).toHaveLength(1);
    expect(r.notes[0]).toMatch(/^public setting "docker\.options" has "(-g|--graph)", the old name of "--data-root", and is taken as such: write "--data-root=\/mnt\/docker"$/);
  });

  test('-g keeps the path check of --data-root', () => {
    expect(translateDockerOptions(['-g mnt/docker']).problems.join('\n')).toContain('--data-root takes an absolute path without ".."');
  });

  test.each([['--disable-legacy-registry'], ['--disable-legacy-registry=true'], ['--disable-legacy-registry', 'true'], ['--disable-legacy-registry false']])(
    '%s is left out (removed from dockerd), with a note',
    (...opts) => {
      const r = translateDockerOptions([...opts, '--debug']);
      expect(r.problems).toEqual([]);
      expect(r.config).toEqual({ debug: true });
      expect(r.notes).toEqual([expect.stringMatching(/^public setting "docker\.options" has "--disable-legacy-registry", which is left out: Docker removed it .*; remove it$/)]);
    },
  );

  test('an old template\'s options all at once: one note per old flag', () => {
    const r = translateDockerOptions(['--graph=/mnt/docker --disable-legacy-registry --log-driver=journald']);
    expect(r.problems).toEqual([]);
    expect(r.config).toEqual({ 'data-root': '/mnt/docker', 'log-driver': 'journald' });
    expect(r.notes).toHaveLength(2);
  });

  test('the current spellings give no notes', () => {
    expect(translateDockerOptions(['--data-root=/mnt/docker']).notes).toEqual([]);
  });

  test('a misspelt old flag is still unknown, with a suggestion', () => {
    expect(translateDockerOptions(['--grap=/x']).problems.join('\n')).toMatch(/unknown dockerd option "--grap"/);
  });

  test('an unknown short flag gets no unrelated suggestion ("-q" is not a typo of "--ip")', () => {
    const said = translateDockerOptions(['-q', '--storagedriver=overlay2']).problems.join('\n');
    expect(said).toMatch(/unknown dockerd option "-q"; see the options table/);
    expect(said).toMatch(/unknown dockerd option "--storagedriver"; did you mean "--storage-driver"\?/);
  });
});

describe('translateFlags in a unit', () => {
  test('vendor ExecStart flags move; managed flags allowed; unknown collected', () => {
    const r = translateFlags(['-H', 'fd://', '--containerd=/run/containerd/containerd.sock', '--exec-opt', 'native.cgroupdriver=systemd', '--weird', '--config-file=/x.json'], { context: 'unit' });
    expect(r.config).toEqual({ hosts: ['fd://'], containerd: '/run/containerd/containerd.sock', 'exec-opts': ['native.cgroupdriver=systemd'] });
    expect(r.unknown).toEqual(['--weird']);
    expect(r.configFile).toBe('/x.json');
  });
});

describe('combineConfigs (vendor flags, then user options)', () => {
  test('lists union, maps merge, scalars from the user, exec-opts replaced by name', () => {
    expect(
      combineConfigs(
        { 'exec-opts': ['native.cgroupdriver=systemd'], labels: ['a=1'], 'log-opts': { a: '1' }, containerd: '/x' },
        { 'exec-opts': ['native.cgroupdriver=cgroupfs'], labels: ['a=1', 'b=2'], 'log-opts': { b: '2' }, containerd: '/y' },
      ),
    ).toEqual({ 'exec-opts': ['native.cgroupdriver=cgroupfs'], labels: ['a=1', 'b=2'], 'log-opts': { a: '1', b: '2' }, containerd: '/y' });
  });
});

test('the table maps each flag to one key and names reloadable keys', () => {
  const keys = FLAG_TABLE.map((f) => f.key);
  expect(new Set(keys).size).toBe(keys.length);
  expect([...RELOADABLE_KEYS].sort()).toEqual(
    ['allow-nondistributable-artifacts', 'debug', 'default-cgroupns-mode', 'default-ipc-mode', 'default-runtime', 'default-shm-size', 'insecure-registries', 'labels', 'live-restore', 'max-concurrent-downloads', 'max-concurrent-uploads', 'max-download-attempts', 'registry-mirrors', 'runtimes', 'shutdown-timeout'].sort(),
  );
});
