export {
  type AiWorker,
  type AiWorkerDeps,
  type AiWorkerOptions,
  aiTaskAggregate,
  createAiWorker,
} from './aiWorker.js';
export { type AiWorkerConfig, aiWorkerConfigSchema, loadAiWorkerConfig } from './config.js';
export { type AiWorkerService, startAiWorkerService } from './service.js';
