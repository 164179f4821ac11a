import { agentBench } from './agent-bench.js';
import { engineBench } from '../../test/support/docker-bench.js';
import { monitorBench } from '../../test/support/monitor-bench.js';

export async function runBenchmarks(args: string[]): Promise<void> {
  const only = new Set(args);
  const sections: Array<[string, () => Promise<string[]>]> = [
    ['agent contract (packaged handler)', agentBench],
    ['engine (real dockerd)', () => engineBench()],
    ['monitor (real dockerd, shipped runtime)', () => monitorBench()],
  ];
  for (const [name, fn] of sections) {
    if (only.size && !only.has(name.split(' ')[0]!)) continue;
    console.log(`\n== ${name}`);
    for (const line of await fn()) console.log(`  ${line}`);
  }
}
