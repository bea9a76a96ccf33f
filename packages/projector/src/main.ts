import { connectNats, createEventStore } from '@lightdom/eventstore';
import { createReadModelProjections, migrate } from '@lightdom/readmodel';
import { createMetricsRegistry, natsCheck, runService, startOpsServer, startTracing } from '@lightdom/runtime';
import { Redis } from 'ioredis';
import pg from 'pg';
import { loadProjectorConfig } from './config.js';
import { ensureDatabase, untilAvailable } from './db.js';
import { holdLease } from './leaseWiring.js';
import { createProjector } from './projector.js';

runService('projector', async (logger) => {
  const config = loadProjectorConfig();
  const tracing = startTracing(config, 'projector', logger);
  const waitLog = (msg: string, err: unknown) => logger.warn({ err: (err as Error).message }, msg);
  await untilAvailable('create database', () => ensureDatabase(config.DATABASE_URL), waitLog);
  // With PROJECTOR_LEASE=on a standby waits here (answering /health, not /ready) until the active one dies.
  const lease = await holdLease(config, logger);
  const pool = new pg.Pool({ connectionString: config.DATABASE_URL, max: 4 });
  pool.on('error', (err) => logger.warn({ err }, 'idle Postgres client failed'));
  await untilAvailable('migrate', () => migrate(pool, config.DB_SCHEMA), waitLog);
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 2, enableOfflineQueue: false });
  redis.on('error', (err) => logger.warn({ err: err.message }, 'Redis error'));
  const nats = await connectNats({ url: config.NATS_URL, name: 'lightdom-projector', logger });
  const store = createEventStore(
    { nc: nats.nc, isConnected: nats.isConnected, logger },
    { stream: config.EVENTS_STREAM, subjectPrefix: config.EVENTS_SUBJECT_PREFIX },
  );
  await store.ensureStream();
  const registry = createMetricsRegistry('projector');
  const projector = createProjector(
    { nc: nats.nc, pool, redis, logger, registry },
    {
      stream: config.EVENTS_STREAM,
      subjectPrefix: config.EVENTS_SUBJECT_PREFIX,
      schema: config.DB_SCHEMA,
      durable: config.PROJECTOR_DURABLE,
      batchSize: config.PROJECTOR_BATCH_SIZE,
      stallRetryMs: config.PROJECTOR_STALL_RETRY_MS,
      projections: createReadModelProjections(),
      viewsCheckMs: config.PROJECTOR_VIEWS_CHECK_MS,
      synchronousCommit: config.PROJECTOR_SYNCHRONOUS_COMMIT === 'on',
      hotViews: { keyPrefix: config.REDIS_KEY_PREFIX, channelPrefix: config.REDIS_CHANNEL_PREFIX },
      unsafeCheckpointOutsideTransaction: config.PROJECTOR_UNSAFE_CHECKPOINT === '1',
    },
  );
  await projector.start();
  const ops = await startOpsServer({
    service: 'projector',
    host: config.HOST,
    port: config.PORT,
    logger,
    tokens: config.tokens,
    registry,
    checks: {
      nats: natsCheck(nats.nc, nats.isConnected),
      postgres: () => pool.query('select 1'),
      redis: () => redis.ping(),
      // Not ready while a projection waits on a commit it cannot apply (names it, its position and error).
      projections: () => projector.assertNotStalled(),
      ...(lease ? { lease: () => lease.check() } : {}),
    },
    // Each projection's checkpoint and lag (also the gauge lightdom_projection_lag).
    details: () => ({ projections: projector.lag() }),
  });
  logger.info({ ops: ops.url, schema: config.DB_SCHEMA, stream: config.EVENTS_STREAM }, 'projector ready');
  return {
    async stop() {
      await projector.stop();
      await ops.close();
      await nats.close();
      redis.disconnect();
      await pool.end();
      await lease?.release();
      await tracing.shutdown();
    },
  };
});
