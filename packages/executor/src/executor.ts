import { createCommitConsumer, type Logger } from '@lightdom/events';
import { natsCheck, type ReadinessCheck } from '@lightdom/runtime';
import type { NatsConnection } from 'nats';
import { Counter, type Registry } from 'prom-client';

export interface ExecutorDeps {
  nc: NatsConnection;
  /** Whether NATS is reachable now (from connectNats); lets /ready fail fast. */
  isConnected?: () => boolean;
  logger: Logger;
  /** Where the executor's metrics are registered. */
  registry: Registry;
}

export interface ExecutorOptions {
  /** Event stream name, e.g. `EVENTS`. */
  stream: string;
  /** First subject token of the event stream, e.g. `events`. */
  subjectPrefix: string;
  /** Durable consumer name; executors sharing it compete for work. */
  durable: string;
  /** How long JetStream waits for an ack before it redelivers, in ms. Default 30 000. */
  ackWaitMs?: number;
}

export interface Executor {
  /** Ensures the event stream and the durable consumer, then starts consuming. */
  start(): Promise<void>;
  /** Stops consuming; the NATS connection stays the caller's. */
  stop(): Promise<void>;
  /** Readiness checks for the ops server: `nats` and `consumer`. */
  checks: Record<string, ReadinessCheck>;
}

/** The aggregate type whose commits drive the executor. */
export const workflowRunAggregate = 'workflowRun';

/**
 * The workflow engine's process. Workflow run events do not exist yet, so for now it
 * acknowledges and counts every workflow run commit it receives.
 *
 * @example
 * const executor = createExecutor({ nc, logger, registry }, { stream: 'EVENTS', subjectPrefix: 'events', durable: 'executor' });
 * await executor.start();
 */
export function createExecutor(deps: ExecutorDeps, options: ExecutorOptions): Executor {
  const { nc, logger, registry } = deps;
  const { stream, subjectPrefix, durable } = options;
  const eventsTotal = new Counter({
    name: 'lightdom_executor_events_total',
    help: 'Workflow run events the executor received and acknowledged, by event type',
    labelNames: ['type'],
    registers: [registry],
  });
  const undecodableTotal = new Counter({
    name: 'lightdom_executor_undecodable_messages_total',
    help: 'Messages on workflow run subjects that were not a commit; terminated without redelivery',
    registers: [registry],
  });
  const consumer = createCommitConsumer(
    { nc, logger, ...(deps.isConnected ? { isConnected: deps.isConnected } : {}) },
    { stream, subjectPrefix, durable, aggregateType: workflowRunAggregate, ackWaitMs: options.ackWaitMs ?? 30_000 },
    {
      async onCommit(commit, msg) {
        await msg.ackAck();
        for (const event of commit.events) eventsTotal.inc({ type: event.type });
        logger.info(
          {
            correlationId: commit.correlationId,
            commitId: commit.commitId,
            position: commit.position,
            aggregateId: commit.aggregateId,
            events: commit.events.map((e) => e.type),
          },
          'workflow run commit acknowledged',
        );
      },
      onUndecodable: () => undecodableTotal.inc(),
    },
  );

  return {
    async start() {
      await consumer.start();
    },
    stop: () => consumer.stop(),
    checks: {
      nats: natsCheck(nc, deps.isConnected),
      consumer: () => consumer.check(),
    },
  };
}
