export {
  type CommandVisibility,
  commandVisibility,
  type Identity,
  mayIssue,
  mayRead,
  type Role,
  roleSchema,
  roles,
} from './access.js';
export {
  type AiMessage,
  type AiTaskCommand,
  type AiTaskCommandType,
  aiMessageSchema,
  aiTaskCommandSchemas,
} from './aiTask/commands.js';
export { type AiTaskState, aiTaskDecider, initialAiTaskState } from './aiTask/decider.js';
export {
  type AiTaskEvent,
  type AiTaskEventData,
  type AiTaskEventType,
  type AiTaskResult,
  type AiTaskStatus,
  aiTaskEventVersions,
} from './aiTask/events.js';
export {
  type AuditCheckpointCommand,
  type AuditCheckpointCommandType,
  auditCheckpointCommandSchemas,
} from './auditCheckpoint/commands.js';
export {
  type AuditCheckpointState,
  auditCheckpointDecider,
  initialAuditCheckpointState,
} from './auditCheckpoint/decider.js';
export {
  type AuditCheckpointEvent,
  type AuditCheckpointEventData,
  type AuditCheckpointEventType,
  type AuditCheckpointStatus,
  auditCheckpointEventVersions,
} from './auditCheckpoint/events.js';
export { type CampaignCommand, type CampaignCommandType, campaignCommandSchemas } from './campaign/commands.js';
export { type CampaignState, campaignDecider, initialCampaignState } from './campaign/decider.js';
export {
  type CampaignEvent,
  type CampaignEventData,
  type CampaignEventType,
  type CampaignStatus,
  campaignEventVersions,
} from './campaign/events.js';
export { campaignCreatedV1toV2 } from './campaign/upcasters.js';
export { canonicalJson, sha256Hex } from './canonical.js';
export {
  type AnyDecider,
  commandCatalog,
  commandSchemasByAggregate,
  createCommands,
  deciders,
  eventVersions,
  upcastEvent,
} from './catalog.js';
export type { CommandSpec, DecideContext, Decider, DomainEvent } from './decider.js';
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
export { addAmounts, type Money, moneySchema } from './money.js';
export {
  type ProjectionCommand,
  type ProjectionCommandType,
  projectionCommandSchemas,
} from './projection/commands.js';
export { initialProjectionState, type ProjectionState, projectionDecider } from './projection/decider.js';
export {
  type ProjectionEvent,
  type ProjectionEventData,
  type ProjectionEventType,
  projectionEventVersions,
} from './projection/events.js';
export {
  isTimeZone,
  type ScheduleCommand,
  type ScheduleCommandType,
  scheduleCommandSchemas,
} from './schedule/commands.js';
export { initialScheduleState, type ScheduleState, scheduleDecider } from './schedule/decider.js';
export {
  type ScheduleEvent,
  type ScheduleEventData,
  type ScheduleEventType,
  type ScheduleStatus,
  scheduleEventVersions,
} from './schedule/events.js';
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
} from './text.js';
export {
  causedBy,
  childTraceparent,
  formatTraceparent,
  parseTraceparent,
  type TraceContext,
} from './tracing.js';
export { createUpcasterChain, type Upcaster, type UpcasterChain } from './upcasting.js';
export { type WorkflowCommand, type WorkflowCommandType, workflowCommandSchemas } from './workflow/commands.js';
export { initialWorkflowState, type WorkflowState, workflowDecider } from './workflow/decider.js';
export {
  type WorkflowEvent,
  type WorkflowEventData,
  type WorkflowEventType,
  type WorkflowStatus,
  workflowEventVersions,
} from './workflow/events.js';
export {
  ExpressionError,
  type ExpressionScope,
  evaluateWhen,
  expressionLimits,
  resolveInput,
  type StepExpression,
  stepExpressions,
  workflowReferenceIssues,
} from './workflow/expressions.js';
export {
  assertWorkflowDag,
  type RetryPolicy,
  retryPolicySchema,
  signalNameSchema,
  stepTypeSchema,
  type WorkflowStep,
  type WorkflowStepType,
  waitEventInputSchema,
  workflowDagIssues,
  workflowStepSchema,
  workflowStepsSchema,
} from './workflow/steps.js';
export {
  type RunParent,
  type RunSource,
  runParentSchema,
  runSourceSchema,
  type WorkflowRunCommand,
  type WorkflowRunCommandType,
  workflowRunCommandSchemas,
} from './workflowRun/commands.js';
export {
  initialWorkflowRunState,
  maxRetryDelayMs,
  retryDelayMs,
  type WorkflowRunState,
  type WorkflowStepState,
  workflowRunDecider,
} from './workflowRun/decider.js';
export {
  type WorkflowRunEvent,
  type WorkflowRunEventData,
  type WorkflowRunEventType,
  type WorkflowRunStatus,
  type WorkflowStepStatus,
  workflowRunEventVersions,
} from './workflowRun/events.js';
export { nextRunnableSteps } from './workflowRun/nextRunnableSteps.js';
