import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { loadCertificatePair, thumbprintOf } from '../../../handler/crypto/certificate-pair.js';
import { DecryptError } from '../../../handler/crypto/decrypt-error.js';
import { decryptProtectedSettings } from '../../../handler/crypto/protected-settings.js';
import { RootedFileSystem } from '../../../handler/system/fs.js';
import type { FileStat, ReadFileSystem } from '../../../handler/system/ports.js';
import { encryptLikePlatform, makeWaagentCertificate, type WaagentCertificate } from '../../support/openssl-vectors.js';

const WAAGENT = '/var/lib/waagent';

let root: string;
let fs: RootedFileSystem;
let pair: WaagentCertificate;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'certpair-test-'));
  fs = new RootedFileSystem(root);
  pair = await makeWaagentCertificate(fs.resolve(WAAGENT));
});

afterAll(async () => {
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

async function failure(p: Promise<unknown>): Promise<DecryptError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof DecryptError) return e;
    throw e;
  }
  throw new Error('expected a DecryptError');
}

/** Records every path asked for, and can fail reads like a non-root process would. */
class RecordingFileSystem implements ReadFileSystem {
  readonly asked: string[] = [];
  constructor(
    private readonly inner: ReadFileSystem,
    private readonly denied: (p: string) => boolean = () => false,
  ) {}
  private check(p: string): void {
    this.asked.push(p);
    if (this.denied(p)) throw Object.assign(new Error(`EACCES: permission denied, open '${p}'`), { code: 'EACCES' });
  }
  async readText(p: string): Promise<string | undefined> {
    this.check(p);
    return this.inner.readText(p);
  }
  async readBytes(p: string): Promise<Buffer | undefined> {
    this.check(p);
    return this.inner.readBytes(p);
  }
  async stat(p: string): Promise<FileStat | undefined> {
    this.check(p);
    return this.inner.stat(p);
  }
  async list(dir: string): Promise<string[]> {
    this.check(dir);
    return this.inner.list(dir);
  }
  async exists(p: string): Promise<boolean> {
    this.check(p);
    return this.inner.exists(p);
  }
}

describe('thumbprintOf', () => {
  it('is the uppercase SHA-1 of the DER certificate, as openssl x509 -fingerprint computes it', () => {
    expect(thumbprintOf(pair.certPem)).toBe(pair.thumbprint);
    expect(pair.thumbprint).toMatch(/^[0-9A-F]{40}$/);
  });

  it('rejects text without a certificate: ENOCERT', () => {
    expect(() => thumbprintOf(pair.keyPem)).toThrow(DecryptError);
  });
});

describe('loadCertificatePair', () => {
  it('reads <THUMB>.crt/.prv and the pair decrypts a platform blob', async () => {
    const got = await loadCertificatePair(fs, WAAGENT, pair.thumbprint);
    expect(got).toEqual({ certPem: pair.certPem, keyPem: pair.keyPem, thumbprint: pair.thumbprint });
    const blob = await encryptLikePlatform('{"a":1}', pair.crtPath);
    expect(decryptProtectedSettings(blob, got.certPem, got.keyPem)).toBe('{"a":1}');
  });

  it('accepts a lowercase thumbprint and returns it uppercased', async () => {
    const got = await loadCertificatePair(fs, WAAGENT, pair.thumbprint.toLowerCase());
    expect(got.thumbprint).toBe(pair.thumbprint);
    expect(got.keyPem).toBe(pair.keyPem);
  });

  it('finds files whose names are not uppercase', async () => {
    const dir = '/other/waagent';
    await mkdir(fs.resolve(dir), { recursive: true });
    const lower = pair.thumbprint.toLowerCase();
    await copyFile(pair.crtPath, fs.resolve(`${dir}/${lower}.crt`));
    await copyFile(pair.prvPath, fs.resolve(`${dir}/${lower}.PRV`));
    expect((await loadCertificatePair(fs, dir, pair.thumbprint)).keyPem).toBe(pair.keyPem);
  });

  it('missing .prv: ENOCERT naming the file, the directory and what to do', async () => {
    const dir = '/crt-only';
    await mkdir(fs.resolve(dir), { recursive: true });
    await copyFile(pair.crtPath, fs.resolve(`${dir}/${pair.thumbprint}.crt`));
    const e = await failure(loadCertificatePair(fs, dir, pair.thumbprint));
    expect(e.code).toBe('ENOCERT');
    expect(e.message).toContain(`${pair.thumbprint}.prv is missing in ${dir}`);
    expect(e.message).toMatch(/out of sync.*restart the guest agent/);
  });

  it('missing directory: ENOCERT naming both files', async () => {
    const e = await failure(loadCertificatePair(fs, '/nowhere', pair.thumbprint));
    expect(e.code).toBe('ENOCERT');
    expect(e.message).toContain(`${pair.thumbprint}.crt and ${pair.thumbprint}.prv are missing in /nowhere`);
  });

  it('a .crt holding another certificate: ENOCERT naming both thumbprints', async () => {
    const dir = '/mismatch';
    const claimed = 'ABCDEF0123456789ABCDEF0123456789ABCDEF01';
    await mkdir(fs.resolve(dir), { recursive: true });
    await copyFile(pair.crtPath, fs.resolve(`${dir}/${claimed}.crt`));
    await copyFile(pair.prvPath, fs.resolve(`${dir}/${claimed}.prv`));
    const e = await failure(loadCertificatePair(fs, dir, claimed));
    expect(e.code).toBe('ENOCERT');
    expect(e.message).toContain(claimed);
    expect(e.message).toContain(pair.thumbprint);
  });

  it.each(['../../../etc/shadow', `${'A'.repeat(39)}`, `${'A'.repeat(40)}.crt`, 'G'.repeat(40), ''])(
    'refuses thumbprint %j before touching the file system',
    async (tp) => {
      const rec = new RecordingFileSystem(fs);
      const e = await failure(loadCertificatePair(rec, WAAGENT, tp));
      expect(e.code).toBe('ENOCERT');
      expect(e.message).toMatch(/not a 40-digit hexadecimal/);
      expect(rec.asked).toEqual([]);
    },
  );

  it('unreadable key (not root): ENOCERT saying the handler must run as root', async () => {
    const rec = new RecordingFileSystem(fs, (p) => p.endsWith('.prv'));
    const e = await failure(loadCertificatePair(rec, WAAGENT, pair.thumbprint));
    expect(e.code).toBe('ENOCERT');
    expect(e.message).toContain(`${WAAGENT}/${pair.thumbprint}.prv`);
    expect(e.message).toMatch(/must run as root/);
  });
});
