import { createApplication } from '@lightdom/app';
import { upcastEvent } from '@lightdom/domain';
import {
  connectNats,
  createCommandHandler,
  createEventStore,
  createKvIdempotencyStore,
  createKvSnapshotStore,
  eventStreamReplicas,
} from '@lightdom/eventstore';
import { createReadModelQueries } from '@lightdom/readmodel';
import { createMetricsRegistry, natsCheck, runService, startTracing } from '@lightdom/runtime';
import { Redis } from 'ioredis';
import pg from 'pg';
import { amqpBoundsOf } from './amqp/bounds.js';
import { createAmqpServer } from './amqp/server.js';
import { appOptionsFrom, buildApp } from './app.js';
import { loadCommandApiConfig } from './config.js';
import { createFeedHub } from './feed/hub.js';
import { feedHubOptions } from './feed/options.js';
import { grpcBounds } from './grpc/bounds.js';
import { createGrpcServer } from './grpc/server.js';
import { createCampaignQueries } from './readModel/campaignQueries.js';
import { createPositionWaiter } from './readModel/positionWaiter.js';

runService('command-api', async (logger) => {
  const config = loadCommandApiConfig();
  const tracing = startTracing(config, 'command-api', logger);
  if (!config.tokens.enabled) {
    logger.warn(
      { auth: 'off' },
      'AUTH=off: AUTHENTICATION IS DISABLED. Every caller on every protocol is an anonymous admin; never run this way outside a laptop.',
    );
  }
  const nats = await connectNats({ url: config.NATS_URL, name: 'lightdom-command-api', logger });
  const store = createEventStore(
    { nc: nats.nc, isConnected: nats.isConnected, logger },
    {
      stream: config.EVENTS_STREAM,
      subjectPrefix: config.EVENTS_SUBJECT_PREFIX,
      publishTimeoutMs: config.PUBLISH_TIMEOUT_MS,
      duplicateWindowMs: config.DUPLICATE_WINDOW_MS,
      replicas: config.EVENTS_REPLICAS,
      upcast: upcastEvent,
    },
  );
  await store.ensureStream();
  // The buckets beside the log are replicated as the log is (3 on a cluster).
  const replicas = await eventStreamReplicas(await nats.nc.jetstreamManager(), config.EVENTS_STREAM);
  const idempotency = await createKvIdempotencyStore(nats.nc.jetstream({ timeout: config.PUBLISH_TIMEOUT_MS }), {
    bucket: config.IDEMPOTENCY_BUCKET,
    ttlMs: config.IDEMPOTENCY_TTL_MS,
    replicas,
  });
  const snapshots = await createKvSnapshotStore(nats.nc.jetstream({ timeout: config.PUBLISH_TIMEOUT_MS }), {
    bucket: config.SNAPSHOT_BUCKET,
    replicas,
  });
  const pool = new pg.Pool({ connectionString: config.DATABASE_URL, max: 10, connectionTimeoutMillis: 2000 });
  pool.on('error', (err) => logger.warn({ err }, 'idle Postgres client failed'));
  const positions = createPositionWaiter({ pool, databaseUrl: config.DATABASE_URL, schema: config.DB_SCHEMA, logger });
  // Fails fast while Redis is away: /api/stats then answers from Postgres.
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: true });
  redis.on('error', (err) => logger.debug({ err: err.message }, 'Redis error'));
  void redis.connect().catch(() => undefined);
  const registry = createMetricsRegistry('command-api');
  // One feed hub: every WebSocket and gRPC subscription shares its JetStream consumer.
  const feed = createFeedHub({ store, logger }, feedHubOptions(config));
  const commands = createCommandHandler(
    { store, idempotency, snapshots, logger },
    { snapshotEvery: config.SNAPSHOT_EVERY, cacheSize: config.AGGREGATE_CACHE_SIZE },
  );
  // One application core per process: every edge authenticates, authorises and submits through it.
  const application = createApplication({
    commands,
    store,
    tokens: config.tokens,
    positions,
    feed,
    maxWaitMs: config.READ_WAIT_TIMEOUT_MS,
  });
  // HTTP and gRPC share one command handler (and so its aggregate cache), queries and checks.
  const deps = {
    application,
    commands,
    store,
    feed,
    campaigns: createCampaignQueries(pool, config.DB_SCHEMA),
    reads: createReadModelQueries(
      { pool, schema: config.DB_SCHEMA, redis, logger },
      { keyPrefix: config.REDIS_KEY_PREFIX, channelPrefix: '' },
    ),
    positions,
    registry,
    logger,
    checks: {
      nats: natsCheck(nats.nc, nats.isConnected),
      postgres: () => pool.query('select 1'),
    },
  };
  const app = buildApp(deps, appOptionsFrom(config));
  const grpc = createGrpcServer(deps, {
    host: config.GRPC_HOST ?? config.HOST,
    maxWaitMs: config.READ_WAIT_TIMEOUT_MS,
    maxMessageBytes: config.BODY_LIMIT_BYTES,
    ...grpcBounds(config),
  });
  const amqp = createAmqpServer(
    { nc: nats.nc, commands: deps.commands, store, logger, registry, application, feed },
    {
      host: config.AMQP_HOST ?? config.HOST,
      allowGuest: config.AMQP_ALLOW_GUEST,
      stream: config.AMQP_STREAM,
      subjectPrefix: config.AMQP_SUBJECT_PREFIX,
      topologyBucket: config.AMQP_TOPOLOGY_BUCKET,
      sharedAckWaitMs: config.AMQP_SHARED_ACK_WAIT_MS,
      ...amqpBoundsOf(config),
    },
  );
  // AMQP first: it restores durable queues from JetStream, and `/ready` should mean every edge is up.
  const amqpPort = await amqp.start(config.AMQP_PORT);
  const url = await app.listen({ host: config.HOST, port: config.PORT });
  const grpcPort = await grpc.start(config.GRPC_PORT);
  logger.info(
    {
      url,
      grpcPort,
      amqpPort,
      stream: config.EVENTS_STREAM,
      auth: config.tokens.enabled ? 'on' : 'off',
      // Who may call (never a token): actor and role of each configured entry.
      identities: config.tokens.describe(),
    },
    'command-api listening',
  );
  return {
    async stop() {
      await amqp.stop();
      await grpc.stop();
      await app.close();
      await feed.stop();
      await positions.close();
      await nats.close();
      redis.disconnect();
      await pool.end();
      await tracing.shutdown();
    },
  };
});
