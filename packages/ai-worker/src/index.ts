export {
  type AiWorker,
  type AiWorkerDeps,
  type AiWorkerOptions,
  aiTaskAggregate,
  createAiWorker,
} from './aiWorker.js';
export { type AiWorkerConfig, aiWorkerConfigSchema, loadAiWorkerConfig } from './config.js';
export { type AttemptFailure, classifyOllamaError } from './failures.js';
export type { AttemptOutcome } from './metrics.js';
export { presenceSubject } from './presence.js';
export { partialOutput, type SplitOutput, splitReasoning } from './reasoning.js';
export { type AiWorkerService, startAiWorkerService } from './service.js';
export { requestedAttempt, retryDelayMs } from './triggers.js';
