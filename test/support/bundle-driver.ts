import * as path from 'node:path';
import { build } from 'esbuild';

/**
 * A test driver (test/support/*-driver.ts) bundled into one CommonJS file that a child process
 * runs with plain `node`, so that a test can SIGKILL a real process in the middle of its work.
 * import.meta.url is mapped to the bundle's own file URL.
 */
export async function bundleDriver(entry: string, outfile: string): Promise<void> {
  await build({
    entryPoints: [path.resolve(entry)],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    banner: { js: "var __importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
    define: { 'import.meta.url': '__importMetaUrl' },
    logLevel: 'error',
  });
}
