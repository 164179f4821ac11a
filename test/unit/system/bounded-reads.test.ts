import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { loadHandlerEnvironment } from '../../../handler/agent/handler-env.js';
import { readSettingsFile } from '../../../handler/agent/settings-file.js';
import { loadCertificatePair } from '../../../handler/crypto/certificate-pair.js';
import { readBounded, RootedFileSystem } from '../../../handler/system/fs.js';
import { makeWaagentCertificate, type WaagentCertificate } from '../../support/openssl-vectors.js';

// Files the agent (or anyone able to write where it does) hands the handler, as root reads them:
// a link to /dev/zero, a device node, a FIFO, a file far larger than its kind, bytes that are not
// UTF-8. Each must end quickly in an error naming the file, never in a hang or an exhausted memory.

const fs = new RootedFileSystem('/');
const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'bounded-'));
  dirs.push(d);
  return d;
}
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

const envelope = (pub: unknown) => JSON.stringify({ runtimeSettings: [{ handlerSettings: { publicSettings: pub } }] });

describe('config/N.settings is read bounded, as a regular file, as strict UTF-8', () => {
  test('a settings file linked to /dev/zero is refused at once, naming the file', async () => {
    const config = await tempDir();
    await symlink('/dev/zero', path.join(config, '0.settings'));
    const err = await readSettingsFile(fs, config, 0).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'EBADSETTINGSFILE' });
    expect((err as Error).message).toContain(path.join(config, '0.settings'));
    expect((err as Error).message).toContain('symbolic link');
    expect((err as Error).message).toContain('re-apply the extension');
  });

  test('a settings file that is a character device (the /dev/zero node itself) is refused', async () => {
    const config = await tempDir();
    execFileSync('mknod', [path.join(config, '0.settings'), 'c', '1', '5']);
    const err = await readSettingsFile(fs, config, 0).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'EBADSETTINGSFILE' });
    expect((err as Error).message).toMatch(/0\.settings is a character device, not a regular file/);
  });

  test('a settings file that is a FIFO is refused without waiting for a writer', async () => {
    const config = await tempDir();
    execFileSync('mkfifo', [path.join(config, '0.settings')]);
    const err = await readSettingsFile(fs, config, 0).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'EBADSETTINGSFILE' });
    expect((err as Error).message).toMatch(/0\.settings is a FIFO, not a regular file/);
  }, 5_000);

  test('a settings file above 4 MiB is refused; one just below is read', async () => {
    const config = await tempDir();
    const pad = (n: number) => envelope({ pad: 'x'.repeat(n - envelope({ pad: '' }).length) });
    await writeFile(path.join(config, '1.settings'), pad(4 * 1024 * 1024 + 1));
    const err = await readSettingsFile(fs, config, 1).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'EBADSETTINGSFILE' });
    expect((err as Error).message).toContain('larger than the 4 MiB');
    await writeFile(path.join(config, '2.settings'), pad(4 * 1024 * 1024));
    expect(await readSettingsFile(fs, config, 2)).toMatchObject({ publicSettings: { pad: expect.any(String) } });
  });

  test('invalid UTF-8 in the settings file is an error, not a silent U+FFFD', async () => {
    const config = await tempDir();
    const [head, tail] = envelope({ docker: { options: ['--label=MARK'] } }).split('MARK');
    await writeFile(path.join(config, '3.settings'), Buffer.concat([Buffer.from(head!), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from(tail!)]));
    const err = await readSettingsFile(fs, config, 3).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'EBADSETTINGSFILE' });
    expect((err as Error).message).toContain(`${path.join(config, '3.settings')} is not valid UTF-8 text`);
  });

  test('an empty settings file (an extension without settings) and a BOM still read as before', async () => {
    const config = await tempDir();
    await writeFile(path.join(config, '4.settings'), '');
    expect(await readSettingsFile(fs, config, 4)).toEqual({ publicSettings: null });
    await writeFile(path.join(config, '5.settings'), `\uFEFF${envelope({ a: 'é' })}`);
    expect(await readSettingsFile(fs, config, 5)).toEqual({ publicSettings: { a: 'é' } });
  });
});

describe('HandlerEnvironment.json', () => {
  test('a FIFO is refused, naming the file and what to do', async () => {
    const dir = await tempDir();
    execFileSync('mkfifo', [path.join(dir, 'HandlerEnvironment.json')]);
    const err = await loadHandlerEnvironment(fs, [dir]).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'EBADHANDLERENV' });
    expect((err as Error).message).toContain(`${path.join(dir, 'HandlerEnvironment.json')} is a FIFO`);
    expect((err as Error).message).toContain('systemctl restart walinuxagent');
  }, 5_000);

  test('a link to another file is refused', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'elsewhere.json'), '[]');
    await symlink(path.join(dir, 'elsewhere.json'), path.join(dir, 'HandlerEnvironment.json'));
    await expect(loadHandlerEnvironment(fs, [dir])).rejects.toMatchObject({ code: 'EBADHANDLERENV', message: expect.stringContaining('symbolic link') });
  });
});

describe("the agent's certificate and key", () => {
  let cert: WaagentCertificate;
  let certSource: string;
  beforeAll(async () => {
    certSource = await mkdtemp(path.join(tmpdir(), 'bounded-cert-'));
    cert = await makeWaagentCertificate(certSource);
  });
  afterAll(() => rm(certSource, { recursive: true, force: true }));

  async function certDir(): Promise<string> {
    const d = await tempDir();
    await cp(cert.crtPath, path.join(d, path.basename(cert.crtPath)));
    await cp(cert.prvPath, path.join(d, path.basename(cert.prvPath)));
    return d;
  }

  test('the real pair is read', async () => {
    const d = await certDir();
    expect((await loadCertificatePair(fs, d, cert.thumbprint)).keyPem).toBe(cert.keyPem);
  });

  test('a .prv that is a symbolic link is refused, naming it', async () => {
    const d = await certDir();
    const prv = path.join(d, path.basename(cert.prvPath));
    await rm(prv);
    await symlink(cert.prvPath, prv);
    const err = await loadCertificatePair(fs, d, cert.thumbprint).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ENOCERT' });
    expect((err as Error).message).toContain(`${prv} is a symbolic link`);
  });

  test('a certificate above 64 KiB is refused, naming it', async () => {
    const d = await certDir();
    const crt = path.join(d, path.basename(cert.crtPath));
    await writeFile(crt, cert.certPem + '\n'.repeat(64 * 1024));
    const err = await loadCertificatePair(fs, d, cert.thumbprint).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ENOCERT' });
    expect((err as Error).message).toContain(`${crt} is larger than the 64 KiB`);
  });
});

describe('readBounded', () => {
  test('a link is followed only when the caller allows it, and still bounded', async () => {
    const d = await tempDir();
    await writeFile(path.join(d, 'real'), 'abc');
    await symlink(path.join(d, 'real'), path.join(d, 'link'));
    await expect(readBounded(path.join(d, 'link'))).rejects.toMatchObject({ code: 'EUNSAFEFILE' });
    expect((await readBounded(path.join(d, 'link'), { followLinks: true }))?.toString()).toBe('abc');
    await expect(readBounded(path.join(d, 'link'), { followLinks: true, maxBytes: 2 })).rejects.toMatchObject({ code: 'EFILETOOLARGE' });
    await expect(readBounded('/dev/zero', { followLinks: true })).rejects.toMatchObject({ code: 'EUNSAFEFILE' });
  });

  test('absent is undefined; a directory is refused', async () => {
    const d = await tempDir();
    expect(await readBounded(path.join(d, 'nothing'))).toBeUndefined();
    await mkdir(path.join(d, 'dir'));
    await expect(readBounded(path.join(d, 'dir'))).rejects.toMatchObject({ message: expect.stringContaining('is a directory') });
  });

  test('a RootedFileSystem names the path as the caller knows it, not the temp root', async () => {
    const d = await tempDir();
    await mkdir(path.join(d, 'etc/docker'), { recursive: true });
    await symlink('/dev/zero', path.join(d, 'etc/docker/daemon.json'));
    await expect(new RootedFileSystem(d).readText('/etc/docker/daemon.json')).rejects.toThrow(/^\/etc\/docker\/daemon\.json is a symbolic link/);
  });
});

test('an engine file refused without a caller-specific hint still says what to do', async () => {
  const d = await mkdtemp(path.join(tmpdir(), 'bounded-'));
  dirs.push(d);
  await mkdir(path.join(d, 'etc/docker'), { recursive: true });
  await symlink('/tmp/elsewhere.pem', path.join(d, 'etc/docker/key.pem'));
  await expect(new RootedFileSystem(d).readBytes('/etc/docker/key.pem')).rejects.toThrow(
    '/etc/docker/key.pem is a symbolic link; the handler runs as root and does not read through a link it did not make; put the file itself there (or remove the link: rm /etc/docker/key.pem) and retry',
  );
});
