// Bundles the handler into one ESM file, dist/handler.mjs: the VM has no node_modules, only the
// runtime we ship next to it (see scripts/handler.sh).
import { build } from 'esbuild';
import { statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const BUNDLE = path.join(ROOT, 'dist', 'handler.mjs');
// Input list of the last build; package-lib.mjs reads it to name the npm packages in the notice.
export const METAFILE = path.join(ROOT, 'dist', 'handler.meta.json');

// CommonJS deps (pino, node-forge) call require() and read __dirname, which do not exist in an
// ES module. `var` rather than `const`: esbuild leaves a bundled module's own top-level
// `__dirname` unrenamed when no CJS dep refers to it, and a second `const` would be a
// SyntaxError at load time.
const BANNER = [
  "import { createRequire as __bannerCreateRequire } from 'node:module';",
  "import { fileURLToPath as __bannerFileURLToPath } from 'node:url';",
  "import { dirname as __bannerDirname } from 'node:path';",
  'var require = __bannerCreateRequire(import.meta.url);',
  'var __filename = __bannerFileURLToPath(import.meta.url);',
  'var __dirname = __bannerDirname(__filename);',
].join('\n');

export async function buildHandler({ quiet = false } = {}) {
  const result = await build({
    entryPoints: [path.join(ROOT, 'handler', 'main.ts')],
    outfile: BUNDLE,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    banner: { js: BANNER },
    // An external map stays in dist/ for local debugging; the package never ships it.
    sourcemap: 'external',
    metafile: true,
    // Metafile paths are relative to this; bundledPackages() resolves them against ROOT.
    absWorkingDir: ROOT,
    logLevel: quiet ? 'error' : 'warning',
  });
  writeFileSync(METAFILE, JSON.stringify(result.metafile));
  const sizeBytes = statSync(BUNDLE).size;
  if (!quiet) console.log(`dist/handler.mjs: ${sizeBytes} bytes (${(sizeBytes / 1024).toFixed(1)} KiB)`);
  return { bundlePath: BUNDLE, sizeBytes, metafile: result.metafile };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await buildHandler();
}
