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
export { createIdleSweep, type IdleSweep, type IdleSweepOptions } from './consumers/idleSweep.js';
export { readCommit } from './consumers/readCommit.js';
export { type ConnectNatsOptions, connectNats, type NatsHandle, trackConnection } from './nats.js';
export { decodeCommit, encodeCommit, hashCommit, sealCommit } from './store/commitCodec.js';
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
export { isNotFound, translateNatsError } from './store/natsErrors.js';
export {
  defaultStreamOptions,
  type EventStreamOptions,
  ensureEventStream,
  eventStreamConfig,
  eventStreamReplicas,
} from './stream.js';
export { aggregateSubject, parseSubject, typeSubject } from './subjects.js';
export { inSpan, SpanKind, type StartSpanOptions, startSpan, type TraceSpan, tracingInstalled } from './tracing.js';
