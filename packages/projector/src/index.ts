export { createCampaignsProjection } from './campaigns/campaignsProjection.js';
export { loadProjectorConfig, type ProjectorConfig, projectorConfigSchema } from './config.js';
export { ensureDatabase, quoteIdent, untilAvailable } from './db.js';
export { createHotViews, eventsChannel, type HotViewOptions, hotViewKey, invalidationChannel } from './hotViews.js';
export { migrate } from './migrations.js';
export type { Projection, ProjectionChange } from './projection.js';
export { createProjector, type Projector, type ProjectorDeps, type ProjectorOptions } from './projector.js';
