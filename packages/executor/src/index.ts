export type { Activity, ActivityContext, ActivityOutcome } from './activities/activity.js';
export { chainAnchorUnavailable } from './activities/chainAnchor.js';
export { bodyOutput, classifyStatus, httpStepInputSchema } from './activities/httpRequest.js';
export { type ExecutorConfig, executorConfigSchema, loadExecutorConfig } from './config.js';
export { type AiStepOutcome, aiTaskOutcome } from './engine/aiOutcome.js';
export { activitiesOf, type StepWork, timerOf } from './engine/commitWork.js';
export {
  type DecisionReason,
  decideNext,
  delayDueAt,
  delayMs,
  maxDelayMs,
  type PlannedCommand,
  timeoutError,
} from './engine/decideNext.js';
export {
  aiTaskIdFor,
  campaignCommandKey,
  httpIdempotencyKey,
  type RunAction,
  runKey,
  stepKey,
} from './engine/keys.js';
export { evolveRunView, initialRunView, type RunView, runViewDecider } from './engine/runView.js';
export {
  createExecutor,
  type Executor,
  type ExecutorDeps,
  type ExecutorOptions,
  workflowRunAggregate,
} from './executor.js';
export { type ExecutorService, startExecutorService } from './service.js';
