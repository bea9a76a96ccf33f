import { connectNats, createKvIdempotencyStore, eventStreamReplicas } from '@lightdom/eventstore';
import { createMetricsRegistry, type Logger, type RunningService, startOpsServer } from '@lightdom/runtime';
import { type ExecutorConfig, httpStepOptions } from './config.js';
import { createExecutor, type Executor } from './executor.js';

export interface ExecutorService extends RunningService {
  /** Where /health, /ready and /metrics answer. */
  url: string;
  executor: Executor;
}

/** Connects to NATS, starts the executor and its ops server; `stop` drains all three. */
export async function startExecutorService(config: ExecutorConfig, logger: Logger): Promise<ExecutorService> {
  if (!config.tokens.enabled) {
    logger.warn({ actor: config.identity.actor }, 'AUTH=off: recording commands with no service token');
  }
  logger.info({ nats: config.NATS_URL, actor: config.identity.actor }, 'connecting to NATS');
  const nats = await connectNats({ url: config.NATS_URL, name: 'executor', logger });
  const registry = createMetricsRegistry('executor');
  let executor: Executor | undefined;
  let ops: Awaited<ReturnType<typeof startOpsServer>>;
  try {
    const idempotency = await createKvIdempotencyStore(nats.nc.jetstream({ timeout: 2000 }), {
      bucket: config.IDEMPOTENCY_BUCKET,
      ttlMs: config.IDEMPOTENCY_TTL_MS,
      // Replicated as the log is (3 on a cluster); 1 when the stream does not exist yet.
      replicas: await eventStreamReplicas(await nats.nc.jetstreamManager(), config.EVENTS_STREAM),
    });
    executor = createExecutor(
      {
        nc: nats.nc,
        isConnected: nats.isConnected,
        tokens: config.tokens,
        identity: config.identity,
        logger,
        registry,
        idempotency,
      },
      {
        stream: config.EVENTS_STREAM,
        subjectPrefix: config.EVENTS_SUBJECT_PREFIX,
        durable: config.EXECUTOR_DURABLE,
        aiDurable: config.EXECUTOR_AI_DURABLE,
        concurrency: config.EXECUTOR_CONCURRENCY,
        ackWaitMs: config.EXECUTOR_ACK_WAIT_MS,
        maxAckPending: config.EXECUTOR_MAX_ACK_PENDING,
        http: httpStepOptions(config),
        maxDeliveries: config.EXECUTOR_MAX_DELIVERIES,
        aiDefaultModel: config.AI_DEFAULT_MODEL,
        chainAnchor: { waitMs: config.CHAIN_ANCHOR_WAIT_MS, pollMs: config.CHAIN_ANCHOR_POLL_MS },
        waitEvent: { waitMs: config.WAIT_EVENT_WAIT_MS, pollMs: config.WAIT_EVENT_POLL_MS },
        schedules: { enabled: config.EXECUTOR_SCHEDULES === 'on', tickMs: config.SCHEDULE_TICK_MS },
        sweep: { intervalMs: config.EXECUTOR_SWEEP_MS, idleMs: config.EXECUTOR_SWEEP_IDLE_MS },
      },
    );
    await executor.start();
    ops = await startOpsServer({
      service: 'executor',
      registry,
      checks: executor.checks,
      host: config.HOST,
      port: config.PORT,
      logger,
      tokens: config.tokens,
    });
  } catch (err) {
    await executor?.stop();
    await nats.close();
    throw err;
  }
  const running = executor;
  logger.info(
    { url: ops.url, stream: config.EVENTS_STREAM, durable: config.EXECUTOR_DURABLE },
    `executor listening on ${ops.url}`,
  );
  return {
    url: ops.url,
    executor: running,
    async stop() {
      await running.stop();
      await ops.close();
      await nats.close();
    },
  };
}
