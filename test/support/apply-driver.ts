// A child process that runs one enable's engine work (reconcileEngine), or uninstall's (removeEngineConfig), against a sandbox made by
// createSandbox, so that a test can kill it with a real SIGKILL (see handler/docker/progress.ts).
// Bundled with esbuild at test time. argv[2]: the sandbox directory; argv[3]: a 0600 file holding
// {"public": …, "protected": …, "remove"?: true, "removeEngine"?: true, "run"?: [programs],
// "ovfEnvFile"?: path} (settings never travel on a command line). With removeEngine, apt-get's
// purge is answered from recordings (recorded-purge.ts). "run": programs run for real besides the
// package probes (docker-compose, and usermod, gpasswd, getent, setpriv for the access steps);
// "ovfEnvFile": the agent's provisioning file in the sandbox, which names the VM's admin user.
import { readFileSync } from 'node:fs';
import { parseSettings } from '../../handler/agent/settings.js';
import { reconcileEngine, removeEngineConfig } from '../../handler/docker/engine.js';
import { silentLogger } from '../../handler/log/logger.js';
import { ProbeOnlyCommandRunner, sandboxAt } from './docker-daemon.js';
import { RecordedPurgeRunner } from './recorded-purge.js';

const sb = sandboxAt(process.argv[2]!);
const s = JSON.parse(readFileSync(process.argv[3]!, 'utf8')) as { public: Record<string, unknown>; protected: Record<string, unknown>; remove?: boolean; removeEngine?: boolean; run?: string[]; ovfEnvFile?: string };
const cmd = s.run ? new ProbeOnlyCommandRunner(s.run) : sb.cmd;
const ports = { ...sb.ports(), cmd };
const layout = s.ovfEnvFile ? { ...sb.layout, ovfEnvFile: s.ovfEnvFile } : sb.layout;
const work = s.remove
  ? removeEngineConfig(s.removeEngine ? { ...ports, cmd: new RecordedPurgeRunner(cmd) } : ports, { log: silentLogger(), stateDir: sb.stateDir, removeEngine: s.removeEngine === true, layout })
  : reconcileEngine(parseSettings(s.public, s.protected), ports, { log: silentLogger(), stateDir: sb.stateDir, layout });
work.then(
  (o) => {
    process.stdout.write(`${JSON.stringify({ ok: true, restarted: o.restarted })}\n`);
    process.exit(0);
  },
  (e: unknown) => {
    process.stdout.write(`${JSON.stringify({ ok: false, error: (e as Error).message })}\n`);
    process.exit(1);
  },
);
