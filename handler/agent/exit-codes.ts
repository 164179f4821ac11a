// The agent gives no exit code a special meaning on Linux: any non-zero is a failure of that
// command (1007 install, 1009 enable, ...). These follow the Go extensions' convention so logs
// of mixed fleets read the same.
export const EXIT = {
  ok: 0,
  usage: 2,
  failure: 3,
  installFailure: 52,
} as const;
