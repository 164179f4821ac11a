import { describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MONITOR_CPU_QUOTA_PERCENT, MONITOR_UNIT, renderMonitorUnit, systemdQuote } from '../../../handler/monitor/unit.js';
import { recheckDelay, restartDelay, TICK_MS } from '../../../handler/monitor/schedule.js';
import { listensOn } from '../../../handler/system/listening.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

describe('the monitor unit', () => {
  const unit = renderMonitorUnit({
    nodePath: '/var/lib/waagent/Microsoft.Azure.Extensions.DockerExtension-2.0.0/runtime/linux-x64/node',
    monitorScript: '/var/lib/waagent/Microsoft.Azure.Extensions.DockerExtension-2.0.0/dist/monitor.cjs',
    extensionDir: '/var/lib/waagent/Microsoft.Azure.Extensions.DockerExtension-2.0.0',
    version: '2.0.0',
    env: { DOCKER_EXTENSION_LOG_LEVEL: 'debug' },
  });

  test('starts before the agent, restarts on failure, is skipped once its version is gone', () => {
    expect(unit).toMatch(/^Before=walinuxagent\.service waagent\.service$/m);
    expect(unit).toMatch(/^Restart=on-failure$/m);
    expect(unit).toMatch(/^ConditionPathExists=\/var\/lib\/waagent\/Microsoft\.Azure\.Extensions\.DockerExtension-2\.0\.0\/dist\/monitor\.cjs$/m);
    expect(unit).toMatch(/^ExecStart=\/var\/lib\/waagent\/.*\/runtime\/linux-x64\/node --lite-mode --max-semi-space-size=1 --max-old-space-size=48 \/var\/lib\/waagent\/.*\/dist\/monitor\.cjs __monitor$/m);
    expect(unit).toMatch(/^WantedBy=multi-user\.target$/m);
    expect(unit).toMatch(/^Environment=AZURE_GUEST_AGENT_EXTENSION_PATH=\/var\/lib\/waagent\/Microsoft\.Azure\.Extensions\.DockerExtension-2\.0\.0$/m);
    expect(unit).toMatch(/^Environment=DOCKER_EXTENSION_LOG_LEVEL=debug$/m);
  });

  test('carries the CPU quota HandlerManifest.json declares for it (the agent applies it only at runtime)', () => {
    const manifest = JSON.parse(readFileSync(path.join(ROOT, 'HandlerManifest.json'), 'utf8'));
    const services = manifest[0].resourceLimits.services as { name: string; cpuQuotaPercentage: number }[];
    expect(services).toEqual([{ name: MONITOR_UNIT, cpuQuotaPercentage: MONITOR_CPU_QUOTA_PERCENT }]);
    expect(unit).toContain(`CPUQuota=${MONITOR_CPU_QUOTA_PERCENT}%`);
    expect(unit).toMatch(/^CPUAccounting=yes$/m);
    expect(unit).toMatch(/^MemoryAccounting=yes$/m);
  });

  test('no core dumps: a crashed monitor\'s core would hold the key it watches', () => {
    expect(unit).toMatch(/^LimitCORE=0$/m);
  });

  test('quotes words systemd would split or expand', () => {
    expect(systemdQuote('/plain/path-1.2')).toBe('/plain/path-1.2');
    expect(systemdQuote('/with space/"q"')).toBe('"/with space/\\"q\\""');
    expect(systemdQuote('100%')).toBe('100%%');
    expect(systemdQuote('a b%')).toBe('"a b%%"');
  });
});

describe('timers', () => {
  test('the heartbeat is rewritten well within the agent\'s 600 s', () => {
    expect(TICK_MS).toBeLessThanOrEqual(60_000);
  });
  test('restarts back off from 2 s to 5 min; rechecks reach 10 s and stay there', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 50].map(restartDelay)).toEqual([2_000, 5_000, 15_000, 30_000, 60_000, 120_000, 300_000, 300_000, 300_000]);
    expect([0, 1, 2, 3, 4, 5, 40].map(recheckDelay)).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
  });
});

describe('/proc/net/tcp', () => {
  // Recorded on this machine: dockerd on 0.0.0.0:2376 (0x0948), a client connection to it, sshd on :22.
  const tcp = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0948 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 31231 1 0000000000000000 100 0 0 10 0
   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1234 1 0000000000000000 100 0 0 10 0
   2: 0100007F:D2F0 0100007F:0949 01 00000000:00000000 00:00000000 00000000     0        0 31300 1 0000000000000000 20 4 30 10 -1
`;
  test('a LISTEN socket on the port counts; a connection from or to it does not', () => {
    expect(listensOn(tcp, 2376)).toBe(true);
    expect(listensOn(tcp, 22)).toBe(true);
    expect(listensOn(tcp, 2377)).toBe(false); // only an ESTABLISHED connection to 0x0949
    expect(listensOn(tcp, 53999)).toBe(false);
  });
});
