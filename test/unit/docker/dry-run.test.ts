// What the dry run says happens to the user's containers: the running dockerd's live-restore
// decides whether a restart stops them. Pure (buildEngineDryRun from a plan).
import { describe, expect, test } from '@jest/globals';
import { buildEngineDryRun, type DryRunFacts } from '../../../handler/docker/dry-run.js';
import { DEFAULT_LAYOUT } from '../../../handler/docker/desired.js';
import type { ConfigPlan } from '../../../handler/docker/plan.js';

function facts(action: ConfigPlan['action'], running: DryRunFacts['running']): DryRunFacts {
  const config = { steps: [], contents: new Map(), removals: [], chmods: [], action, reasons: action === 'none' ? [] : ['hosts changed'], daemonReload: false, enable: false, filesChanged: false, configChanges: [] } as ConfigPlan;
  return {
    distro: { id: 'debian', family: 'debian', name: 'Debian GNU/Linux 12 (bookworm)', versionId: '12', major: 12, codename: 'bookworm', packageManager: 'apt' },
    serviceManager: 'systemd',
    install: { action: 'none', source: 'distro', manager: 'apt', packages: [], reason: 'docker.io 26.1.5 is already installed', warnings: [], commands: [] },
    layout: DEFAULT_LAYOUT,
    current: { debug: true, hosts: ['fd://'] },
    currentExists: true,
    desired: { config: { debug: true, hosts: ['fd://', 'tcp://0.0.0.0:2376'] }, owned: {}, configFileWanted: true, files: [], removeFiles: [], removeDropIn: false, verify: { socketPath: '/run/docker.sock' }, warnings: [], moved: [] } as unknown as DryRunFacts['desired'],
    config,
    after: [],
    ...(running ? { running } : {}),
    certificate: null,
  };
}

describe('dry run: containers and dockerd', () => {
  test.each([
    ['restart', { liveRestore: true }, false, 'keep running through the restart (live-restore is on in the running dockerd)'],
    ['restart', { liveRestore: false }, true, 'WOULD STOP: the running dockerd has live-restore off, so its restart stops every container (those with a restart policy start again)'],
    ['restart', {}, null, 'unknown: the running dockerd did not say whether live-restore is on'],
    ['reload', { liveRestore: false }, false, 'keep running (a reload restarts nothing)'],
    ['none', { liveRestore: false }, false, 'keep running (dockerd is not restarted)'],
    ['start', undefined, null, 'no dockerd runs, so no container runs'],
  ] as const)('%s with %j: containersStop %s', (action, running, stop, said) => {
    const d = buildEngineDryRun(facts(action, running)).dockerd;
    expect(d.containersStop).toBe(stop);
    expect(d.containers).toBe(said);
  });

  test('old → new for each changed key; the admin\'s unchanged keys are not listed but are in the file', () => {
    const r = buildEngineDryRun(facts('restart', { liveRestore: true }));
    expect(r.daemonJson.changes).toEqual([{ key: 'hosts', change: 'changed', from: ['fd://'], to: ['fd://', 'tcp://0.0.0.0:2376'] }]);
    expect(JSON.parse(r.daemonJson.content!)).toEqual({ debug: true, hosts: ['fd://', 'tcp://0.0.0.0:2376'] });
  });
});
