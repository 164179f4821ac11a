// The monitor's own entry point and bundle (dist/monitor.cjs): a process that lives for weeks loads
// only what it uses. Its systemd unit (or enable, where there is no systemd) runs
// `node dist/monitor.cjs __monitor`; the argument only makes it easy to find in `ps`.
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { emitEvent } from '../agent/events.js';
import { handlerEnvCandidates, loadHandlerEnvironment } from '../agent/handler-env.js';
import { NodeDaemonProbe } from '../docker/health.js';
import { describeError } from '../errors.js';
import { LineLog } from '../log/line-log.js';
import { realClock } from '../system/clock.js';
import { RootedFileSystem } from '../system/fs.js';
import { ExecFileRunner } from '../system/exec-file.js';
import { handlerVersion } from '../version.js';
import { runMonitor } from './daemon.js';
import { TEST_RENEWAL_GATE_ENV } from './test-gate.js';

const LOG_MAX_BYTES = 4 * 1024 * 1024;

async function main(argv: readonly string[]): Promise<number> {
  if (argv.length > 1 || (argv[0] !== undefined && argv[0] !== '__monitor')) {
    process.stderr.write('usage: monitor.cjs [__monitor] (started by the extension, not by hand)\n');
    return 2;
  }
  const codeDir = path.dirname(fileURLToPath(import.meta.url));
  const fs = new RootedFileSystem('/');
  let env;
  try {
    env = await loadHandlerEnvironment(fs, handlerEnvCandidates(process.env.AZURE_GUEST_AGENT_EXTENSION_PATH, codeDir));
  } catch (e) {
    process.stderr.write(`${describeError(e)}\n`);
    return 1;
  }
  const version = handlerVersion(process.env, codeDir);
  let log: LineLog;
  try {
    log = new LineLog(path.join(env.logFolder, 'monitor.log'), { maxBytes: LOG_MAX_BYTES, level: process.env.DOCKER_EXTENSION_LOG_LEVEL, bindings: { op: 'monitor', version } });
  } catch (e) {
    // A log folder or file the monitor refuses to write as root (a link, a FIFO): say which.
    process.stderr.write(`${describeError(e)}\n`);
    return 1;
  }
  const operationId = randomUUID();
  return runMonitor({
    env,
    version,
    fs,
    clock: realClock,
    log,
    rotateLog: () => log.rotate(),
    probe: new NodeDaemonProbe(),
    cmd: async () => new ExecFileRunner(),
    emitEvent: (level, message) => emitEvent(fs, env, { taskName: 'Monitor', level, message }, { version, operationId, now: new Date() }),
    ...(process.env[TEST_RENEWAL_GATE_ENV] ? { renewalGate: process.env[TEST_RENEWAL_GATE_ENV] } : {}),
  });
}

void main(process.argv.slice(2))
  .catch((e: unknown) => {
    process.stderr.write(`monitor: internal error: ${(e as Error)?.message ?? String(e)}\n`);
    return 1;
  })
  .then((code) => {
    process.exitCode = code;
  });
