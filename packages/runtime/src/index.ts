export { bearerToken } from './bearer.js';
export {
  defaultHttpBounds,
  type HttpBounds,
  hostConfig,
  httpBoundsConfig,
  httpBoundsFrom,
  natsConfig,
  originList,
  port,
  positiveInt,
  streamName,
  subjectToken,
  url,
} from './configPieces.js';
export { Fastify, httpServerOptions, quietRequestLogs } from './fastify.js';
export {
  anonymousIdentity,
  createTokenRegistry,
  identityConfig,
  parseTokenEntries,
  type TokenRegistry,
  tokenRegistryFrom,
} from './identity.js';
export { knownLabel, methodLabel } from './labels.js';
export { createLogger, type Logger } from './logger.js';
export { createMetricsRegistry } from './metrics.js';
export { natsCheck } from './natsCheck.js';
export {
  isLoopbackAddress,
  type OpsRoutesOptions,
  type OpsServer,
  type ReadinessCheck,
  registerOpsRoutes,
  startOpsServer,
} from './ops.js';
export { ConfigError, parseConfig } from './parseConfig.js';
export { redactUrl } from './redact.js';
export { type RunningService, runService } from './service.js';
export { type ServiceAuth, serviceAuthFrom, serviceTokenConfig } from './serviceIdentity.js';
export { otlpTracesUrl, startTracing, type Tracing, type TracingSettings, tracingConfig } from './tracing.js';
