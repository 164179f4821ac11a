// Probes of the Docker engine inside the test VM, for the end-to-end suite: who dockerd is (MainPID, systemd's
// and the journal's view of every start), a background pid sampler, mutual-TLS client checks, the TCP listener,
// and a long-running container built without any registry.
import type { ExecResult, Vm } from './vm/vm.js';

export const TLS_PORT = 2376;

/** Where the suite copies client certificates inside the VM. */
export const VM_CERT_DIR = '/root/e2e-certs';

export interface DockerdFacts {
  /** VM clock (ms since the epoch) when the facts were taken; the VM shares the host's clock. */
  atMs: number;
  /** systemd's MainPID of docker.service (0: not running / no unit). */
  mainPid: number;
  /** systemd's automatic restarts (Restart=on-failure); a crash loop shows here. */
  nRestarts: number;
  activeState: string;
  /** systemd's "Started docker.service" lines in the journal (persistent: every boot). */
  systemdStarts: number;
  /** "Daemon has completed initialization" lines from dockerd in the journal (info level: not seen with --log-level warn). */
  dockerdInits: number;
  /** Every dockerd pid the journal of docker.service has seen, in order of first appearance. */
  journalPids: number[];
}

const FACTS_SCRIPT = String.raw`
pid=$(systemctl show docker.service -p MainPID --value 2>/dev/null); [ -n "$pid" ] || pid=0
nr=$(systemctl show docker.service -p NRestarts --value 2>/dev/null); [ -n "$nr" ] || nr=0
st=$(systemctl is-active docker.service 2>/dev/null); [ -n "$st" ] || st=unknown
j=$(journalctl -u docker.service --no-pager -o cat 2>/dev/null)
# systemd 252+ (Debian 12, 13) names the unit, 247 (Debian 11) only its description
starts=$(printf '%s\n' "$j" | grep -cE '^Started (docker\.service|Docker Application Container Engine\.$)')
inits=$(printf '%s\n' "$j" | grep -c 'Daemon has completed initialization')
pids=$(journalctl -u docker.service --no-pager -o json _COMM=dockerd 2>/dev/null | jq -r '._PID' | awk '!seen[$0]++' | paste -sd, -)
printf '{"atMs":%s,"mainPid":%s,"nRestarts":%s,"activeState":"%s","systemdStarts":%s,"dockerdInits":%s,"journalPids":[%s]}\n' \
  "$(date +%s%3N)" "$pid" "$nr" "$st" "$starts" "$inits" "$pids"
`;

export async function dockerdFacts(vm: Vm): Promise<DockerdFacts> {
  const out = await vm.check(FACTS_SCRIPT, { timeoutMs: 60_000 });
  return JSON.parse(out.trim()) as DockerdFacts;
}

/** Wait until docker.service is active with a MainPID (after a boot or an install). */
export async function waitDockerdActive(vm: Vm, timeoutMs = 90_000): Promise<DockerdFacts> {
  const deadline = Date.now() + timeoutMs;
  let f = await dockerdFacts(vm);
  while (!(f.activeState === 'active' && f.mainPid > 0) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    f = await dockerdFacts(vm);
  }
  return f;
}

export async function vmNowMs(vm: Vm): Promise<number> {
  return Number((await vm.check(['date', '+%s%3N'])).trim());
}

// ------------------------------------------------------------------------------------------------ pid sampler
const SAMPLER_UNIT = 'adx-e2e-dockerd-sampler.service';
const SAMPLES = '/var/lib/adx-e2e-samples/dockerd-pids.log';

/**
 * Records docker.service's MainPID every 0.2 s in a transient unit (a second witness besides the journal: a pid
 * that changes twice within one step shows up here even if a journal line were missed). Stops with the VM;
 * call again after a reboot.
 */
export async function startPidSampler(vm: Vm): Promise<void> {
  if ((await vm.exec(['systemctl', 'is-active', '--quiet', SAMPLER_UNIT])).exitCode === 0) return;
  await vm.exec(['systemctl', 'reset-failed', SAMPLER_UNIT]);
  await vm.check([
    'systemd-run', '--quiet', '--collect', '--unit', SAMPLER_UNIT, '-p', 'KillMode=control-group',
    'bash', '-c',
    `mkdir -p "$(dirname ${SAMPLES})"; while :; do echo "$(date +%s%3N) $(systemctl show docker.service -p MainPID --value 2>/dev/null || echo 0)" >> ${SAMPLES}; sleep 0.2; done`,
  ]);
}

export interface PidWindow {
  samples: number;
  /** Distinct non-zero MainPIDs in order (A, B means one change from A to B). */
  pids: number[];
  /** How many times the non-zero pid changed. */
  changes: number;
  /** Samples in which docker.service had no MainPID (stopped or restarting). */
  zeroSamples: number;
}

export async function pidWindow(vm: Vm, fromMs: number, toMs: number): Promise<PidWindow> {
  const text = (await vm.exec(['cat', SAMPLES])).stdout;
  const pids: number[] = [];
  let samples = 0;
  let zeroSamples = 0;
  for (const line of text.split('\n')) {
    const [t, p] = line.trim().split(/\s+/).map(Number);
    if (t === undefined || p === undefined || Number.isNaN(t) || Number.isNaN(p) || t < fromMs || t > toMs) continue;
    samples++;
    if (p === 0) zeroSamples++;
    else if (pids[pids.length - 1] !== p) pids.push(p);
  }
  return { samples, pids, changes: Math.max(0, pids.length - 1), zeroSamples };
}

// ------------------------------------------------------------------------------------------------ TLS checks
export interface ClientCheck {
  ok: boolean;
  exitCode: number;
  /** Last lines of the client's output (server version on success, the error otherwise). */
  detail: string;
}

export interface TlsChecks {
  /** `docker --tlsverify` with the right CA and a client certificate of that CA. */
  goodClient: ClientCheck;
  /** `docker --tlsverify` with the CA but without any client certificate. */
  noClientCert: ClientCheck;
  /** `docker --tlsverify` with a client certificate of an unrelated CA. */
  otherCaClient: ClientCheck;
  /** The same three with curl on /_ping: what the TLS server itself said. */
  curlGood: ClientCheck;
  curlNoCert: ClientCheck;
  curlOtherCa: ClientCheck;
  /** Plain `docker version` on the local unix socket. */
  localSocket: ClientCheck;
  /** `ss -Htln` lines for the TLS port. */
  listeners: string[];
  /** What dockerd itself logged about these handshakes (Go's http server logs them at every log level). */
  serverSaw: { noClientCert: boolean; unknownAuthority: boolean; lines: string[] };
}

function check(r: ExecResult): ClientCheck {
  const text = `${r.stdout}\n${r.stderr}`.trim().split('\n').slice(-3).join(' | ');
  return { ok: r.exitCode === 0, exitCode: r.exitCode, detail: text.slice(0, 600) };
}

export async function listeners(vm: Vm, port = TLS_PORT): Promise<string[]> {
  const out = (await vm.exec(['ss', '-Htln', `sport = :${port}`])).stdout;
  return out.split('\n').map((l) => l.trim()).filter(Boolean);
}

/** Copy the client-side PEM files into the VM. */
export async function copyClientCerts(
  vm: Vm,
  c: { ca: string; clientCert: string; clientKey: string; otherClientCert: string; otherClientKey: string },
): Promise<void> {
  await vm.writeFile(`${VM_CERT_DIR}/ca.pem`, c.ca, '0644');
  await vm.writeFile(`${VM_CERT_DIR}/client.pem`, c.clientCert, '0644');
  await vm.writeFile(`${VM_CERT_DIR}/client-key.pem`, c.clientKey, '0600');
  await vm.writeFile(`${VM_CERT_DIR}/other-client.pem`, c.otherClientCert, '0644');
  await vm.writeFile(`${VM_CERT_DIR}/other-client-key.pem`, c.otherClientKey, '0600');
  await vm.check(['mkdir', '-p', `${VM_CERT_DIR}/empty-home`]);
}

export async function tlsChecks(vm: Vm, port = TLS_PORT): Promise<TlsChecks> {
  const d = VM_CERT_DIR;
  const host = `tcp://127.0.0.1:${port}`;
  // HOME points at an empty directory so that no ~/.docker/{cert,key}.pem can stand in for the missing one.
  const env = { HOME: `${d}/empty-home`, DOCKER_CONFIG: `${d}/empty-home/.docker` };
  const docker = (extra: string[]) =>
    vm.exec(['timeout', '30', 'docker', '--tlsverify', '--tlscacert', `${d}/ca.pem`, ...extra, '-H', host, 'version', '--format', '{{.Server.Version}}'], { env });
  const curl = (extra: string[]) =>
    vm.exec(['curl', '-sS', '--max-time', '15', '--cacert', `${d}/ca.pem`, ...extra, `https://127.0.0.1:${port}/_ping`]);
  const cursor = (await vm.exec(['journalctl', '-u', 'docker.service', '-n', '0', '--show-cursor', '--no-pager'])).stdout.match(/-- cursor: (\S+)/)?.[1];
  const goodClient = check(await docker(['--tlscert', `${d}/client.pem`, '--tlskey', `${d}/client-key.pem`]));
  const noClientCert = check(await docker([]));
  const otherCaClient = check(await docker(['--tlscert', `${d}/other-client.pem`, '--tlskey', `${d}/other-client-key.pem`]));
  const curlGood = check(await curl(['--cert', `${d}/client.pem`, '--key', `${d}/client-key.pem`]));
  const curlNoCert = check(await curl([]));
  const curlOtherCa = check(await curl(['--cert', `${d}/other-client.pem`, '--key', `${d}/other-client-key.pem`]));
  const localSocket = check(await vm.exec(['timeout', '30', 'docker', 'version', '--format', '{{.Server.Version}}'], { env }));
  const journal = cursor
    ? (await vm.exec(['journalctl', '-u', 'docker.service', '--no-pager', '-o', 'cat', '--after-cursor', cursor])).stdout
    : '';
  const lines = journal.split('\n').filter((l) => /TLS handshake error/.test(l));
  const serverSaw = {
    noClientCert: lines.some((l) => /didn't provide a certificate/.test(l)),
    unknownAuthority: lines.some((l) => /unknown authority/.test(l)),
    lines: lines.slice(-6),
  };
  return { goodClient, noClientCert, otherCaClient, curlGood, curlNoCert, curlOtherCa, localSocket, listeners: await listeners(vm, port), serverSaw };
}

// ------------------------------------------------------------------------------------------------ keeper
export const KEEPER = 'keeper';
export const KEEPER_IMAGE = 'adx-e2e/busybox:1';

/**
 * An image without a registry: busybox-static from the Debian mirror (apt), its binary alone in a tar, `docker
 * import`. The container runs busybox's sh as PID 1 with a TERM trap, so dockerd's shutdown stops it at once
 * (a bare `sleep` as PID 1 ignores SIGTERM and would hold every dockerd restart for the stop timeout).
 */
export async function startKeeper(vm: Vm): Promise<void> {
  await vm.check(
    String.raw`set -e
      d=$(mktemp -d /var/tmp/adx-e2e-bb.XXXXXX); cd "$d"
      apt-cache policy busybox-static | grep -q 'Candidate: [0-9]' || apt-get update -qq
      apt-get download -q -o APT::Sandbox::User=root busybox-static >/dev/null
      dpkg-deb -x busybox-static_*.deb x
      mkdir img && cp x/bin/busybox img/busybox && chmod 0755 img/busybox
      tar -C img -cf img.tar busybox
      docker import img.tar ${KEEPER_IMAGE} >/dev/null
      cd / && rm -rf "$d"
      docker run -d --name ${KEEPER} --restart unless-stopped ${KEEPER_IMAGE} \
        /busybox sh -c 'trap "exit 0" TERM; while :; do /busybox sleep 1; done' >/dev/null`,
    { timeoutMs: 240_000 },
  );
}

export interface KeeperState {
  exists: boolean;
  running: boolean;
  startedAt: string;
  restartCount: number;
}

export async function keeperState(vm: Vm): Promise<KeeperState> {
  const r = await vm.exec(['docker', 'inspect', '-f', '{{.State.Running}} {{.State.StartedAt}} {{.RestartCount}}', KEEPER]);
  if (r.exitCode !== 0) return { exists: false, running: false, startedAt: '', restartCount: 0 };
  const [running, startedAt, rc] = r.stdout.trim().split(' ');
  return { exists: true, running: running === 'true', startedAt: startedAt ?? '', restartCount: Number(rc ?? 0) };
}

/** dockerd restarts containers with a restart policy while it starts; give it a moment when checking. */
export async function waitKeeperRunning(vm: Vm, timeoutMs = 30_000): Promise<KeeperState> {
  const deadline = Date.now() + timeoutMs;
  let s = await keeperState(vm);
  while (!s.running && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    s = await keeperState(vm);
  }
  return s;
}
