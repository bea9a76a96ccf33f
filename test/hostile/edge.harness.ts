import { Writable } from 'node:stream';
import { type AppOptions, buildApp, createCampaignQueries, createPositionWaiter } from '@lightdom/command-api';
import { upcastEvent } from '@lightdom/domain';
import {
  createCommandHandler,
  createEventStore,
  createKvIdempotencyStore,
  type EventStore,
} from '@lightdom/eventstore';
import { migrate } from '@lightdom/projector';
import { createMetricsRegistry, tokenRegistryFrom } from '@lightdom/runtime';
import { createNatsTestEnv, createPgTestEnv, type NatsTestEnv, type PgTestEnv } from '@lightdom/testkit';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';

export const TOKEN = 'edge-token';
export const auth = { authorization: `Bearer ${TOKEN}` };

export interface EdgeApp {
  app: FastifyInstance;
  store: EventStore;
  nats: NatsTestEnv;
  /** Base URL of the real listening socket, e.g. `http://127.0.0.1:40123`. */
  url: string;
  /** Every log line the app wrote, parsed. */
  logs: Record<string, unknown>[];
  /** The stream's last sequence: refused input must leave it where it was. */
  lastSeq(): Promise<number>;
  close(): Promise<void>;
}

/**
 * The command-api app with tokens configured, on real NATS and Postgres and a real loopback
 * socket, logging into memory so a test can read what would reach the logs.
 */
export async function startEdgeApp(label: string, options: Partial<AppOptions> = {}): Promise<EdgeApp> {
  const [nats, pgEnv]: [NatsTestEnv, PgTestEnv] = await Promise.all([createNatsTestEnv(label), createPgTestEnv(label)]);
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(line));
      done();
    },
  });
  const logger = pino({ level: 'info', base: { service: 'command-api' } }, sink);
  const store = createEventStore(
    { nc: nats.nc, logger },
    {
      stream: nats.stream,
      subjectPrefix: nats.subjectPrefix,
      publishTimeoutMs: 1000,
      readTimeoutMs: 1500,
      upcast: upcastEvent,
    },
  );
  await store.ensureStream();
  const idempotency = await createKvIdempotencyStore(nats.nc.jetstream(), { bucket: nats.kvBucket, ttlMs: 60_000 });
  const positions = createPositionWaiter({
    pool: pgEnv.pool,
    databaseUrl: pgEnv.databaseUrl,
    schema: pgEnv.schema,
    logger,
  });
  await migrate(pgEnv.pool, pgEnv.schema);
  const app = buildApp(
    {
      commands: createCommandHandler({ store, idempotency, logger }),
      store,
      campaigns: createCampaignQueries(pgEnv.pool, pgEnv.schema),
      positions,
      registry: createMetricsRegistry('command-api'),
      logger,
      checks: { nats: () => nats.nc.flush(), postgres: () => pgEnv.pool.query('select 1') },
    },
    { tokens: tokenRegistryFrom({ API_TOKENS: `${TOKEN}:operator:operator`, AUTH: 'on' }), ...options },
  );
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    app,
    store,
    nats,
    url,
    logs,
    lastSeq: async () => (await nats.jsm.streams.info(nats.stream)).state.last_seq,
    async close() {
      await app.close();
      await positions.close();
      await Promise.all([nats.cleanup(), pgEnv.cleanup()]);
    },
  };
}
