import { liveTables, type ReadModelTable, type TableNames } from '../schema/tables.js';
import { createAiTasksProjection } from './aiTasks.js';
import { createAuditCheckpointsProjection } from './auditCheckpoints.js';
import { createCampaignMetricsProjection } from './campaignMetrics.js';
import { createCampaignsProjection } from './campaigns.js';
import type { Projection } from './projection.js';
import { createSchedulesProjection } from './schedules.js';
import { createWorkflowRunsProjection } from './workflowRuns.js';
import { createWorkflowsProjection } from './workflows.js';

export interface ProjectionSpec {
  /** The checkpoint name, and what `lightdom projections rebuild <name>` takes. */
  name: string;
  /** The tables it alone writes (a rebuild builds and swaps exactly these). */
  tables: readonly ReadModelTable[];
  create(tables: TableNames): Projection;
}

/** Every read-model projection, in the order the projector applies them. */
export const projectionCatalog: readonly ProjectionSpec[] = [
  { name: 'campaigns', tables: ['campaigns'], create: (t) => createCampaignsProjection(t.campaigns, 'campaigns') },
  { name: 'campaign_metrics', tables: ['campaignMetrics'], create: createCampaignMetricsProjection },
  { name: 'workflows', tables: ['workflows', 'workflowVersions'], create: createWorkflowsProjection },
  { name: 'workflow_runs', tables: ['workflowRuns', 'workflowRunSteps'], create: createWorkflowRunsProjection },
  { name: 'ai_tasks', tables: ['aiTasks'], create: createAiTasksProjection },
  { name: 'audit_checkpoints', tables: ['auditCheckpoints'], create: createAuditCheckpointsProjection },
  { name: 'schedules', tables: ['schedules'], create: createSchedulesProjection },
];

export const projectionNames: readonly string[] = projectionCatalog.map((p) => p.name);

/** The projections over the live tables, as the projector runs them. */
export const createReadModelProjections = (): Projection[] => projectionCatalog.map((p) => p.create(liveTables));

export function projectionSpec(name: string): ProjectionSpec | undefined {
  return projectionCatalog.find((p) => p.name === name);
}
