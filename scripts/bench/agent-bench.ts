import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildPackage, unpackLikeAgent } from '../package-lib.mjs';
import { makeAgentTree } from '../../test/support/agent-tree.js';
import { median } from '../../test/support/bench-stats.js';
import { makeWaagentCertificate, encryptLikePlatform } from '../../test/support/openssl-vectors.js';
import { decryptProtectedSettings } from '../../handler/crypto/protected-settings.js';
import { exampleSettings } from '../../handler/demo/example-settings.js';

// The foundation's figures, measured through the packaged shim exactly as the agent starts it:
// the no-op re-enable against bare `node -e 0` of the same runtime (alternating, so drift hits
// both), the time until `transitioning` is on disk, and decryption per blob.

const RUNS = Number(process.env.BENCH_RUNS ?? 25);
const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

function timeIt(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): number {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

export async function agentBench(): Promise<string[]> {
  const out: string[] = [];
  const work = mkdtempSync(path.join(tmpdir(), 'bench-'));
  try {
    const { zipPath, sizeBytes } = await buildPackage({ outDir: path.join(work, 'out'), arch: 'x64', build: false });
    const pkg = unpackLikeAgent(zipPath, path.join(work, 'pkg'));
    const node = path.join(pkg, 'runtime/linux-x64/node');
    const shim = path.join(pkg, 'scripts/handler.sh');

    // The same files all deflated, as the package was before the runtime went LZMA.
    const deflated = Number(
      spawnSync('python3', ['-c', 'import sys, zipfile, zlib; z = zipfile.ZipFile(sys.argv[1]); print(sum(len(zlib.compress(z.read(i), 6)) for i in z.infolist()))', zipPath], { encoding: 'utf8' }).stdout.trim(),
    );
    const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB (${(b / 1e6).toFixed(1)} MB)`;
    out.push(`zip per architecture (x64; the runtime LZMA, the rest deflated): ${mib(sizeBytes)}; the same files deflated: ${mib(deflated)}; ratio ${(sizeBytes / deflated).toFixed(2)}`);

    const tree = await makeAgentTree({ version: '1.0.0' });
    const ex = exampleSettings();
    await tree.writeSettings(0, ex.publicSettings, ex.protectedSettings);
    // The package is the extension directory's code; the agent tree supplies its state.
    for (const f of ['HandlerEnvironment.json']) copyFileSync(path.join(tree.extDir, f), path.join(pkg, f));
    const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', ...tree.env(0), DOCKER_EXTENSION_ENGINE: 'off' };

    // A new configuration each time, until the foreground returns: decrypted, validated,
    // `transitioning` on disk, the worker started.
    const statusOf = (seq: number): string => JSON.parse(readFileSync(path.join(tree.extDir, `status/${seq}.status`), 'utf8'))[0].status.status;
    const waitSuccess = async (seq: number) => {
      for (let i = 0; i < 100 && statusOf(seq) !== 'success'; i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const enables: number[] = [];
    const bareForEnable: number[] = [];
    const NEW_CONFIGS = 11;
    for (let seq = 0; seq < NEW_CONFIGS; seq++) {
      if (seq > 0) await tree.writeSettings(seq, ex.publicSettings, ex.protectedSettings);
      bareForEnable.push(timeIt(node, ['-e', '0']));
      enables.push(timeIt('sh', [shim, 'enable'], { cwd: tree.extDir, env: { ...env, ConfigSequenceNumber: String(seq) } }));
      if (statusOf(seq) === 'error') throw new Error('enable failed');
      await waitSuccess(seq);
    }
    out.push(
      `enable of a new configuration until its foreground exits (decrypt, validate, transitioning on disk, worker started), median of ${NEW_CONFIGS}: ${fmt(median(enables))}; bare \`node -e 0\`: ${fmt(median(bareForEnable))}; ratio ${(median(enables) / median(bareForEnable)).toFixed(2)}x`,
    );
    const last = NEW_CONFIGS - 1;

    const noop: number[] = [];
    const bare: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      bare.push(timeIt(node, ['-e', '0']));
      noop.push(timeIt('sh', [shim, 'enable'], { cwd: tree.extDir, env: { ...env, ConfigSequenceNumber: String(last) } }));
    }
    out.push(
      `no-op re-enable (same seq, applied, monitor running: decided by the shim from the handler's token), median of ${RUNS}: ${fmt(median(noop))}; bare \`node -e 0\` (same runtime): ${fmt(median(bare))}; ratio ${(median(noop) / median(bare)).toFixed(2)}x`,
    );
    // Uninstall stops the monitor the first enable started.
    timeIt('sh', [shim, 'uninstall'], { cwd: tree.extDir, env: { ...env, ConfigSequenceNumber: String(last) } });
    await tree.cleanup();

    for (const bits of [2048, 4096] as const) {
      const dir = mkdtempSync(path.join(work, `k${bits}-`));
      const c = await makeWaagentCertificate(dir, { bits });
      const blob = await encryptLikePlatform(JSON.stringify(ex.protectedSettings), c.crtPath);
      const times: number[] = [];
      for (let i = 0; i < 200; i++) {
        const t0 = performance.now();
        decryptProtectedSettings(blob, c.certPem, c.keyPem);
        times.push(performance.now() - t0);
      }
      out.push(`decrypt protected settings (RSA-${bits}, 3DES, ${blob.length} base64 chars), median of 200: ${times.length && median(times).toFixed(2)} ms`);
    }
    if (!existsSync(pkg)) throw new Error('package vanished');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return out;
}
