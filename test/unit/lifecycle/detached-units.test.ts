import { describe, expect, test } from '@jest/globals';
import { launchDetached, runDetachedAndWait, type DetachedJob } from '../../../handler/system/detached.js';
import type { CommandRunner } from '../../../handler/system/ports.js';

// systemd-run cannot run here (no systemd in the test machine): the runner records its argv.
function recorder(): { calls: string[][]; cmd: () => Promise<CommandRunner> } {
  const calls: string[][] = [];
  const runner: CommandRunner = {
    run: async (file, args) => {
      calls.push([file, ...args]);
      return { exitCode: 0, stdout: '', stderr: '', timedOut: false };
    },
  };
  return { calls, cmd: async () => runner };
}
const job: DetachedJob = { name: 'azure-docker-extension-enable-1-abc', argv: ['/node', '/handler.cjs', 'worker', '1'], cwd: '/ext', env: { A: 'b' } };

describe('transient units turn core dumps off (issue 8, item 7)', () => {
  test('the enable worker', async () => {
    const r = recorder();
    await launchDetached(job, { cmd: r.cmd, useSystemd: true });
    expect(r.calls[0]![0]).toBe('systemd-run');
    const args = r.calls[0]!;
    expect(args).toContain('--property=LimitCORE=0');
    expect(args.indexOf('--property=LimitCORE=0')).toBeLessThan(args.indexOf('--'));
  });

  test('the uninstall work', async () => {
    const r = recorder();
    await runDetachedAndWait({ ...job, name: 'azure-docker-extension-uninstall-abc' }, 1000, { cmd: r.cmd, useSystemd: true });
    expect(r.calls[0]).toContain('--property=LimitCORE=0');
  });
});
