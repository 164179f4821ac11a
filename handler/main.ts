import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runApp, type AppResult } from './app.js';
import { makeApplier } from './lifecycle/make-applier.js';
import { forAgentStream } from './agent/std-streams.js';

// The process boundary: the only place that writes to stdout/stderr and sets the exit code.
const entryScript = fileURLToPath(import.meta.url);

void runApp(process.argv.slice(2), {
  env: process.env,
  codeDir: path.dirname(entryScript),
  entryScript,
  makeApplier,
})
  .catch((e: unknown): AppResult => ({ exitCode: 1, stderr: `internal error: ${(e as Error)?.message ?? String(e)}` }))
  .then((result) => {
    // The agent publishes both streams: bounded and without raw control characters.
    const out = (s: string) => (result.interactive ? s : forAgentStream(s));
    if (result.stdout) process.stdout.write(out(result.stdout) + '\n');
    if (result.stderr) process.stderr.write(out(result.stderr) + '\n');
    process.exitCode = result.exitCode;
  });
