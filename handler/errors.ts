// One error family for everything the handler reports. `category` separates problems the VM
// admin fixes (settings, certificates) from problems of the machine (apt, dockerd), which
// decides the wording of the status message and the exit code.
export type ErrorCategory = 'user' | 'system';

export class HandlerError extends Error {
  readonly code: string;
  readonly category: ErrorCategory;

  constructor(message: string, opts: { code: string; category: ErrorCategory; cause?: unknown }) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = opts.code;
    this.category = opts.category;
  }
}

/** Bad input from the user: settings, certificates, options. Nothing on the machine changed. */
export class ConfigError extends HandlerError {
  constructor(message: string, code = 'ECONFIG', cause?: unknown) {
    super(message, { code, category: 'user', cause });
  }
}

/** The agent's files (HandlerEnvironment.json, N.settings, certificates) are missing or malformed. */
export class AgentContractError extends HandlerError {
  constructor(message: string, code = 'EAGENT', cause?: unknown) {
    super(message, { code, category: 'system', cause });
  }
}

/** A step on the machine failed (package manager, service manager, dockerd). */
export class StepFailedError extends HandlerError {
  constructor(message: string, code = 'ESTEP', cause?: unknown) {
    super(message, { code, category: 'system', cause });
  }
}

export const isHandlerError = (e: unknown): e is HandlerError => e instanceof HandlerError;

/** A message safe to show the admin for any thrown value; never includes stack traces. */
export function describeError(e: unknown): string {
  if (e instanceof HandlerError) return e.message;
  const denied = notRootDenied(e);
  if (denied) return denied;
  if (e instanceof Error) return `internal error: ${e.message}`;
  return `internal error: ${String(e)}`;
}

/**
 * A permission error of a run that is not root: the handler reads and writes root's files
 * (/etc/docker, /var/lib/waagent), so the fix is to run it as root, which the agent always does.
 */
function notRootDenied(e: unknown): string | undefined {
  const err = e as NodeJS.ErrnoException | undefined;
  if (!err || (err.code !== 'EACCES' && err.code !== 'EPERM') || process.getuid?.() === 0) return undefined;
  const what = err.path ? `${err.path}: permission denied` : `permission denied (${err.syscall ?? err.code})`;
  return `${what}; the handler works on root's files (/etc/docker, /var/lib/waagent), so run it as root: the Azure Linux Agent does, and by hand use sudo (sudo scripts/handler.sh …)`;
}
