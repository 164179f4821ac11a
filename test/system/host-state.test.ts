// restoreTree() is what puts /etc/docker back after the suites that run the packaged handler on
// this machine's own root: here on a temporary folder, with every kind of change they could leave.
import { afterAll, expect, test } from '@jest/globals';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { restoreTree, snapshotTree } from '../support/host-state.js';

const dir = mkdtempSync(path.join(tmpdir(), 'host-state-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('restoreTree puts back contents, modes, links and mtimes to the nanosecond, and removes what was added', async () => {
  const root = path.join(dir, 'etc-docker');
  mkdirSync(path.join(root, 'plugins'), { recursive: true });
  writeFileSync(path.join(root, 'key.json'), '{"kid":"K"}', { mode: 0o600 });
  writeFileSync(path.join(root, 'plugins', 'p.json'), 'plugin');
  symlinkSync('key.json', path.join(root, 'link'));
  const before = snapshotTree(root);
  await new Promise((r) => setTimeout(r, 20));
  // what a run could leave: new files and folders, changed bytes and modes, removed files, a moved link
  writeFileSync(path.join(root, 'daemon.json'), '{}');
  mkdirSync(path.join(root, 'certs.d', 'x'), { recursive: true });
  writeFileSync(path.join(root, 'key.json'), '{"kid":"other"}');
  chmodSync(path.join(root, 'key.json'), 0o644);
  unlinkSync(path.join(root, 'plugins', 'p.json'));
  unlinkSync(path.join(root, 'link'));
  symlinkSync('daemon.json', path.join(root, 'link'));
  expect(snapshotTree(root)).not.toEqual(before);
  restoreTree(root, before);
  expect(snapshotTree(root)).toEqual(before);
});
