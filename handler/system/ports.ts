// The only seam between the handler's logic and the machine. Read ports are all a dry run or
// `observe` ever receives; effect ports exist only where changes are applied.

export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface RunOptions {
  /** Fed on stdin: the only way a secret may reach a child process (never argv or env). */
  input?: string;
  timeoutMs?: number;
  env?: Record<string, string>;
}

export interface CommandRunner {
  /** Runs and resolves whatever the exit code; callers decide what a failure means. */
  run(file: string, args: readonly string[], opts?: RunOptions): Promise<CommandResult>;
}

export interface FileStat {
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtimeMs: number;
  isFile: boolean;
  isDirectory: boolean;
}

/**
 * Every read is bounded and refuses what is not a regular file (a FIFO would hang it, /dev/zero
 * would fill memory). Agent-provided and admin-writable files are read without following a link
 * at the last component; only system files that distributions ship as links (/etc/os-release,
 * unit files) opt in to following one.
 */
export interface ReadOptions {
  /** Largest accepted size in bytes (default READ_LIMITS.default). */
  maxBytes?: number;
  /** Follow a symbolic link at the last path component (default: refuse it). */
  followLinks?: boolean;
}

/** Size limits per kind of file; a file above its limit is refused, never partly read. */
export const READ_LIMITS = {
  /** config/N.settings: the agent caps protected settings far below this. */
  settings: 4 * 1024 * 1024,
  /** PEM certificates and keys (waagent's .crt/.prv, the TLS files). */
  certificate: 64 * 1024,
  /** HandlerEnvironment.json, status, mrseq, lock and state records. */
  small: 1024 * 1024,
  default: 4 * 1024 * 1024,
} as const;

export interface ReadFileSystem {
  readText(path: string, opts?: ReadOptions): Promise<string | undefined>;
  readBytes(path: string, opts?: ReadOptions): Promise<Buffer | undefined>;
  stat(path: string): Promise<FileStat | undefined>;
  list(dir: string): Promise<string[]>;
  exists(path: string): Promise<boolean>;
}

export interface FileSystem extends ReadFileSystem {
  /**
   * Temp file in the same directory, fsync, chmod, rename: readers see old or new, never half.
   * The directory must be a real, root-owned directory nobody else can write (never a link).
   */
  writeAtomic(path: string, data: string | Buffer, mode: number): Promise<void>;
  /** Creates missing folders with `mode`; refuses a final folder that is a link or writable by others. */
  mkdirp(path: string, mode?: number): Promise<void>;
  remove(path: string): Promise<void>;
  /** rename(2): atomic within one filesystem. */
  rename(from: string, to: string): Promise<void>;
  chmod(path: string, mode: number): Promise<void>;
}

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}
