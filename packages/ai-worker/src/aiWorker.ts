import { createCommitConsumer, type Logger } from '@lightdom/events';
import { natsCheck, type ReadinessCheck } from '@lightdom/runtime';
import type { NatsConnection } from 'nats';
import type { Ollama } from 'ollama';
import { Counter, type Registry } from 'prom-client';
import { ollamaCheck, ollamaErrorReason } from './checks.js';

export interface AiWorkerDeps {
  nc: NatsConnection;
  /** Whether NATS is reachable now (from connectNats); lets /ready fail fast. */
  isConnected?: () => boolean;
  /** An `ollama` client, e.g. `new Ollama({ host: 'http://127.0.0.1:11434' })`. */
  ollama: Ollama;
  logger: Logger;
  /** Where the worker's metrics are registered. */
  registry: Registry;
}

export interface AiWorkerOptions {
  /** Event stream name, e.g. `EVENTS`. */
  stream: string;
  /** First subject token of the event stream, e.g. `events`. */
  subjectPrefix: string;
  /** Durable consumer name; workers sharing it compete for tasks. */
  durable: string;
  /** Base URL the Ollama client talks to; named in readiness errors. */
  ollamaUrl: string;
  /** Model used when a task names none, e.g. `deepseek-r1:7b`. */
  defaultModel: string;
  /**
   * How long JetStream waits for an ack before it redelivers, in ms. Default 60 000.
   * Generation can run longer; the task handler will have to signal progress.
   */
  ackWaitMs?: number;
}

export interface AiWorker {
  /** Ensures the event stream and the durable consumer, then starts consuming. */
  start(): Promise<void>;
  /** Stops consuming; the NATS connection stays the caller's. */
  stop(): Promise<void>;
  /** Readiness checks for the ops server: `nats`, `consumer` and `ollama`. */
  checks: Record<string, ReadinessCheck>;
}

/** The aggregate type whose commits carry AI tasks. */
export const aiTaskAggregate = 'aiTask';

/**
 * Runs AI tasks through Ollama. AI task events do not exist yet, so for now it
 * acknowledges and counts every AI task commit it receives.
 *
 * @example
 * const worker = createAiWorker(
 *   { nc, ollama: new Ollama({ host }), logger, registry },
 *   { stream: 'EVENTS', subjectPrefix: 'events', durable: 'ai-worker', ollamaUrl: host, defaultModel: 'deepseek-r1:7b' },
 * );
 * await worker.start();
 */
export function createAiWorker(deps: AiWorkerDeps, options: AiWorkerOptions): AiWorker {
  const { nc, ollama, logger, registry } = deps;
  const { stream, subjectPrefix, durable } = options;
  const eventsTotal = new Counter({
    name: 'lightdom_ai_worker_events_total',
    help: 'AI task events the worker received and acknowledged, by event type',
    labelNames: ['type'],
    registers: [registry],
  });
  const undecodableTotal = new Counter({
    name: 'lightdom_ai_worker_undecodable_messages_total',
    help: 'Messages on AI task subjects that were not a commit; terminated without redelivery',
    registers: [registry],
  });
  const consumer = createCommitConsumer(
    { nc, logger, ...(deps.isConnected ? { isConnected: deps.isConnected } : {}) },
    { stream, subjectPrefix, durable, aggregateType: aiTaskAggregate, ackWaitMs: options.ackWaitMs ?? 60_000 },
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
          'AI task commit acknowledged',
        );
      },
      onUndecodable: () => undecodableTotal.inc(),
    },
  );

  /** A missing default model is worth a warning, not a refusal: it may be pulled later. */
  async function warnIfDefaultModelMissing(): Promise<void> {
    try {
      const { models } = await ollama.list();
      if (!models.some((m) => m.name === options.defaultModel || m.model === options.defaultModel)) {
        logger.warn({ model: options.defaultModel, ollama: options.ollamaUrl }, 'default model is not pulled');
      }
    } catch (err) {
      logger.warn({ ollama: options.ollamaUrl, reason: ollamaErrorReason(err) }, 'Ollama does not answer yet');
    }
  }

  return {
    async start() {
      await consumer.start();
      void warnIfDefaultModelMissing();
    },
    stop: () => consumer.stop(),
    checks: {
      nats: natsCheck(nc, deps.isConnected),
      consumer: () => consumer.check(),
      ollama: ollamaCheck(ollama, options.ollamaUrl),
    },
  };
}
