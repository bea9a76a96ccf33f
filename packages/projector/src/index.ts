export { createCampaignsProjection, createReadModelProjections } from '@lightdom/readmodel';
export { loadProjectorConfig, type ProjectorConfig, projectorConfigSchema } from './config.js';
export { ensureDatabase, quoteIdent, untilAvailable } from './db.js';
export {
  createHotViews,
  eventsChannel,
  type HotViewOptions,
  type HotViews,
  hotViewKey,
  invalidationChannel,
  viewKeys,
} from './hotViews.js';
export { createProjectorMetrics, type ProjectorMetrics } from './metrics.js';
export { migrate } from './migrations.js';
export type { Projection, ProjectionChange } from './projection.js';
export {
  createProjector,
  type ProjectionStall,
  type Projector,
  type ProjectorDeps,
  type ProjectorOptions,
} from './projector.js';
export { findSkipDecision, type SkipDecision } from './skipDecisions.js';
export { storableField, storableJson, storableMaxDepth, storableText, tooDeepMarker } from './storable.js';
