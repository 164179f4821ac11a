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

export interface ReadFileSystem {
  readText(path: string): Promise<string | undefined>;
  readBytes(path: string): Promise<Buffer | undefined>;
  stat(path: string): Promise<FileStat | undefined>;
  list(dir: string): Promise<string[]>;
  exists(path: string): Promise<boolean>;
}

export interface FileSystem extends ReadFileSystem {
  /** Temp file in the same directory, fsync, chmod, rename: readers see old or new, never half. */
  writeAtomic(path: string, data: string | Buffer, mode: number): Promise<void>;
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
