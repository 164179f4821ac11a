// Runs test/support/apply-driver.ts (bundled with bundleDriver) in a child that SIGKILLs itself
// right after its n-th finished step (the applier's test-only hook, handler/docker/progress.ts).
// The settings go to the child in a 0600 file in the sandbox, never on its command line.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { TEST_KILL_ENV } from '../../handler/docker/progress.js';

/** What apply-driver.ts reads (see its header). */
export interface DriverSettings {
  public: Record<string, unknown>;
  protected: Record<string, unknown>;
  remove?: boolean;
  removeEngine?: boolean;
  run?: string[];
  ovfEnvFile?: string;
}

/** `killed`: the child died of the SIGKILL after step n; otherwise it ran to its end, and `out` says how. */
export function killedAfterStep(driver: string, sandboxDir: string, s: DriverSettings, n: number): { killed: boolean; out: string } {
  const settingsFile = path.join(sandboxDir, 'settings.json');
  writeFileSync(settingsFile, JSON.stringify(s), { mode: 0o600 });
  const r = spawnSync(process.execPath, [driver, sandboxDir, settingsFile], { env: { ...process.env, [TEST_KILL_ENV]: String(n) }, encoding: 'utf8', timeout: 300_000 });
  return { killed: r.signal === 'SIGKILL', out: `${r.stdout}${r.stderr}` };
}
