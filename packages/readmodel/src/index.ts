export { createHotViews, type HotViews } from './hotViews/hotViews.js';
export {
  eventsChannel,
  globEscape,
  type HotViewOptions,
  type HotViewType,
  hotViewKey,
  hotViewTypes,
  invalidationChannel,
  viewKeys,
} from './hotViews/keys.js';
export { createHotViewReader, type HotViewReader } from './hotViews/reader.js';
export { projectionsUsage, runProjectionsCli } from './ops/cli.js';
export { loadProjectionOpsConfig, type ProjectionOpsConfig, projectionOpsConfigSchema } from './ops/config.js';
export { decodeEntry, type LogEntry, type LogReader, openLogReader } from './ops/logReader.js';
export { RebuildError, type RebuildOptions, type RebuildResult, rebuildProjections } from './ops/rebuild.js';
export { formatStatus, type ProjectionStatus, projectionStatus } from './ops/status.js';
export { aiTextChars, createAiTasksProjection, promptSummaryChars } from './projections/aiTasks.js';
export { createAuditCheckpointsProjection } from './projections/auditCheckpoints.js';
export {
  bucketStart,
  createCampaignMetricsProjection,
  type MetricsBucket,
  metricsBuckets,
} from './projections/campaignMetrics.js';
export { createCampaignsProjection } from './projections/campaigns.js';
export {
  createReadModelProjections,
  type ProjectionSpec,
  projectionCatalog,
  projectionNames,
  projectionSpec,
} from './projections/catalog.js';
export type { Projection, ProjectionChange } from './projections/projection.js';
export { createSchedulesProjection } from './projections/schedules.js';
export { createWorkflowRunsProjection, outputSummaryChars } from './projections/workflowRuns.js';
export { createWorkflowsProjection } from './projections/workflows.js';
export {
  type AiTaskQueries,
  type AiTaskView,
  createAiTaskQueries,
  type ListAiTasksQuery,
} from './queries/aiTaskQueries.js';
export {
  type CampaignQueries,
  type CampaignView,
  createCampaignQueries,
  type ListCampaignsQuery,
  toCampaignView,
} from './queries/campaignQueries.js';
export {
  createDashboardStats,
  type DashboardStatsReader,
  type DashboardStatsResult,
} from './queries/dashboardStats.js';
export {
  createMetricsQueries,
  type MetricsPointView,
  type MetricsQueries,
  type MetricsQuery,
} from './queries/metricsQueries.js';
export { decodeCursor, encodeCursor, type Page } from './queries/paging.js';
export { createPositionWaiter, type PositionWaiter } from './queries/positionWaiter.js';
export { createReadModelQueries, type ReadModelQueries } from './queries/readModelQueries.js';
export { readQuery } from './queries/readQuery.js';
export {
  createRunQueries,
  type ListRunsQuery,
  type RunQueries,
  type RunStepView,
  type RunView,
} from './queries/runQueries.js';
export {
  createScheduleQueries,
  type ListSchedulesQuery,
  type ScheduleQueries,
  type ScheduleView,
  toScheduleView,
} from './queries/scheduleQueries.js';
export {
  createStatsQueries,
  type DashboardStats,
  type StatsQueries,
  topCampaignsCount,
} from './queries/statsQueries.js';
export {
  createWorkflowQueries,
  type ListWorkflowsQuery,
  type WorkflowQueries,
  type WorkflowVersionView,
  type WorkflowView,
} from './queries/workflowQueries.js';
export { migrate } from './schema/migrations.js';
export {
  liveTables,
  oldSuffix,
  qualified,
  quoteIdent,
  type ReadModelTable,
  readModelTables,
  rebuildSuffix,
  suffixedTables,
  type TableNames,
} from './schema/tables.js';
export { storableField, storableJson, storableMaxDepth, storableText, tooDeepMarker } from './storable.js';
