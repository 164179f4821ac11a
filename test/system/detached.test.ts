import { describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { launchDetached, runDetachedAndWait } from '../../handler/system/detached.js';

// Without systemd (this machine) detached work gets a session of its own: the agent's SIGKILL of
// the command's process group at its timeout cannot reach it. Real processes.

const sid = (pid: number) => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[3]);
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

describe('detached jobs without systemd', () => {
  test('a launched job leads its own session, outside the caller\'s process group', async () => {
    const l = await launchDetached({ name: 'adx-test', argv: ['sleep', '5'], cwd: '/', env: { PATH: '/usr/bin:/bin' } }, { useSystemd: false });
    expect(l.how).toBe('setsid');
    const pid = Number(l.label.replace('pid ', ''));
    expect(sid(pid)).toBe(pid);
    expect(sid(pid)).not.toBe(sid(process.pid));
    process.kill(pid, 'SIGKILL');
  });

  test('a job that finishes within the wait reports its exit code', async () => {
    const r = await runDetachedAndWait({ name: 'adx-test', argv: ['sh', '-c', 'exit 3'], cwd: '/', env: { PATH: '/usr/bin:/bin' } }, 5_000, { useSystemd: false });
    expect(r.exitCode).toBe(3);
  });

  test('a job still running when the wait ends goes on in the background (uninstall past 200 s)', async () => {
    const t0 = Date.now();
    const r = await runDetachedAndWait({ name: 'adx-test', argv: ['sleep', '3'], cwd: '/', env: { PATH: '/usr/bin:/bin' } }, 300, { useSystemd: false });
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(r.exitCode).toBeUndefined();
    const pid = Number(r.launched.label.replace('pid ', ''));
    expect(alive(pid)).toBe(true);
    process.kill(pid, 'SIGKILL');
  });
});
