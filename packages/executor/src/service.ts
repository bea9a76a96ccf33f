import { connectNats, type Logger } from '@lightdom/events';
import { createMetricsRegistry, type RunningService, startOpsServer } from '@lightdom/runtime';
import type { ExecutorConfig } from './config.js';
import { createExecutor, type Executor } from './executor.js';

export interface ExecutorService extends RunningService {
  /** Where /health, /ready and /metrics answer. */
  url: string;
  executor: Executor;
}

/** Connects to NATS, starts the executor and its ops server; `stop` drains all three. */
export async function startExecutorService(config: ExecutorConfig, logger: Logger): Promise<ExecutorService> {
  logger.info({ nats: config.NATS_URL }, 'connecting to NATS');
  const nats = await connectNats({ url: config.NATS_URL, name: 'executor', logger });
  const registry = createMetricsRegistry('executor');
  const executor = createExecutor(
    { nc: nats.nc, isConnected: nats.isConnected, logger, registry },
    { stream: config.EVENTS_STREAM, subjectPrefix: config.EVENTS_SUBJECT_PREFIX, durable: config.EXECUTOR_DURABLE },
  );
  let ops: Awaited<ReturnType<typeof startOpsServer>>;
  try {
    await executor.start();
    ops = await startOpsServer({
      service: 'executor',
      registry,
      checks: executor.checks,
      host: config.HOST,
      port: config.PORT,
      logger,
    });
  } catch (err) {
    await executor.stop();
    await nats.close();
    throw err;
  }
  logger.info(
    { url: ops.url, stream: config.EVENTS_STREAM, durable: config.EXECUTOR_DURABLE },
    `executor listening on ${ops.url}`,
  );
  return {
    url: ops.url,
    executor,
    async stop() {
      await executor.stop();
      await ops.close();
      await nats.close();
    },
  };
}
