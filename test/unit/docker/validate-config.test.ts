// dockerd --validate as a plan step: which engines have it (from the binary's version), the step the
// plan carries (run or skipped, and why), dockerd's reason when it refuses. The real refusal by a 26.1
// dockerd is proved in the VM matrix (test/e2e/vm-distro-matrix.test.ts); here the host's own 20.10
// dockerd is read for real and gives the skipped step.
import { describe, expect, test } from '@jest/globals';
import { DEFAULT_LAYOUT } from '../../../handler/docker/desired.js';
import { describeSteps } from '../../../handler/docker/plan.js';
import { candidateFiles, parseDockerdVersion, readValidator, validationFailure, validationStep, validatorFor } from '../../../handler/docker/validate-config.js';
import { ExecaCommandRunner } from '../../../handler/system/exec.js';

const DJ = DEFAULT_LAYOUT.daemonJson;

describe('which dockerd has --validate', () => {
  test('the version as each distribution\'s dockerd prints it', () => {
    expect(parseDockerdVersion('Docker version 20.10.5+dfsg1, build 55c4c88\n')).toBe('20.10.5+dfsg1');
    expect(parseDockerdVersion('Docker version 26.1.5+dfsg1, build 411e817\n')).toBe('26.1.5+dfsg1');
    expect(parseDockerdVersion('Docker version 27.3.1, build 41ca978\n')).toBe('27.3.1');
    expect(parseDockerdVersion('dockerd: command not found')).toBeUndefined();
  });
  test('23.0 and later validate; 20.10 is skipped, saying why; an unreadable version is skipped too', () => {
    expect(validatorFor('/usr/sbin/dockerd', 'Docker version 26.1.5+dfsg1, build 411e817')).toEqual({ kind: 'validate', dockerd: '/usr/sbin/dockerd', version: '26.1.5+dfsg1' });
    expect(validatorFor('/usr/bin/dockerd', 'Docker version 23.0.0, build d7573ab')).toMatchObject({ kind: 'validate', version: '23.0.0' });
    expect(validatorFor('/usr/sbin/dockerd', 'Docker version 20.10.24+dfsg1, build 5d6db84')).toEqual({ kind: 'skip', why: 'dockerd 20.10.24+dfsg1 has no --validate (Docker 23.0 and later have it)' });
    expect(validatorFor('/usr/sbin/dockerd', undefined)).toMatchObject({ kind: 'skip', why: expect.stringMatching(/version of \/usr\/sbin\/dockerd could not be read/) });
  });
  test("the host's real dockerd (20.10) gives the skipped step; a missing binary too", async () => {
    const cmd = new ExecaCommandRunner();
    const v = await readValidator(cmd, '/usr/sbin/dockerd');
    expect(v).toEqual({ kind: 'skip', why: expect.stringMatching(/^dockerd 20\.10\.\S+ has no --validate/) });
    expect(await readValidator(cmd, '/nonexistent/dockerd')).toMatchObject({ kind: 'skip', why: expect.stringMatching(/could not be read/) });
    expect(await readValidator(cmd, undefined)).toEqual({ kind: 'skip', why: 'no dockerd binary was found' });
  });
});

describe('the plan step', () => {
  test('run: names the engine and says nothing is written first', () => {
    const s = validationStep({ kind: 'validate', dockerd: '/usr/sbin/dockerd', version: '26.1.5+dfsg1' }, DJ);
    expect(s).toMatchObject({ kind: 'validate-config', path: DJ, dockerd: '/usr/sbin/dockerd', version: '26.1.5+dfsg1' });
    expect(s.skipped).toBeUndefined();
    expect(describeSteps([s])).toEqual([`check the new ${DJ} with dockerd 26.1.5+dfsg1 --validate: dockerd checks the new daemon.json on a copy before it is written, so a value it refuses changes nothing`]);
  });
  test('skipped: the plan says so and what protects the restart instead', () => {
    const s = validationStep({ kind: 'skip', why: 'dockerd 20.10.24+dfsg1 has no --validate (Docker 23.0 and later have it)' }, DJ);
    expect(describeSteps([s])[0]).toBe(
      `check the new ${DJ} with dockerd --validate: skipped, dockerd 20.10.24+dfsg1 has no --validate (Docker 23.0 and later have it); dockerd itself proves the new daemon.json when it restarts or reloads; the previous one is restored if it refuses`,
    );
  });
});

describe('the copies dockerd checks', () => {
  const contents = new Map([
    ['/etc/docker/ca.pem', { data: 'CA' }],
    ['/etc/docker/key.pem', { data: 'KEY' }],
    [DJ, { data: JSON.stringify({ hosts: ['fd://', 'tcp://0.0.0.0:2376'], tlsverify: true, tlscacert: '/etc/docker/ca.pem', tlscert: '/etc/docker/cert.pem', tlskey: '/etc/docker/key.pem' }) }],
  ]);
  test('each new file daemon.json names is copied and named by its copy; a file not rewritten keeps its real path', () => {
    const c = candidateFiles('/state/candidate', DJ, contents, (p) => p);
    expect(c.files.map((f) => f.path)).toEqual(['/state/candidate/ca.pem', '/state/candidate/key.pem', '/state/candidate/daemon.json']);
    expect(c.configPath).toBe('/state/candidate/daemon.json');
    expect(JSON.parse(c.files.at(-1)!.content)).toEqual({
      hosts: ['fd://', 'tcp://0.0.0.0:2376'],
      tlsverify: true,
      tlscacert: '/state/candidate/ca.pem',
      tlscert: '/etc/docker/cert.pem', // unchanged: on disk already
      tlskey: '/state/candidate/key.pem',
    });
    expect(c.renames).toEqual([
      ['/state/candidate/ca.pem', '/etc/docker/ca.pem'],
      ['/state/candidate/key.pem', '/etc/docker/key.pem'],
      ['/state/candidate/daemon.json', DJ],
    ]);
  });
});

describe("dockerd's reason", () => {
  const renames = [
    ['/state/candidate/cert.pem', '/etc/docker/cert.pem'],
    ['/state/candidate/daemon.json', DJ],
  ] as const;
  test('plain stderr (26.1): kept whole, the copies named as the real files', () => {
    expect(validationFailure('\nunable to configure the Docker daemon with file /state/candidate/daemon.json: merged configuration validation from file and command line flags failed: invalid logging level: verbose\n', renames)).toBe(
      `unable to configure the Docker daemon with file ${DJ}: merged configuration validation from file and command line flags failed: invalid logging level: verbose`,
    );
    expect(validationFailure('invalid TLS configuration: Could not load X509 key pair (cert: "/state/candidate/cert.pem")', renames)).toBe('invalid TLS configuration: Could not load X509 key pair (cert: "/etc/docker/cert.pem")');
  });
  test('a logrus line: its msg', () => {
    expect(validationFailure('time="2026-12-01T13:00:00Z" level=fatal msg="unable to configure the Docker daemon with file /state/candidate/daemon.json: \\"x\\" is not valid"', renames)).toBe(
      `unable to configure the Docker daemon with file ${DJ}: "x" is not valid`,
    );
  });
  test('no output at all', () => {
    expect(validationFailure('\n', renames)).toBe('it gave no reason');
  });
});
