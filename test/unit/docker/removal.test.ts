// Uninstall's plan (pure): which typed steps, in which order, for each combination of what the
// machine is (dockerd running or stopped, a drop-in whose directory holds nothing else, a
// live-restore to hand over) and what the settings ask (removeOnUninstall, with an engine the
// extension installed or not).
import { describe, expect, test } from '@jest/globals';
import { DEFAULT_LAYOUT, type EngineState } from '../../../handler/docker/desired.js';
import type { ConfigPlan, PlannedStep } from '../../../handler/docker/plan.js';
import { stepName } from '../../../handler/docker/plan.js';
import { planRemoval, type RemovalFacts } from '../../../handler/docker/removal.js';

const STATE = '/var/lib/azure-docker-extension/engine-state.json';
const layout = DEFAULT_LAYOUT;
const installed = { manager: 'apt', packages: ['docker.io'], source: 'distro', at: '2026-12-01T00:00:00Z' };
const previous: EngineState = {
  version: 1,
  daemonJson: { path: layout.daemonJson, owned: { hosts: { hadPrior: false } }, created: true },
  files: [layout.caFile],
  dropIn: layout.dropIn,
  installed,
};
const newState: EngineState = { version: 1, daemonJson: { path: layout.daemonJson, owned: {}, created: true }, files: [], installed };

/** What diffConfig gives for an uninstall that removes daemon.json, a certificate and the drop-in. */
function config(): ConfigPlan {
  return {
    steps: [
      { kind: 'save-state', path: STATE, reason: 'r' },
      { kind: 'remove-file', path: layout.daemonJson, reason: 'r' },
      { kind: 'remove-file', path: layout.dropIn, reason: 'r' },
      { kind: 'remove-file', path: layout.caFile, reason: 'r' },
      { kind: 'daemon-reload', reason: 'r' },
      { kind: 'restart-service', reason: 'r' },
      { kind: 'verify', checks: [], reason: 'r' },
    ],
    contents: new Map(),
    removals: [layout.daemonJson, layout.dropIn, layout.caFile],
    chmods: [],
    action: 'restart',
    reasons: ['r'],
    daemonReload: true,
    enable: false,
    filesChanged: true,
    configChanges: [],
  };
}

const handover: PlannedStep[] = [
  { step: { kind: 'write-file', path: layout.daemonJson, mode: 0o644, size: 23, sha256: 'x', sensitive: false, reason: 'r' }, data: { content: '{"live-restore":false}\n', mode: 0o644 } },
  { step: { kind: 'live-restore-off', socketPath: '/run/docker.sock', reason: 'r' } },
  { step: { kind: 'remove-file', path: layout.daemonJson, reason: 'r' } },
  { step: { kind: 'save-state', path: STATE, reason: 'r' }, state: newState },
];

const facts = (f: Partial<RemovalFacts> = {}): RemovalFacts => ({
  config: config(),
  layout,
  statePath: STATE,
  previous,
  newState,
  nothingOwned: true,
  running: true,
  dataRoots: [],
  handover: [],
  dropInDirOthers: [],
  ...f,
});
const names = (steps: readonly PlannedStep[]) => steps.map((s) => stepName(s.step));

describe('planRemoval', () => {
  test('dockerd running: the diff goes to applyConfig (restart, proof); the drop-in directory and the record after the proof', () => {
    const p = planRemoval(facts());
    expect(p.mode).toBe('restart');
    if (p.mode !== 'restart') return;
    expect(p.config.steps.map((s) => s.kind)).toContain('restart-service');
    expect(names(p.after)).toEqual(['remove-empty-dir /etc/systemd/system/docker.service.d', 'forget-state']);
  });

  test('dockerd running with live-restore to hand over: the hand-over first after the proof, then the clean-up', () => {
    const p = planRemoval(facts({ handover }));
    if (p.mode !== 'restart') throw new Error(p.mode);
    expect(names(p.after)).toEqual([
      'write-file /etc/docker/daemon.json',
      'live-restore-off',
      'remove-file /etc/docker/daemon.json',
      'save-state',
      'remove-empty-dir /etc/systemd/system/docker.service.d',
      'forget-state',
    ]);
  });

  test('keys still owned: the record stays; a drop-in directory holding the admin\'s files stays', () => {
    const p = planRemoval(facts({ nothingOwned: false, dropInDirOthers: ['admin.conf'] }));
    if (p.mode !== 'restart') throw new Error(p.mode);
    expect(p.after).toEqual([]);
  });

  test('dockerd stopped by the admin: file steps only, nothing started; the record forgotten', () => {
    const p = planRemoval(facts({ running: false }));
    expect(p.mode).toBe('left-stopped');
    if (p.mode !== 'left-stopped') return;
    expect(names(p.steps)).toEqual([
      'save-state',
      'remove-file /etc/docker/daemon.json',
      'remove-file /etc/systemd/system/docker.service.d/10-azure-docker-extension.conf',
      'remove-file /etc/docker/ca.pem',
      'daemon-reload',
      'remove-empty-dir /etc/systemd/system/docker.service.d',
      'forget-state',
    ]);
    // The in-flight record claims what was owned as well as what will be.
    expect(p.steps[0]!.state?.daemonJson.owned).toEqual({ hosts: { hadPrior: false } });
  });

  test('dockerd stopped, keys still owned: the final record saved last instead of forgotten', () => {
    const p = planRemoval(facts({ running: false, nothingOwned: false, newState: { ...newState, daemonJson: { ...newState.daemonJson, owned: { 'log-level': { hadPrior: true, prior: 'warn' } } } } }));
    if (p.mode !== 'left-stopped') throw new Error(p.mode);
    expect(names(p.steps).slice(-2)).toEqual(['save-state', 'remove-empty-dir /etc/systemd/system/docker.service.d']);
    expect(p.steps.at(-2)!.state?.daemonJson.owned).toEqual({ 'log-level': { hadPrior: true, prior: 'warn' } });
  });

  test.each([
    ['running', true, ['stop-service']],
    ['stopped', false, []],
  ])('removeOnUninstall with an engine the extension installed, dockerd %s: stop, files, purge, data roots, record', (_what, running, first) => {
    const p = planRemoval(
      facts({
        running,
        handover, // never used when the engine goes: nothing is left running to hand over to
        removeEngine: { manager: 'apt', packages: ['docker.io=20.10.24+dfsg1-1+deb12u1+b6'] },
        dataRoots: [{ path: '/mnt/docker' }, { path: '/srv', keep: 'it is a system or mount directory, not one Docker made' }, { path: '/var/lib/docker' }],
      }),
    );
    if (p.mode !== 'engine') throw new Error(p.mode);
    expect(names(p.steps)).toEqual([
      ...first,
      'save-state',
      'remove-file /etc/docker/daemon.json',
      'remove-file /etc/systemd/system/docker.service.d/10-azure-docker-extension.conf',
      'remove-file /etc/docker/ca.pem',
      'daemon-reload',
      'purge-engine',
      'empty-data-root /mnt/docker',
      'empty-data-root /var/lib/docker',
      'forget-state',
    ]);
    expect(p.steps.find((s) => s.step.kind === 'purge-engine')!.step).toMatchObject({ packages: ['docker.io'], argv: ['apt-get', '-q', '-y', '-o', 'DPkg::Lock::Timeout=300', 'purge', 'docker.io'] });
    expect(p.emptied).toEqual(['/mnt/docker', '/var/lib/docker']);
    expect(p.kept.map((k) => k.path)).toEqual(['/srv']);
  });

  test.each([
    ['dnf', ['docker-ce-27.5.1', 'docker-ce-cli-27.5.1', 'containerd.io'], ['dnf', '-y', 'remove', 'docker-ce', 'docker-ce-cli', 'containerd.io']],
    ['tdnf', ['moby-engine', 'moby-cli'], ['tdnf', '-y', 'remove', 'moby-engine', 'moby-cli']],
    ['zypper', ['docker=27.5.1'], ['zypper', '--non-interactive', 'remove', 'docker']],
  ])('the purge with %s names the packages without their pins', (manager, packages, argv) => {
    const p = planRemoval(facts({ removeEngine: { manager, packages } }));
    if (p.mode !== 'engine') throw new Error(p.mode);
    expect(p.steps.find((s) => s.step.kind === 'purge-engine')!.step).toMatchObject({ argv });
  });
});

describe('planRemoval with a compose project', () => {
  const compose: PlannedStep[] = [
    { step: { kind: 'compose-down', project: 'compose', file: '/etc/docker/compose/docker-compose.yml', reason: 'r' } },
    { step: { kind: 'remove-file', path: '/etc/docker/compose/docker-compose.yml', reason: 'r' } },
    { step: { kind: 'forget-state', path: '/var/lib/x/compose-state.json', reason: 'r' } },
  ];
  test('dockerd running: down after the proof, before the rest of the clean-up', () => {
    const p = planRemoval(facts({ compose }));
    if (p.mode !== 'restart') throw new Error(p.mode);
    expect(names(p.after)).toEqual(['compose-down compose', 'remove-file /etc/docker/compose/docker-compose.yml', 'forget-state', 'remove-empty-dir /etc/systemd/system/docker.service.d', 'forget-state']);
  });
  test('removeOnUninstall: down before dockerd stops', () => {
    const p = planRemoval(facts({ compose, removeEngine: { manager: 'apt', packages: ['docker.io'] } }));
    if (p.mode !== 'engine') throw new Error(p.mode);
    expect(names(p.steps).slice(0, 4)).toEqual(['compose-down compose', 'remove-file /etc/docker/compose/docker-compose.yml', 'forget-state', 'stop-service']);
  });
  test('dockerd stopped: no down (it cannot run), the file and record still go', () => {
    const p = planRemoval(facts({ compose, running: false }));
    if (p.mode !== 'left-stopped') throw new Error(p.mode);
    expect(names(p.steps).slice(0, 2)).toEqual(['remove-file /etc/docker/compose/docker-compose.yml', 'forget-state']);
    expect(names(p.steps)).not.toContain('compose-down compose');
  });
});
