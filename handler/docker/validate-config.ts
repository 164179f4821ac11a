// `dockerd --validate --config-file <candidate>`: dockerd's own check of a new daemon.json, run on a
// copy before anything is written, so that a value only dockerd can judge (a log level, a DNS
// address, an ulimit it does not know) fails the enable while dockerd keeps serving the old file.
//
// Whether the engine has it is read from the binary's version (`dockerd --version`), not from its
// help: `--validate` came with Docker Engine 23.0, and every 23+ engine has it, while 20.10's
// dockerd does not know the flag and would try to start a daemon with it. Reading the version of
// the binary on disk (not the running daemon's) is what counts: it is the binary the restart runs.
import type { CommandRunner } from '../system/ports.js';
import type { Step } from './plan.js';

/** The first engine release whose dockerd has --validate. */
export const VALIDATE_SINCE_MAJOR = 23;

/** What the machine's dockerd offers for checking a configuration before a restart. */
export type ConfigValidator =
  | { kind: 'validate'; dockerd: string; version: string }
  | { kind: 'skip'; why: string };

/** "Docker version 26.1.5+dfsg1, build a72d7cd" → "26.1.5+dfsg1" (undefined for anything else). */
export function parseDockerdVersion(output: string): string | undefined {
  return /Docker version ([0-9]+\.[0-9]+[^\s,]*)/.exec(output)?.[1];
}

/** Pure: the validator a dockerd of this version (from `dockerd --version`) gives. */
export function validatorFor(dockerd: string, versionOutput: string | undefined): ConfigValidator {
  const version = versionOutput === undefined ? undefined : parseDockerdVersion(versionOutput);
  if (version === undefined) {
    return { kind: 'skip', why: `the version of ${dockerd} could not be read, so whether it has --validate is unknown` };
  }
  const major = Number.parseInt(version, 10);
  if (major < VALIDATE_SINCE_MAJOR) {
    return { kind: 'skip', why: `dockerd ${version} has no --validate (Docker ${VALIDATE_SINCE_MAJOR}.0 and later have it)` };
  }
  return { kind: 'validate', dockerd, version };
}

/** Reads the installed dockerd's version (the one effect here). */
export async function readValidator(cmd: CommandRunner, dockerd: string | undefined): Promise<ConfigValidator> {
  if (dockerd === undefined) return { kind: 'skip', why: 'no dockerd binary was found' };
  // A dry run against a copied tree (--root) runs nothing from the tree: the runner refuses, and says so.
  const r = await cmd.run(dockerd, ['--version'], { timeoutMs: 15_000 }).catch((e: unknown) => e as Error);
  if (r instanceof Error) return { kind: 'skip', why: `the version of ${dockerd} could not be read (${r.message}), so whether it has --validate is unknown` };
  return validatorFor(dockerd, r.exitCode === 0 ? r.stdout : undefined);
}

/**
 * Pure: the plan step that checks the new daemon.json. A skipped check stays in the plan, saying
 * why, so that a dry run shows what protects the restart: there the restart's proof and rollback.
 */
export function validationStep(validator: ConfigValidator, daemonJson: string): Extract<Step, { kind: 'validate-config' }> {
  if (validator.kind === 'skip') {
    return { kind: 'validate-config', path: daemonJson, skipped: validator.why, reason: 'dockerd itself proves the new daemon.json when it restarts or reloads; the previous one is restored if it refuses' };
  }
  return {
    kind: 'validate-config',
    path: daemonJson,
    dockerd: validator.dockerd,
    version: validator.version,
    reason: 'dockerd checks the new daemon.json on a copy before it is written, so a value it refuses changes nothing',
  };
}

/** What dockerd --validate is given: the new daemon.json and the new files it names, as copies. */
export interface Candidate {
  /** Files to write into the candidate directory (mode 0600), the new daemon.json last. */
  files: { path: string; content: string }[];
  /** The candidate daemon.json dockerd is pointed at. */
  configPath: string;
  /** copy → the real path, to put dockerd's message in terms of the real files. */
  renames: [string, string][];
}

/**
 * Pure: the copies dockerd checks. dockerd (26.1 at least) loads the TLS key pair while it validates,
 * so the new daemon.json alone would fail on a first enable (its certificate not written yet) or be
 * checked against the old certificate: each new file the plan writes that daemon.json names (the CA,
 * the certificate, the key) is copied beside it, and the copy's path replaces the real one in it.
 */
export function candidateFiles(dir: string, daemonJson: string, contents: ReadonlyMap<string, { data: string }>, daemonView: (p: string) => string): Candidate {
  const config = JSON.parse(contents.get(daemonJson)?.data ?? '{}') as Record<string, unknown>;
  const files: Candidate['files'] = [];
  const renames: Candidate['renames'] = [];
  for (const [path, { data }] of contents) {
    if (path === daemonJson) continue;
    const keys = Object.keys(config).filter((k) => config[k] === daemonView(path));
    if (keys.length === 0) continue;
    const copy = `${dir}/${path.slice(path.lastIndexOf('/') + 1)}`;
    files.push({ path: copy, content: data });
    renames.push([daemonView(copy), daemonView(path)]);
    for (const k of keys) config[k] = daemonView(copy);
  }
  const configPath = `${dir}/daemon.json`;
  files.push({ path: configPath, content: `${JSON.stringify(config, null, 2)}\n` });
  renames.push([daemonView(configPath), daemonJson]);
  return { files, configPath, renames };
}

/**
 * dockerd's own reason from a failed --validate: its last line (or that line's logrus msg), e.g.
 * `unable to configure the Docker daemon with file /x: merged configuration validation from file and
 * command line flags failed: invalid logging level: verbose` (dockerd 26.1.5; it names
 * the key), with the copies' paths put back as the real ones.
 */
export function validationFailure(output: string, renames: readonly (readonly [string, string])[]): string {
  const lines = output
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  const last = lines.at(-1) ?? 'it gave no reason';
  let msg = /msg="((?:[^"\\]|\\.)*)"/.exec(last)?.[1]?.replace(/\\"/g, '"') ?? last;
  for (const [from, to] of renames) msg = msg.split(from).join(to);
  return msg;
}
