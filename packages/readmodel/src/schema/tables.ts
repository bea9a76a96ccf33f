/** Quotes a Postgres identifier. */
export const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/**
 * Every read-model table, by what it holds. The one place their names are written: the
 * migrations, the projections, the queries and the rebuild all take them from here.
 */
export const readModelTables = {
  checkpoints: 'projection_checkpoints',
  skips: 'projection_skips',
  campaigns: 'campaigns',
  campaignMetrics: 'campaign_metrics',
  workflows: 'workflows',
  workflowVersions: 'workflow_versions',
  workflowRuns: 'workflow_runs',
  workflowRunSteps: 'workflow_run_steps',
  aiTasks: 'ai_tasks',
  auditCheckpoints: 'audit_checkpoints',
  schedules: 'schedules',
} as const;

export type ReadModelTable = keyof typeof readModelTables;

/** The physical table names a projection writes; a rebuild passes suffixed ones. */
export type TableNames = { readonly [K in ReadModelTable]: string };

/** `"schema"."table"`. */
export const qualified = (schema: string, table: string): string => `${quoteIdent(schema)}.${quoteIdent(table)}`;

/** The live tables. */
export const liveTables: TableNames = readModelTables;

/** Beside the live tables: the ones a rebuild fills (`__rebuild`) and the ones it swapped out (`__old`). */
export const rebuildSuffix = '__rebuild';
export const oldSuffix = '__old';

/** `tables` with the given tables of `names` suffixed. */
export function suffixedTables(names: readonly ReadModelTable[], suffix: string): TableNames {
  const out: Record<string, string> = { ...readModelTables };
  for (const n of names) out[n] = `${readModelTables[n]}${suffix}`;
  return out as unknown as TableNames;
}
