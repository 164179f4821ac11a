// Bundles the handler into one file, dist/handler.cjs: the VM has no node_modules, only the
// runtime we ship next to it (see scripts/handler.sh).
//
// CommonJS rather than ESM on purpose: an ES module's static imports of node: built-ins are all
// linked before the first line runs, so the no-op re-enable (every goal state and boot) paid for
// child_process, net, tls, http and undici it never uses. In CommonJS each bundled module, and
// the built-ins it requires, load only when first used. Minified with names kept (error classes
// report their constructor name) to halve the bytes read and parsed at every start.
import { build } from 'esbuild';
import { statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const BUNDLE = path.join(ROOT, 'dist', 'handler.cjs');
// The monitor lives for weeks: its own bundle holds only what it uses (a fraction of the memory).
export const MONITOR_BUNDLE = path.join(ROOT, 'dist', 'monitor.cjs');
// The X.509 library that signs the certificates a VM issues itself ("certs.issuer"), a bundle of
// its own: only an enable or a monitor that issues a certificate loads it (require next to the
// requiring bundle), so neither the no-op re-enable nor the monitor's weeks carry its ~360 KiB.
export const X509_BUNDLE = path.join(ROOT, 'dist', 'x509.cjs');
const x509Apart = {
  name: 'x509-apart',
  setup(b) {
    b.onResolve({ filter: /^@peculiar\/x509$/ }, () => ({ path: './x509.cjs', external: true }));
  },
};
// Input list of the last build; package-lib.mjs reads it to name the npm packages in the notice.
export const METAFILE = path.join(ROOT, 'dist', 'handler.meta.json');

// The sources are ES modules and read import.meta.url; in the CommonJS bundle it is derived
// from __filename once.
const BANNER = "var __importMetaUrl = require('node:url').pathToFileURL(__filename).href;";

export async function buildHandler({ quiet = false } = {}) {
  const common = {
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    banner: { js: BANNER },
    define: { 'import.meta.url': '__importMetaUrl' },
    minify: true,
    keepNames: true,
    // An external map stays in dist/ for local debugging; the package never ships it.
    sourcemap: 'external',
    metafile: true,
    // Metafile paths are relative to this; bundledPackages() resolves them against ROOT.
    absWorkingDir: ROOT,
    // pino's sonic-boom and thread-stream require node:assert for two plain assert(cond, msg)
    // calls; the real module costs ~5 ms at every start (handler/shims/assert.cjs).
    alias: { assert: path.join(ROOT, 'handler', 'shims', 'assert.cjs') },
    logLevel: quiet ? 'error' : 'warning',
  };
  const result = await build({ ...common, plugins: [x509Apart], entryPoints: [path.join(ROOT, 'handler', 'main.ts')], outfile: BUNDLE });
  const monitor = await build({ ...common, plugins: [x509Apart], entryPoints: [path.join(ROOT, 'handler', 'monitor', 'main.ts')], outfile: MONITOR_BUNDLE });
  const x509 = await build({ ...common, banner: {}, define: {}, entryPoints: [path.join(ROOT, 'node_modules', '@peculiar', 'x509', 'build', 'x509.cjs.js')], outfile: X509_BUNDLE });
  // One metafile for all: the notice names every npm package any bundle carries.
  const metafile = {
    inputs: { ...x509.metafile.inputs, ...monitor.metafile.inputs, ...result.metafile.inputs },
    outputs: { ...x509.metafile.outputs, ...monitor.metafile.outputs, ...result.metafile.outputs },
  };
  writeFileSync(METAFILE, JSON.stringify(metafile));
  const sizeBytes = statSync(BUNDLE).size;
  const monitorBytes = statSync(MONITOR_BUNDLE).size;
  if (!quiet) console.log(`dist/handler.cjs: ${sizeBytes} bytes (${(sizeBytes / 1024).toFixed(1)} KiB); dist/monitor.cjs: ${monitorBytes} bytes (${(monitorBytes / 1024).toFixed(1)} KiB)`);
  return { bundlePath: BUNDLE, monitorPath: MONITOR_BUNDLE, sizeBytes, metafile };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await buildHandler();
}
