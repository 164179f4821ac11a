// A child process that runs one enable's engine work (reconcileEngine), or uninstall's (removeEngineConfig), against a sandbox made by
// createSandbox, so that a test can kill it with a real SIGKILL (see handler/docker/progress.ts).
// Bundled with esbuild at test time. argv[2]: the sandbox directory; argv[3]: a 0600 file holding
// {"public": …, "protected": …, "remove"?: true, "removeEngine"?: true} (settings never travel on a
// command line). With removeEngine, apt-get's purge is answered from recordings (recorded-purge.ts).
import { readFileSync } from 'node:fs';
import { parseSettings } from '../../handler/agent/settings.js';
import { reconcileEngine, removeEngineConfig } from '../../handler/docker/engine.js';
import { silentLogger } from '../../handler/log/logger.js';
import { sandboxAt } from './docker-daemon.js';
import { RecordedPurgeRunner } from './recorded-purge.js';

const sb = sandboxAt(process.argv[2]!);
const s = JSON.parse(readFileSync(process.argv[3]!, 'utf8')) as { public: Record<string, unknown>; protected: Record<string, unknown>; remove?: boolean; removeEngine?: boolean };
const work = s.remove
  ? removeEngineConfig(s.removeEngine ? { ...sb.ports(), cmd: new RecordedPurgeRunner(sb.cmd) } : sb.ports(), { log: silentLogger(), stateDir: sb.stateDir, removeEngine: s.removeEngine === true, layout: sb.layout })
  : reconcileEngine(parseSettings(s.public, s.protected), sb.ports(), { log: silentLogger(), stateDir: sb.stateDir, layout: sb.layout });
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
