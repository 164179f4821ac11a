// A child process that runs one enable's engine work (reconcileEngine) on a machine without Docker:
// a temporary root (argv[2]) with Debian 12's os-release, apt and systemd answered by fakes, since
// no engine can be installed on the machine that runs the tests. The fake apt-get install leaves a
// marker (<root>/installed) that the fake dpkg-query and service manager read, so a later run in
// another process sees the engine installed. Bundled with esbuild at test time, killed by the
// applier's test-only hook (handler/docker/progress.ts), or, with ADX_TEST_KILL_IN_APT=1, by
// SIGKILL from inside the install command, as a kill inside dpkg would land.
import { existsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseSettings } from '../../handler/agent/settings.js';
import { reconcileEngine } from '../../handler/docker/engine.js';
import { silentLogger } from '../../handler/log/logger.js';
import { RootedFileSystem } from '../../handler/system/fs.js';
import { FakeClock, FakeCommandRunner, FakeProbe, FakeServiceManager } from './docker-fakes.js';

const root = process.argv[2]!;
const marker = path.join(root, 'installed');
const installed = () => existsSync(marker);
const cmd = new FakeCommandRunner()
  .on('dpkg-query', () => ({ exitCode: installed() ? 0 : 1, stdout: installed() ? 'docker.io\tii \t20.10.24+dfsg1-1+deb12u1+b6\n' : '' }))
  .on('dpkg --print-architecture', { stdout: 'amd64' })
  .on('apt-get -q -y', () => {
    if (process.env.ADX_TEST_KILL_IN_APT === '1') process.kill(process.pid, 'SIGKILL');
    writeFileSync(marker, '');
    return { stdout: 'Setting up docker.io (20.10.24+dfsg1-1+deb12u1+b6) ...\n' };
  });
const services = new FakeServiceManager({ active: false });
const inspect = services.inspect.bind(services);
services.inspect = async () => ({ ...(await inspect()), installed: installed() });

reconcileEngine(parseSettings({}, {}), { fs: new RootedFileSystem(root), cmd, clock: new FakeClock(), services, probe: new FakeProbe(), random: () => 0.5 }, { log: silentLogger(), stateDir: '/var/lib/azure-docker-extension' }).then(
  (o) => {
    process.stdout.write(`${JSON.stringify({ ok: true, summary: o.summary, commands: cmd.lines() })}\n`);
    process.exit(0);
  },
  (e: unknown) => {
    process.stdout.write(`${JSON.stringify({ ok: false, error: (e as Error).message })}\n`);
    process.exit(1);
  },
);
