// `enable --dry-run`: what it read, validated and planned, as one value (the JSON of `--json`,
// parsed by its own schema) and as text. The engine's part is docker/dry-run.ts; a later part
// (compose, registry login) adds a field here and a block in renderDryRun.
import * as z from 'zod/mini';
import { EngineDryRunSchema, renderEngineDryRun } from '../docker/dry-run.js';

export const DryRunReportSchema = z.object({
  schema: z.literal(1),
  /** Always true: a dry run writes nothing, starts nothing, writes no status. */
  changesNothing: z.literal(true),
  /** False when the settings or the machine stop enable: `error` says why (exit code 3). */
  ok: z.boolean(),
  /** The machine root planned against: "/" or the --root tree. */
  root: z.string(),
  settings: z.object({ source: z.string(), summary: z.nullable(z.string()), warnings: z.array(z.string()) }),
  engine: z.nullable(EngineDryRunSchema),
  /** The plan, one line per step, in order; warnings last. */
  steps: z.array(z.string()),
  error: z.nullable(z.string()),
});
export type DryRunReport = z.infer<typeof DryRunReportSchema>;

export function renderDryRun(r: DryRunReport): string {
  const out = [`Dry run: nothing on this machine is changed${r.root !== '/' ? ` (planned against the tree ${r.root} only)` : ''}.`];
  if (r.settings.summary === null) return [...out, `Settings from ${r.settings.source}.`].join('\n');
  out.push(`Settings from ${r.settings.source}: valid.`, `Would configure: ${r.settings.summary}`);
  for (const w of r.settings.warnings) out.push(`Warning: ${w}.`);
  if (r.engine) out.push(...renderEngineDryRun(r.engine));
  if (r.ok) out.push('Plan:', ...(r.steps.length ? r.steps.map((l, i) => `  ${i + 1}. ${l}`) : ['  nothing to do: the machine already matches']));
  return out.join('\n');
}
