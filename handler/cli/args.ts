import { parseArgs as nodeParseArgs } from 'node:util';
import { closest } from '../agent/closest.js';
import { COMMAND_NAMES, isCommandName, type CommandName } from '../lifecycle/commands.js';

export type ParsedArgs =
  | { kind: 'command'; command: CommandName; dryRun: boolean; json: boolean; root?: string; publicFile?: string; protectedFile?: string }
  | { kind: 'status'; json: boolean }
  | { kind: 'worker'; seq: number }
  | { kind: 'uninstall-worker' }
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'usage-error'; message: string };

/** Hidden verb the foreground enable uses to start its detached worker. */
export const WORKER_VERB = '__worker';
/** Hidden verb of uninstall's part that may outlive the agent's 300 s limit. */
export const UNINSTALL_WORKER_VERB = '__uninstall';

export const USAGE = `usage: handler.sh <${COMMAND_NAMES.join('|')}>
       handler.sh enable --dry-run [--public FILE] [--protected FILE] [--root DIR] [--json]
       handler.sh status [--json]

The Azure Linux Agent runs the five commands; an admin can run these two on any VM, as root:
  status             what serves, the engine, the applied configuration, the monitor and its
                     heartbeat, drift, the last error and where every log is; changes nothing.
                     Exit code 0 serving as applied, 1 needs attention (each problem listed),
                     3 cannot be read (not root), 4 not enabled yet
  --dry-run          print what enable would change, change nothing, write no status
  --public FILE      public settings JSON to plan with (default: this VM's applied settings,
                     or an embedded example when the extension is not installed)
  --protected FILE   protected settings as plain JSON (read locally, never printed)
  --root DIR         plan against a copy of the machine's files under DIR
  --json             the same as JSON, for scripts`;

const FLAGS = ['--dry-run', '--root', '--public', '--protected', '--json'];

/** `unknown option "--dryrun"; did you mean "--dry-run"?`, or the list when nothing is close. */
function unknown(what: string, given: string, known: readonly string[]): string {
  const shown = given.slice(0, 40);
  const guess = closest(given, known);
  return `unknown ${what} "${shown}"; ${guess ? `did you mean "${guess}"?` : `the ${what}s are ${known.join(', ')}`}`;
}

export function parseArgs(argv: readonly string[]): ParsedArgs {
  const [verb, ...rest] = argv;
  if (verb === undefined) return { kind: 'usage-error', message: 'missing command' };
  if (verb === '--help' || verb === '-h' || verb === 'help') return { kind: 'help' };
  if (verb === '--version') return { kind: 'version' };
  if (verb === WORKER_VERB) {
    const seq = rest[0];
    return seq !== undefined && /^\d{1,9}$/.test(seq) && rest.length === 1 ? { kind: 'worker', seq: Number(seq) } : { kind: 'usage-error', message: 'bad worker arguments' };
  }
  if (verb === UNINSTALL_WORKER_VERB) {
    return rest.length === 0 ? { kind: 'uninstall-worker' } : { kind: 'usage-error', message: `bad ${verb} arguments` };
  }
  if (verb === 'status') {
    const flag = rest.find((a) => a !== '--json');
    if (flag !== undefined) return { kind: 'usage-error', message: unknown('option', flag.split('=')[0]!, ['--json']) };
    return { kind: 'status', json: rest.includes('--json') };
  }
  if (!isCommandName(verb)) return { kind: 'usage-error', message: unknown('command', verb, [...COMMAND_NAMES, 'status']) };
  const flag = rest.find((a) => a.startsWith('-') && !FLAGS.includes(a.split('=')[0]!));
  if (flag !== undefined) return { kind: 'usage-error', message: unknown('option', flag.split('=')[0]!, FLAGS) };
  let values;
  try {
    ({ values } = nodeParseArgs({
      args: [...rest],
      options: {
        'dry-run': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        root: { type: 'string' },
        public: { type: 'string' },
        protected: { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    return { kind: 'usage-error', message: (e as Error).message.split('\n')[0] ?? 'bad arguments' };
  }
  const dryRun = values['dry-run'] === true;
  if (!dryRun && (values.root || values.public || values.protected || values.json)) {
    return { kind: 'usage-error', message: '--root, --public, --protected and --json only go with enable --dry-run' };
  }
  if (dryRun && verb !== 'enable') return { kind: 'usage-error', message: '--dry-run is supported for enable only' };
  return {
    kind: 'command',
    command: verb,
    dryRun,
    json: values.json === true,
    ...(values.root ? { root: values.root } : {}),
    ...(values.public ? { publicFile: values.public } : {}),
    ...(values.protected ? { protectedFile: values.protected } : {}),
  };
}
