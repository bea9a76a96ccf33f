export { hostConfig, natsConfig, port, positiveInt, streamName, subjectToken, url } from './configPieces.js';
export { Fastify, quietRequestLogs } from './fastify.js';
export { createMetricsRegistry } from './metrics.js';
export { natsCheck } from './natsCheck.js';
export {
  type OpsRoutesOptions,
  type OpsServer,
  type ReadinessCheck,
  registerOpsRoutes,
  startOpsServer,
} from './ops.js';
export { type RunningService, runService } from './service.js';
