export type { Activity, ActivityContext, ActivityOutcome } from './activities/activity.js';
export { chainAnchorOutput, chainAnchorStepInputSchema, createChainAnchorActivity } from './activities/chainAnchor.js';
export {
  errorBodyPrefix,
  type HttpStepOutput,
  jsonDeeperThan,
  type OutputBounds,
  prefixWithin,
  stepOutput,
} from './activities/httpOutput.js';
export { classifyStatus, httpStepInputSchema } from './activities/httpRequest.js';
export { childRunInputSchema, workflowRunActivity } from './activities/workflowRun.js';
export {
  defaultHttpStepOptions,
  type ExecutorConfig,
  executorConfigSchema,
  type HttpStepOptions,
  httpStepOptions,
  loadExecutorConfig,
} from './config.js';
export {
  type AllowEntry,
  createEgressPolicy,
  deniedRange,
  type EgressPolicy,
  parseAllowEntry,
  parseAllowList,
} from './egress/addressPolicy.js';
export {
  type Connector,
  type ConnectTarget,
  directConnector,
  EgressRefused,
  pinnedTarget,
  type ResolvedAddress,
  type Resolver,
  systemResolver,
} from './egress/egressClient.js';
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
  childRunIdFor,
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
export { createScheduler, type Scheduler, type SchedulerDeps, type SchedulerOptions } from './schedules/scheduler.js';
export { type DueSlot, dueSlot, fireKey, scheduledRunId, scheduledRunKey } from './schedules/slots.js';
export { createSecretSource, MissingSecret, type SecretSource, secretNamePattern } from './secrets.js';
export { type ExecutorService, startExecutorService } from './service.js';
