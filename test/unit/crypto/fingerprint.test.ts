// The fingerprint every output shows is the one an admin gets from openssl for the same file:
// compared with the openssl CLI at test time, for an RSA and an ECDSA certificate and a chain.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { certificateFingerprint, describeFingerprint, FINGERPRINT_LABEL } from '../../../handler/crypto/fingerprint.js';
import { summariseSettings } from '../../../handler/agent/settings-summary.js';
import { parseSettings } from '../../../handler/agent/settings.js';
import { diffConfig, describeSteps } from '../../../handler/docker/plan.js';
import { DEFAULT_LAYOUT } from '../../../handler/docker/desired.js';
import { makeCa, makeEcCa, makeLeaf, pem } from '../../support/tls-certs.js';

/** What `openssl x509 -noout -fingerprint -sha256` prints, without its "sha256 Fingerprint=" label. */
function opensslFingerprint(file: string): string {
  const out = execFileSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256', '-in', file], { encoding: 'utf8' }).trim();
  const m = /^sha256 Fingerprint=(.+)$/i.exec(out);
  if (!m) throw new Error(`unexpected openssl output: ${out}`);
  return m[1]!;
}

let dir: string;
let ca: { ca: string; caKey: string };
let ec: { ca: string; caKey: string };
let leaf: { cert: string; key: string };
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'adx-fp-'));
  ca = makeCa(dir);
  ec = makeEcCa(dir);
  leaf = makeLeaf(dir, ca, 'server', { cn: 'localhost', san: 'DNS:localhost', eku: 'serverAuth' });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('certificate fingerprints are the ones openssl prints', () => {
  test('RSA CA, ECDSA CA and a leaf: byte for byte', () => {
    for (const f of [ca.ca, ec.ca, leaf.cert]) {
      expect(certificateFingerprint(readFileSync(f))).toBe(opensslFingerprint(f));
      expect(certificateFingerprint(pem(f))).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    }
  });

  test('a chain (leaf then intermediates) is the leaf\'s, as openssl reads the first certificate', () => {
    const chain = pem(leaf.cert) + pem(ca.ca);
    expect(certificateFingerprint(chain)).toBe(opensslFingerprint(leaf.cert));
  });

  test('what is not a certificate has none, and says so', () => {
    expect(certificateFingerprint('not a certificate')).toBeUndefined();
    expect(describeFingerprint(pem(leaf.key))).toBe('not a readable certificate');
  });

  test('the settings summary and the dry-run plan show openssl\'s fingerprint, and no hash of the key', () => {
    const certs = { ca: pem(ca.ca), cert: pem(leaf.cert), key: pem(leaf.key) };
    const summary = summariseSettings(parseSettings({ docker: { port: 2376 } }, { certs }));
    expect(summary).toContain(`ca ${FINGERPRINT_LABEL} ${opensslFingerprint(ca.ca)}`);
    expect(summary).toContain(`cert ${FINGERPRINT_LABEL} ${opensslFingerprint(leaf.cert)}`);
    expect(summary).toContain('key set, never fingerprinted');
    const files = [
      { path: DEFAULT_LAYOUT.certFile, content: certs.cert, mode: 0o644, sensitive: false, what: 'server certificate' },
      { path: DEFAULT_LAYOUT.keyFile, content: certs.key, mode: 0o600, sensitive: true, what: 'server private key' },
    ];
    const desired = { files, config: {}, configFileWanted: false, removeFiles: [], moved: [], verify: { socketPath: '/run/docker.sock' } } as unknown as Parameters<typeof diffConfig>[0];
    const observed = { daemonJson: { parsed: {} }, files: {}, running: true, enabled: true, interrupted: false, stateChanged: false, statePath: '/s' };
    const lines = describeSteps(diffConfig(desired, observed, DEFAULT_LAYOUT).steps).join('\n');
    expect(lines).toContain(`write ${DEFAULT_LAYOUT.certFile} (mode 644, ${Buffer.byteLength(certs.cert)} bytes, certificate, ${FINGERPRINT_LABEL} ${opensslFingerprint(leaf.cert)})`);
    expect(lines).toContain(`write ${DEFAULT_LAYOUT.keyFile} (mode 600, ${Buffer.byteLength(certs.key)} bytes, secret: no hash shown)`);
  });
});
