export { type AppDeps, type AppOptions, buildApp } from './app.js';
export { type CommandApiConfig, commandApiConfigSchema, loadCommandApiConfig } from './config.js';
export { httpStatusOf, sendProblem, toLightdomError } from './http/problems.js';
export {
  type CampaignQueries,
  type CampaignView,
  createCampaignQueries,
  toCampaignView,
} from './readModel/campaignQueries.js';
export { createPositionWaiter, type PositionWaiter } from './readModel/positionWaiter.js';
