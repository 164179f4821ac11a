export interface CommandResult {
  exitCode: number;
  /** One short, secret-free line: the agent captures and publishes stdout. */
  stdout: string;
}
