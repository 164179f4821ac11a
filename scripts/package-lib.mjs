// Builds the handler zips the agent downloads, and unpacks them the way the agent does.
// Used by scripts/package.mjs and by test/system/package.test.ts.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync,
  statSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildHandler, BUNDLE, METAFILE, MONITOR_BUNDLE, ROOT, X509_BUNDLE } from './build.mjs';

// Node.js LTS shipped as the handler's runtime, from the npm registry's node-linux-<arch>
// packages (the only registry reachable from our build machines), pinned in
// scripts/node-runtime.json: npm's integrity, the tarball's SHA-256 and the SHA-256 of the `node`
// binary that is shipped. The registry's integrity only proves that the registry served what it
// was given; the binary's hash is what the publishing pipeline checks against the Node.js
// project's signed SHASUMS256.txt (README.md, Package), so no other bytes may reach a package.
export const RUNTIME_PINS_FILE = path.join(ROOT, 'scripts', 'node-runtime.json');
const PINS = JSON.parse(readFileSync(RUNTIME_PINS_FILE, 'utf8'));
export const NODE_RUNTIME_VERSION = PINS.version;
/** Per architecture: `{ integrity, tarballSha256, nodeSha256 }`. */
export const NODE_RUNTIME_PINS = PINS.runtimes;
export const NODE_RUNTIME_INTEGRITY = Object.fromEntries(Object.entries(PINS.runtimes).map(([a, p]) => [a, p.integrity]));
export const ARCHS = /** @type {const} */ (['x64', 'arm64']);
export const CACHE_DIR = path.join(ROOT, '.cache', 'runtime');
export const OUT_DIR = path.join(ROOT, 'out');

export function readPackageInfo() {
  const { name, version } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  return { name, version };
}

export function zipFileName(arch) {
  const { name, version } = readPackageInfo();
  return arch === 'universal' ? `${name}-${version}.zip` : `${name}-${version}-linux-${arch}.zip`;
}

function sriOf(file) {
  return `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`;
}

function sha256Of(file) {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function pinsFor(arch) {
  const pins = NODE_RUNTIME_PINS[arch];
  if (!pins) throw new Error(`no pinned runtime for architecture ${arch} in ${RUNTIME_PINS_FILE}`);
  return pins;
}

/** The build stops here: a runtime file that is not the pinned one never reaches a package. */
const CACHE_HINT = 'The build cache was changed or corrupted: find out who changed it, then delete the file to fetch and check it again.';

function refuse(file, what, expected, actual, hint = CACHE_HINT) {
  return new Error(
    `${file}: ${what} is not the pinned Node.js ${NODE_RUNTIME_VERSION} runtime: SHA-256 ${actual}, expected ${expected} `
    + `(${path.relative(ROOT, RUNTIME_PINS_FILE)}). ${hint}`,
  );
}

function checkSha256(file, what, expected, hint) {
  const actual = sha256Of(file);
  if (actual !== expected) throw refuse(file, what, expected, actual, hint);
}

/**
 * Returns `{ node, license }`: the runtime binary and Node's LICENSE, extracted from the npm
 * tarball cached in `cacheDir`. The tarball is fetched only when absent, and refused when the
 * registry disagrees with the pins; a cached tarball or binary that differs from its pin fails the
 * build (checked on every call: the cache outlives any one build and anyone may write to it).
 */
export function ensureRuntime(arch, { cacheDir = CACHE_DIR } = {}) {
  const pkg = `node-linux-${arch}`;
  const spec = `${pkg}@${NODE_RUNTIME_VERSION}`;
  const pins = pinsFor(arch);
  mkdirSync(cacheDir, { recursive: true });
  const tgz = path.join(cacheDir, `${pkg}-${NODE_RUNTIME_VERSION}.tgz`);

  if (!existsSync(tgz)) {
    const published = execFileSync('npm', ['view', spec, 'dist.integrity'], { encoding: 'utf8' }).trim();
    if (published !== pins.integrity) {
      throw new Error(`${spec}: registry integrity ${published || '(none)'} differs from the pinned ${pins.integrity}`);
    }
    // npm pack goes through the ordinary client (its cache, proxy and registry settings).
    const staging = mkdtempSync(path.join(cacheDir, '.pack-'));
    try {
      execFileSync('npm', ['pack', spec, '--pack-destination', staging, '--silent'], { stdio: ['ignore', 'ignore', 'inherit'] });
      const fetched = path.join(staging, `${pkg}-${NODE_RUNTIME_VERSION}.tgz`);
      const got = sriOf(fetched);
      if (got !== pins.integrity) throw new Error(`${spec}: downloaded tarball has integrity ${got}, expected ${pins.integrity}`);
      checkSha256(fetched, `the tarball downloaded for ${spec}`, pins.tarballSha256, 'The registry serves other bytes than were pinned: do not ship them.');
      renameSync(fetched, tgz);
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  }
  checkSha256(tgz, `the cached ${spec} tarball`, pins.tarballSha256);

  // Extracted once per version and architecture; the rename keeps a half-extracted binary
  // from ever being taken for a good one.
  const dir = path.join(cacheDir, `node-v${NODE_RUNTIME_VERSION}-linux-${arch}`);
  if (!existsSync(path.join(dir, 'node'))) {
    const staging = mkdtempSync(path.join(cacheDir, '.extract-'));
    try {
      execFileSync('tar', ['-xzf', tgz, '-C', staging, 'package/bin/node', 'package/LICENSE']);
      mkdirSync(path.join(staging, 'out'));
      renameSync(path.join(staging, 'package', 'bin', 'node'), path.join(staging, 'out', 'node'));
      renameSync(path.join(staging, 'package', 'LICENSE'), path.join(staging, 'out', 'LICENSE'));
      rmSync(dir, { recursive: true, force: true });
      renameSync(path.join(staging, 'out'), dir);
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  }
  const node = path.join(dir, 'node');
  checkSha256(node, `the cached linux-${arch} node binary`, pins.nodeSha256);
  return { node, license: path.join(dir, 'LICENSE') };
}

// The SHA-256 of each member of a zip, decompressed (about two seconds for the LZMA runtime).
const ZIP_MEMBER_SHA256 = `
import hashlib, json, sys, zipfile
out = {}
with zipfile.ZipFile(sys.argv[1]) as z:
    for info in z.infolist():
        h = hashlib.sha256()
        with z.open(info) as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        out[info.filename] = h.hexdigest()
print(json.dumps(out))
`;

/**
 * The runtime as an LZMA-compressed zip member, made once per version and architecture (about a
 * minute) and kept beside the extracted runtime: a single-member zip that make-zip.py copies into
 * each package without compressing again. Because it is copied as it is, its member is checked
 * against the pinned binary hash every time, not only the binary it was once made from.
 */
export function ensureCompressedRuntime(arch, { cacheDir = CACHE_DIR } = {}) {
  const { node } = ensureRuntime(arch, { cacheDir });
  const cache = path.join(cacheDir, `node-v${NODE_RUNTIME_VERSION}-linux-${arch}.lzma9.zip`);
  const member = `runtime/linux-${arch}/node`;
  if (!existsSync(cache)) {
    execFileSync('python3', [path.join(ROOT, 'scripts', 'make-zip.py')], {
      input: JSON.stringify({ zip: cache, lzma: true, entries: [{ src: node, name: member, mode: 0o755 }] }),
      stdio: ['pipe', 'inherit', 'inherit'],
    });
  }
  const members = JSON.parse(execFileSync('python3', ['-c', ZIP_MEMBER_SHA256, cache], { encoding: 'utf8' }));
  const names = Object.keys(members);
  if (names.length !== 1 || names[0] !== member) {
    throw new Error(`${cache}: holds ${names.join(', ') || 'nothing'}, expected only ${member}; delete it to make it again`);
  }
  if (members[member] !== NODE_RUNTIME_PINS[arch].nodeSha256) {
    throw refuse(cache, `the compressed linux-${arch} runtime (${member})`, NODE_RUNTIME_PINS[arch].nodeSha256, members[member]);
  }
  return cache;
}

/** npm packages esbuild put into the bundle, from the metafile of the last build. */
export function bundledPackages(metafile = JSON.parse(readFileSync(METAFILE, 'utf8'))) {
  const dirs = new Set();
  for (const input of Object.keys(metafile.inputs)) {
    const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m) dirs.add(path.resolve(ROOT, m[1]));
  }
  return [...dirs]
    .map((dir) => {
      const pj = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
      const licenseFile = readdirSync(dir).find((f) => /^(licen[cs]e|copying)/i.test(f));
      return {
        name: pj.name,
        version: pj.version,
        license: typeof pj.license === 'string' ? pj.license : pj.license?.type ?? 'UNKNOWN',
        text: licenseFile ? readFileSync(path.join(dir, licenseFile), 'utf8') : null,
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

function thirdPartyNotice(nodeLicense, packages) {
  const rule = '-'.repeat(78);
  const lines = [
    'Third-party software in this package',
    '',
    `Node.js ${NODE_RUNTIME_VERSION} (runtime/linux-*/node): MIT, with the licenses of its bundled`,
    '  dependencies listed in its LICENSE below',
    'npm packages bundled into dist/ (handler.cjs, monitor.cjs, x509.cjs):',
    ...packages.map((p) => `  ${p.name} ${p.version}: ${p.license}`),
    '',
    rule,
    `Node.js ${NODE_RUNTIME_VERSION} LICENSE`,
    rule,
    readFileSync(nodeLicense, 'utf8').trimEnd(),
  ];
  for (const p of packages) {
    lines.push('', rule, `${p.name} ${p.version} (${p.license})`, rule);
    lines.push(p.text ? p.text.trimEnd() : `No license file in the package; package.json says ${p.license}.`);
  }
  return `${lines.join('\n')}\n`;
}

/** Publisher and type the extension is published under (manifest/manifest.xml). */
export const SIGNING_PUBLISHER = 'Microsoft.Azure.Extensions';
export const SIGNING_TYPE = 'DockerExtension';

/**
 * The repository's HandlerManifest.json plus `signingInfo`, as first-party handlers carry it: the
 * agent (2.15 and later) checks it against the extension's publisher, type and version once package
 * signature validation is enforced (today it only logs a mismatch).
 */
export function packagedManifest() {
  const manifest = JSON.parse(readFileSync(path.join(ROOT, 'HandlerManifest.json'), 'utf8'));
  manifest[0].signingInfo = { type: SIGNING_TYPE, publisher: SIGNING_PUBLISHER, version: readPackageInfo().version };
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/**
 * Writes `<outDir>/<zipFileName(arch)>` and returns `{ zipPath, sizeBytes }`. `arch` is 'x64',
 * 'arm64' or 'universal' (both runtimes; the package that gets published). Rebuilds the bundle
 * first unless `build` is false.
 */
export async function buildPackage({ outDir = OUT_DIR, arch, build = true, cacheDir = CACHE_DIR }) {
  const archs = arch === 'universal' ? [...ARCHS] : [arch];
  if (!archs.every((a) => ARCHS.includes(a))) throw new Error(`unknown architecture ${arch}`);
  const metafile = build ? (await buildHandler({ quiet: true })).metafile : undefined;
  const runtimes = archs.map((a) => ({ arch: a, ...ensureRuntime(a, { cacheDir }), compressed: ensureCompressedRuntime(a, { cacheDir }) }));

  mkdirSync(outDir, { recursive: true });
  const staging = mkdtempSync(path.join(tmpdir(), 'handler-package-'));
  try {
    writeFileSync(path.join(staging, 'VERSION'), `${readPackageInfo().version}\n`);
    writeFileSync(path.join(staging, 'HandlerManifest.json'), packagedManifest());
    writeFileSync(path.join(staging, 'LICENSES'), thirdPartyNotice(runtimes[0].license, bundledPackages(metafile)));
    const entries = [
      { src: path.join(staging, 'HandlerManifest.json'), name: 'HandlerManifest.json', mode: 0o644 },
      { src: path.join(ROOT, 'scripts', 'handler.sh'), name: 'scripts/handler.sh', mode: 0o755 },
      { src: BUNDLE, name: 'dist/handler.cjs', mode: 0o644 },
      { src: MONITOR_BUNDLE, name: 'dist/monitor.cjs', mode: 0o644 },
      { src: X509_BUNDLE, name: 'dist/x509.cjs', mode: 0o644 },
      ...runtimes.map((r) => ({ fromZip: r.compressed, name: `runtime/linux-${r.arch}/node` })),
      { src: path.join(staging, 'VERSION'), name: 'VERSION', mode: 0o644 },
      { src: path.join(staging, 'LICENSES'), name: 'LICENSES', mode: 0o644 },
    ];
    const zipPath = path.join(outDir, zipFileName(arch));
    execFileSync('python3', [path.join(ROOT, 'scripts', 'make-zip.py')], {
      input: JSON.stringify({ zip: zipPath, entries }),
      stdio: ['pipe', 'inherit', 'inherit'],
    });
    return { zipPath, sizeBytes: statSync(zipPath).size };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

// The agent's own steps: zipfile.ZipFile(pkg).extractall(base_dir) in ExtHandlerInstance
// download, then initialize() adds S_IXUSR to every file under base_dir.
const AGENT_UNPACK = `
import os, stat, sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
if sys.argv[3] == "1":
    for root, _dirs, files in os.walk(sys.argv[2]):
        for name in files:
            p = os.path.join(root, name)
            os.chmod(p, os.stat(p).st_mode | stat.S_IXUSR)
`;

/**
 * Replaces `destDir` with the zip's contents as the agent leaves them: Python zipfile drops
 * mode bits and turns symlinks into text files, then every file gets u+x. With
 * `addUserExec: false` the last step is skipped, which leaves files at 0666 & ~umask.
 */
export function unpackLikeAgent(zipPath, destDir, { addUserExec = true } = {}) {
  rmSync(destDir, { recursive: true, force: true });
  mkdirSync(destDir, { recursive: true });
  execFileSync('python3', ['-c', AGENT_UNPACK, zipPath, destDir, addUserExec ? '1' : '0'], { stdio: 'inherit' });
  return destDir;
}

/** Recursively sets every file under `dir` to `mode`: the worst case the shim must survive. */
export function chmodAllFiles(dir, mode) {
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) chmodSync(path.join(entry.parentPath ?? entry.path, entry.name), mode);
  }
}
