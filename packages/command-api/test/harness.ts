import { upcastEvent } from '@lightdom/domain';
import {
  createCommandHandler,
  createEventStore,
  createKvIdempotencyStore,
  type EventStore,
} from '@lightdom/eventstore';
import { createLogger, createMetricsRegistry, type TokenRegistry, tokenRegistryFrom } from '@lightdom/runtime';
import type { NatsTestEnv, PgTestEnv } from '@lightdom/testkit';
import type { RouteOptions } from 'fastify';
import type { NatsConnection } from 'nats';
import { type AppOptions, buildApp, createCampaignQueries, createPositionWaiter } from '../src/index.js';

/**
 * Tokens for a test app: a registry, or `API_TOKENS` text (`token:actor:role,…`). Absent:
 * authentication off (every caller the anonymous admin), for tests about something else.
 */
export const testTokens = (tokens?: TokenRegistry | string): TokenRegistry =>
  typeof tokens === 'string'
    ? tokenRegistryFrom({ API_TOKENS: tokens, AUTH: 'on' })
    : (tokens ?? tokenRegistryFrom({ API_TOKENS: '', AUTH: 'off' }));

export type TestAppOptions = Omit<Partial<AppOptions>, 'tokens'> & {
  tokens?: TokenRegistry | string;
  nc?: NatsConnection;
  isConnected?: () => boolean;
  /** Sees every route fastify registers (its onRoute hook, added before the app is ready). */
  onRoute?: (route: RouteOptions) => void;
};

/** The command-api app wired to real NATS and Postgres, as main.ts wires it. */
export async function buildTestApp(nats: NatsTestEnv, pgEnv: PgTestEnv, options: TestAppOptions = {}) {
  const logger = createLogger('command-api-test', { level: 'silent' });
  const nc = options.nc ?? nats.nc;
  const store: EventStore = createEventStore(
    { nc, logger, ...(options.isConnected ? { isConnected: options.isConnected } : {}) },
    {
      stream: nats.stream,
      subjectPrefix: nats.subjectPrefix,
      publishTimeoutMs: 1000,
      readTimeoutMs: 1500,
      upcast: upcastEvent,
    },
  );
  await store.ensureStream();
  const idempotency = await createKvIdempotencyStore(nc.jetstream(), { bucket: nats.kvBucket, ttlMs: 60_000 });
  const positions = createPositionWaiter({
    pool: pgEnv.pool,
    databaseUrl: pgEnv.databaseUrl,
    schema: pgEnv.schema,
    logger,
  });
  const app = buildApp(
    {
      commands: createCommandHandler({ store, idempotency, logger }),
      store,
      campaigns: createCampaignQueries(pgEnv.pool, pgEnv.schema),
      positions,
      registry: createMetricsRegistry('command-api'),
      logger,
      checks: { nats: () => nc.flush(), postgres: () => pgEnv.pool.query('select 1') },
    },
    { ...options, tokens: testTokens(options.tokens) },
  );
  const onRoute = options.onRoute;
  if (onRoute) app.addHook('onRoute', (route) => onRoute(route));
  await app.ready();
  return {
    app,
    store,
    positions,
    async close() {
      await app.close();
      await positions.close();
    },
  };
}
