export { type ExportOptions, type ExportSummary, exportLine, exportLog } from './audit/export.js';
export { type AuditIo, createProgress, type Progress, type ProgressOptions } from './audit/progress.js';
export {
  formatVerifyReport,
  runVerify,
  type VerifyOptions,
  type VerifyReport,
  type VerifySource,
} from './audit/runVerify.js';
export {
  type AuditItem,
  assertRawStore,
  type LogRange,
  type LogSourceDeps,
  type LogSourceOptions,
  readLogCommits,
  readNdjsonCommits,
} from './audit/source.js';
export {
  type ChainSummary,
  type ChainVerifier,
  type ChainVerifierOptions,
  createChainVerifier,
  type Violation,
  type ViolationKind,
} from './audit/verifier.js';
export { canonicalJson, sha256Hex } from './canonical.js';
export {
  type AggregateRepository,
  type AggregateRepositoryOptions,
  createAggregateRepository,
  foldCommits,
  type LoadedAggregate,
} from './commands/aggregateRepository.js';
export {
  type CommandHandler,
  type CommandHandlerDeps,
  type CommandHandlerOptions,
  createCommandHandler,
  parseCommand,
  traceIdPattern,
  zodIssues,
} from './commands/commandHandler.js';
export {
  createKvIdempotencyStore,
  type IdempotencyStore,
  idempotencyStorageKey,
  type KvIdempotencyOptions,
  type RememberedResult,
} from './commands/idempotency.js';
export {
  createKvSnapshotStore,
  type KvSnapshotOptions,
  type Snapshot,
  type SnapshotStore,
} from './commands/snapshots.js';
export { ConfigError, parseConfig } from './config/parseConfig.js';
export {
  type CommitConsumer,
  type CommitConsumerOptions,
  type CommitHandlers,
  createCommitConsumer,
} from './consumers/commitConsumer.js';
export {
  consumeDurable,
  type DurableConsumerOptions,
  ensureDurableConsumer,
  type RunningConsumer,
} from './consumers/durableConsumer.js';
export { readCommit } from './consumers/readCommit.js';
export {
  type AiMessage,
  type AiTaskCommand,
  type AiTaskCommandType,
  aiMessageSchema,
  aiTaskCommandSchemas,
} from './domain/aiTask/commands.js';
export { type AiTaskState, aiTaskDecider, initialAiTaskState } from './domain/aiTask/decider.js';
export {
  type AiTaskEvent,
  type AiTaskEventData,
  type AiTaskEventType,
  type AiTaskResult,
  type AiTaskStatus,
  aiTaskEventVersions,
} from './domain/aiTask/events.js';
export {
  type AuditCheckpointCommand,
  type AuditCheckpointCommandType,
  auditCheckpointCommandSchemas,
} from './domain/auditCheckpoint/commands.js';
export {
  type AuditCheckpointState,
  auditCheckpointDecider,
  initialAuditCheckpointState,
} from './domain/auditCheckpoint/decider.js';
export {
  type AuditCheckpointEvent,
  type AuditCheckpointEventData,
  type AuditCheckpointEventType,
  type AuditCheckpointStatus,
  auditCheckpointEventVersions,
} from './domain/auditCheckpoint/events.js';
export { type CampaignCommand, type CampaignCommandType, campaignCommandSchemas } from './domain/campaign/commands.js';
export { type CampaignState, campaignDecider, initialCampaignState } from './domain/campaign/decider.js';
export {
  type CampaignEvent,
  type CampaignEventData,
  type CampaignEventType,
  type CampaignStatus,
  campaignEventVersions,
} from './domain/campaign/events.js';
export { campaignCreatedV1toV2 } from './domain/campaign/upcasters.js';
export {
  type AnyDecider,
  commandCatalog,
  commandSchemasByAggregate,
  createCommands,
  deciders,
  eventVersions,
  upcastEvent,
} from './domain/catalog.js';
export type { CommandSpec, DecideContext, Decider, DomainEvent } from './domain/decider.js';
export { addAmounts, type Money, moneySchema } from './domain/money.js';
export {
  type ProjectionCommand,
  type ProjectionCommandType,
  projectionCommandSchemas,
} from './domain/projection/commands.js';
export { initialProjectionState, type ProjectionState, projectionDecider } from './domain/projection/decider.js';
export {
  type ProjectionEvent,
  type ProjectionEventData,
  type ProjectionEventType,
  projectionEventVersions,
} from './domain/projection/events.js';
export {
  envelopeDataLimits,
  type FreeFormLimits,
  freeFormLimits,
  freeFormObject,
  freeFormValue,
  type JsonProblem,
  jsonProblem,
  type TextOptions,
  text,
  textMessages,
  textProblem,
  toStorableText,
} from './domain/text.js';
export { createUpcasterChain, type Upcaster, type UpcasterChain } from './domain/upcasting.js';
export { type WorkflowCommand, type WorkflowCommandType, workflowCommandSchemas } from './domain/workflow/commands.js';
export { initialWorkflowState, type WorkflowState, workflowDecider } from './domain/workflow/decider.js';
export {
  type WorkflowEvent,
  type WorkflowEventData,
  type WorkflowEventType,
  type WorkflowStatus,
  workflowEventVersions,
} from './domain/workflow/events.js';
export {
  assertWorkflowDag,
  type RetryPolicy,
  retryPolicySchema,
  stepTypeSchema,
  type WorkflowStep,
  type WorkflowStepType,
  workflowDagIssues,
  workflowStepSchema,
  workflowStepsSchema,
} from './domain/workflow/steps.js';
export {
  type WorkflowRunCommand,
  type WorkflowRunCommandType,
  workflowRunCommandSchemas,
} from './domain/workflowRun/commands.js';
export {
  initialWorkflowRunState,
  maxRetryDelayMs,
  retryDelayMs,
  type WorkflowRunState,
  type WorkflowStepState,
  workflowRunDecider,
} from './domain/workflowRun/decider.js';
export {
  type WorkflowRunEvent,
  type WorkflowRunEventData,
  type WorkflowRunEventType,
  type WorkflowRunStatus,
  type WorkflowStepStatus,
  workflowRunEventVersions,
} from './domain/workflowRun/events.js';
export { nextRunnableSteps } from './domain/workflowRun/nextRunnableSteps.js';
export {
  aggregateIdSchema,
  type CommandEnvelope,
  type CommandMetadata,
  type CommandResult,
  type Commit,
  commandEnvelopeSchema,
  commandMetadataIssues,
  type EventRecord,
  type RecordedEvent,
  type StoredCommit,
  toRecordedEvents,
} from './envelope.js';
export {
  type ErrorCode,
  ErrorCodes,
  type FieldIssue,
  isLightdomError,
  LightdomError,
  validationError,
} from './errors.js';
export { createLogger, type Logger } from './logger.js';
export { type ConnectNatsOptions, connectNats, type NatsHandle, trackConnection } from './nats.js';
export { decodeCommit, encodeCommit, hashCommit } from './store/commitCodec.js';
export {
  type AppendInput,
  type AppendResult,
  type CommitSubscription,
  createEventStore,
  type EventStore,
  type EventStoreDeps,
  type EventStoreOptions,
  type ReadAllOptions,
  type SubscribeOptions,
} from './store/eventStore.js';
export { translateNatsError } from './store/natsErrors.js';
export { defaultStreamOptions, type EventStreamOptions, ensureEventStream, eventStreamConfig } from './stream.js';
export { aggregateSubject, parseSubject, typeSubject } from './subjects.js';
export {
  causedBy,
  childTraceparent,
  formatTraceparent,
  parseTraceparent,
  type TraceContext,
} from './tracing.js';
