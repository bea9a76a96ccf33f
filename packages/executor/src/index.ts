export { type ExecutorConfig, executorConfigSchema, loadExecutorConfig } from './config.js';
export {
  createExecutor,
  type Executor,
  type ExecutorDeps,
  type ExecutorOptions,
  workflowRunAggregate,
} from './executor.js';
export { type ExecutorService, startExecutorService } from './service.js';
