// The status report for a person at a shell: one labelled row per part, then the problems and
// what to do. Pure. `--json` prints the report itself (StatusReportSchema).
import { FINGERPRINT_LABEL } from '../crypto/fingerprint.js';
import { describeInProgress, type StatusReport } from './report.js';

type Row = [label: string, text: string | undefined];
/** The longest label ("In progress:") and two spaces: the same columns whatever rows are shown. */
const LABEL_WIDTH = 14;

/** The rows in the order shown; a part the report does not have (not enabled yet) is left out. */
const ROWS: Array<(r: StatusReport) => Row | Row[]> = [
  (r) => ['Serves', serves(r)],
  (r) => ['Certificate', certificate(r)],
  (r) => ['Engine', engine(r)],
  (r) => ['Applied', applied(r)],
  (r) => ['In progress', r.inProgress ? describeInProgress(r.inProgress) : undefined],
  (r) => ['Monitor', monitor(r)],
  (r) => ['Heartbeat', heartbeat(r)],
  (r) => ['Drift', r.extension && r.applied ? (r.drift.length ? r.drift.map((d) => d.summary).join('; ') : 'none: the files the extension manages are as it left them') : undefined],
  (r) => ['Compose', compose(r)],
  (r) => ['Registry', r.login ? `${r.login.accounts.join(' and ')} logged in to ${r.login.server} by the extension${r.login.rootHasCredentials ? '' : "; root's client NO LONGER holds the credentials"}` : undefined],
  (r) => ['Docker group', r.dockerGroup ? `${r.dockerGroup.user} added by the extension at ${r.dockerGroup.addedAt}${r.dockerGroup.member ? '' : '; NO LONGER a member'}` : undefined],
  (r) => ['Last error', r.applied ? (r.lastError ?? 'none') : undefined],
  (r) => r.logs.map((l, i): Row => [i === 0 ? 'Logs' : '', `${l.where}  (${l.what})`]),
];

export function renderStatus(r: StatusReport): string {
  const out = [`Docker extension ${r.version}, ${r.checkedAt}: ${r.headline}`];
  const rows = ROWS.flatMap((f) => {
    const row = f(r);
    return (Array.isArray(row[0]) ? row : [row]) as Row[];
  }).filter((row) => row[1] !== undefined);
  for (const [label, text] of rows) out.push(`  ${(label ? `${label}:` : '').padEnd(LABEL_WIDTH)}${text}`);
  if (r.problems.length > 1 || (r.problems.length === 1 && r.state === 'attention')) {
    out.push('Problems:', ...r.problems.map((p) => `  - ${p}`));
  }
  out.push(`Exit code ${r.exitCode} (${r.state}).`);
  return out.join('\n');
}

function serves(r: StatusReport): string | undefined {
  if (!r.extension && r.state !== 'not-enabled') return undefined;
  const parts = [r.serves.socket ? `local socket ${r.serves.socket}` : 'no local socket answers'];
  const t = r.serves.tcp;
  if (t) parts.push(`TCP ${t.host}:${t.port} ${t.tls ? 'with TLS, client certificates required' : 'WITHOUT TLS'} (${t.listening ? 'listening' : 'NOT listening'})`);
  else if (r.applied?.result === 'success') parts.push('no TCP listener (no certificates in the settings)');
  else if (r.applied) parts.push('no TCP listener configured by the extension yet (its last enable failed)');
  return parts.join('; ');
}

function certificate(r: StatusReport): string | undefined {
  const c = r.certificate;
  if (!c) return undefined;
  if (c.problem) return c.problem;
  const names = c.subjectAltNames.length ? c.subjectAltNames.join(', ') : 'no subjectAltName';
  const left = c.daysLeft === null ? '' : c.daysLeft < 0 ? ', EXPIRED' : ` (${c.daysLeft} days left)`;
  return `${c.subject}; names ${names}; valid until ${c.notAfter}${left}${c.issuedOnVm ? `; issued on this VM, renewed by the monitor${c.lastRenewal ? ` (last ${c.lastRenewal.at}: ${c.lastRenewal.reason})` : ''}` : ''}; ${FINGERPRINT_LABEL} ${c.fingerprintSha256} (compare: openssl x509 -noout -fingerprint -sha256 -in ${c.file})`;
}

function engine(r: StatusReport): string {
  const e = r.engine;
  const who = e.installedByExtension ? `; ${e.installedByExtension.packages.join(' ')} installed by the extension with ${e.installedByExtension.manager} at ${e.installedByExtension.at}` : '';
  if (!e.answers) return `dockerd does not answer (${e.detail})${who}`;
  return `Docker ${e.version ?? '(version unknown)'}${e.apiVersion ? ` (API ${e.apiVersion})` : ''} answers${who}`;
}

function applied(r: StatusReport): string | undefined {
  const a = r.applied;
  if (!a) return undefined;
  const when = a.at ? ` at ${a.at}` : '';
  const by = a.version ? ` by version ${a.version}` : '';
  return `configuration ${a.seq}${when}${by}: ${a.result}${a.result === 'success' && a.message ? ` (${a.message})` : ''}`;
}

function compose(r: StatusReport): string | undefined {
  const c = r.compose;
  if (!c) return undefined;
  const services = c.containersUnknown
    ? 'containers not listed (dockerd does not answer)'
    : c.services.length
      ? c.services.map((s) => `${s.name} ${s.running}/${s.total} running`).join(', ')
      : c.fileAsWritten
        ? 'no service to start'
        : 'services not known';
  const file = c.fileAsWritten ? '' : '; the file was CHANGED outside the extension';
  return `project ${c.project} (${c.file}): ${services}${c.upFinished ? '' : '; its last up -d was interrupted'}${file}`;
}

function monitor(r: StatusReport): string | undefined {
  if (!r.extension || !r.applied) return undefined;
  const m = r.monitor;
  const state = m.running ? `running (pid ${m.pid}, since ${m.since})` : 'NOT running';
  return `${state}${m.disabled ? '; the extension is disabled: it reports and restarts nothing' : ''}`;
}

function heartbeat(r: StatusReport): string | undefined {
  if (!r.extension || !r.applied) return undefined;
  const h = r.monitor.heartbeat;
  if (!h) return 'none written';
  return `${h.status}, written ${h.writtenAt} (${h.ageSeconds} s ago): ${h.message}`;
}
