import { connectNats } from '@lightdom/eventstore';
import { createMetricsRegistry, type Logger, type RunningService, startOpsServer } from '@lightdom/runtime';
import { Ollama } from 'ollama';
import { type AiWorker, createAiWorker } from './aiWorker.js';
import type { AiWorkerConfig } from './config.js';

export interface AiWorkerService extends RunningService {
  /** Where /health, /ready and /metrics answer. */
  url: string;
  worker: AiWorker;
}

/**
 * Connects to NATS, starts the worker and its ops server; `stop` drains all of them.
 * Ollama being down does not stop it starting: /ready reports it until it answers.
 */
export async function startAiWorkerService(config: AiWorkerConfig, logger: Logger): Promise<AiWorkerService> {
  if (!config.tokens.enabled) {
    logger.warn({ actor: config.identity.actor }, 'AUTH=off: recording commands with no service token');
  }
  logger.info({ nats: config.NATS_URL, actor: config.identity.actor }, 'connecting to NATS');
  const nats = await connectNats({ url: config.NATS_URL, name: 'ai-worker', logger });
  const registry = createMetricsRegistry('ai-worker');
  const worker = createAiWorker(
    {
      nc: nats.nc,
      isConnected: nats.isConnected,
      tokens: config.tokens,
      identity: config.identity,
      ollama: new Ollama({ host: config.OLLAMA_URL }),
      logger,
      registry,
    },
    {
      stream: config.EVENTS_STREAM,
      subjectPrefix: config.EVENTS_SUBJECT_PREFIX,
      durable: config.AI_WORKER_DURABLE,
      ollamaUrl: config.OLLAMA_URL,
      defaultModel: config.AI_DEFAULT_MODEL,
      workerId: config.AI_WORKER_ID,
      concurrency: config.AI_WORKER_CONCURRENCY,
      taskTimeoutMs: config.AI_TASK_TIMEOUT_MS,
      progressIntervalMs: config.AI_PROGRESS_INTERVAL_MS,
      retryDelayMs: config.AI_RETRY_DELAY_MS,
      ackWaitMs: config.AI_WORKER_ACK_WAIT_MS,
      sweep: { intervalMs: config.AI_WORKER_SWEEP_MS, idleMs: config.AI_WORKER_SWEEP_IDLE_MS },
    },
  );
  let ops: Awaited<ReturnType<typeof startOpsServer>>;
  try {
    await worker.start();
    ops = await startOpsServer({
      service: 'ai-worker',
      registry,
      checks: worker.checks,
      host: config.HOST,
      port: config.PORT,
      logger,
      tokens: config.tokens,
    });
  } catch (err) {
    await worker.stop();
    await nats.close();
    throw err;
  }
  logger.info(
    {
      url: ops.url,
      stream: config.EVENTS_STREAM,
      durable: config.AI_WORKER_DURABLE,
      ollama: config.OLLAMA_URL,
      workerId: config.AI_WORKER_ID,
      concurrency: config.AI_WORKER_CONCURRENCY,
    },
    `ai-worker listening on ${ops.url}`,
  );
  return {
    url: ops.url,
    worker,
    async stop() {
      await worker.stop();
      await ops.close();
      await nats.close();
    },
  };
}
