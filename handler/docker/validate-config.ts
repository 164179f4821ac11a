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
  const r = await cmd.run(dockerd, ['--version'], { timeoutMs: 15_000 }).catch(() => undefined);
  return validatorFor(dockerd, r?.exitCode === 0 ? r.stdout : undefined);
}

/**
 * Pure: the plan step that checks the new daemon.json. A skipped check stays in the plan, saying
 * why, so that a dry run shows what protects the restart: there the restart's proof and rollback.
 */
export function validationStep(validator: ConfigValidator, daemonJson: string): Extract<Step, { kind: 'validate-config' }> {
  if (validator.kind === 'skip') {
    return { kind: 'validate-config', path: daemonJson, skipped: validator.why, reason: 'dockerd itself proves the new daemon.json when it restarts; the previous one is restored if it refuses' };
  }
  return {
    kind: 'validate-config',
    path: daemonJson,
    dockerd: validator.dockerd,
    version: validator.version,
    reason: 'dockerd checks the new daemon.json on a copy before it is written, so a value it refuses changes nothing',
  };
}

/**
 * dockerd's own reason from a failed --validate: its last "level=fatal"/error line without the log
 * prefix, e.g. `unable to configure the Docker daemon with file /x: invalid logging level: verbose`
 * is kept whole (it names the key), only the candidate's path is replaced by the real one.
 */
export function validationFailure(output: string, candidatePath: string, daemonJson: string): string {
  const lines = output
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  const last = lines.at(-1) ?? 'it gave no reason';
  const msg = /msg="((?:[^"\\]|\\.)*)"/.exec(last)?.[1]?.replace(/\\"/g, '"') ?? last;
  return msg.split(candidatePath).join(daemonJson);
}
