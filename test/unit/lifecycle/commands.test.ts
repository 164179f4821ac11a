import { describe, expect, test } from '@jest/globals';
import { COMMANDS, COMMAND_NAMES } from '../../../handler/lifecycle/commands.js';
import { parseArgs } from '../../../handler/cli/args.js';
import { EXIT } from '../../../handler/agent/exit-codes.js';

describe('the command table', () => {
  test('every agent verb, its status duty and failure code', () => {
    const table = Object.fromEntries(COMMAND_NAMES.map((n) => [n, { op: COMMANDS[n].operation, status: COMMANDS[n].reportsStatus, exit: COMMANDS[n].failExitCode, pre: !!COMMANDS[n].preCheck }]));
    expect(table).toEqual({
      install: { op: 'Install', status: false, exit: EXIT.installFailure, pre: false },
      enable: { op: 'Enable', status: true, exit: EXIT.failure, pre: true },
      disable: { op: 'Disable', status: false, exit: EXIT.failure, pre: false },
      uninstall: { op: 'Uninstall', status: false, exit: EXIT.failure, pre: false },
      update: { op: 'Update', status: false, exit: EXIT.failure, pre: false },
    });
  });
});

describe('parseArgs', () => {
  test.each([
    [['enable'], { kind: 'command', command: 'enable', dryRun: false, json: false }],
    [['enable', '--dry-run', '--root', '/r'], { kind: 'command', command: 'enable', dryRun: true, json: false, root: '/r' }],
    [['enable', '--dry-run', '--json'], { kind: 'command', command: 'enable', dryRun: true, json: true }],
    [['status'], { kind: 'status', json: false }],
    [['status', '--json'], { kind: 'status', json: true }],
    [['__worker', '7'], { kind: 'worker', seq: 7 }],
    [['--help'], { kind: 'help' }],
  ])('%j', (argv, want) => {
    expect(parseArgs(argv)).toEqual(want);
  });

  test.each([[[]], [['start']], [['enable', '--force']], [['install', '--dry-run']], [['enable', '--root', '/x']], [['__worker', 'x']], [['enable', 'extra']], [['enable', '--json']], [['status', '--dry-run']], [['status', 'extra']]])(
    'usage error: %j',
    (argv) => {
      expect(parseArgs(argv).kind).toBe('usage-error');
    },
  );

  test.each([
    [['enabel'], 'unknown command "enabel"; did you mean "enable"?'],
    [['enable', '--dryrun'], 'unknown option "--dryrun"; did you mean "--dry-run"?'],
    [['enable', '--dry-run', '--publc=x.json'], 'unknown option "--publc"; did you mean "--public"?'],
    // Nothing close: the list, never an unrelated guess.
    [['enable', '-g'], 'unknown option "-g"; the options are --dry-run, --root, --public, --protected, --json'],
    [['start'], 'unknown command "start"; the commands are install, enable, disable, uninstall, update, status'],
    [['statsu'], 'unknown command "statsu"; did you mean "status"?'],
    [['status', '--jsn'], 'unknown option "--jsn"; did you mean "--json"?'],
  ])('did you mean: %j', (argv, message) => {
    expect(parseArgs(argv)).toEqual({ kind: 'usage-error', message });
  });
});
