import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sanitise } from './agent/sanitise.js';
import { runApp, type AppResult } from './app.js';
import { makeApplier } from './lifecycle/make-applier.js';
import { forAgentStream } from './agent/std-streams.js';

// The process boundary: the only place that writes to stdout/stderr and sets the exit code.
const entryScript = fileURLToPath(import.meta.url);

// A crash's trace goes to stderr, which the agent publishes: scrubbed like every other output.
process.on('uncaughtException', (e: unknown) => {
  process.stderr.write(sanitise(`internal error: ${(e as Error)?.stack ?? String(e)}`) + '\n');
  process.exit(1);
});

void runApp(process.argv.slice(2), {
  env: process.env,
  codeDir: path.dirname(entryScript),
  entryScript,
  makeApplier,
})
  .catch((e: unknown): AppResult => ({ exitCode: 1, stderr: `internal error: ${(e as Error)?.message ?? String(e)}` }))
  .then((result) => {
    // The agent publishes both streams: scrubbed of every secret this process has seen, bounded
    // and without raw control characters.
    const out = (s: string) => (result.interactive ? sanitise(s) : forAgentStream(sanitise(s)));
    if (result.stdout) process.stdout.write(out(result.stdout) + '\n');
    if (result.stderr) process.stderr.write(out(result.stderr) + '\n');
    process.exitCode = result.exitCode;
  });
