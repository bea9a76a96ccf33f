import { eventStreamConfig } from '@lightdom/eventstore';
import {
  createNatsTestEnv,
  createPgTestEnv,
  createRedisTestEnv,
  type NatsTestEnv,
  type PgTestEnv,
  type RedisTestEnv,
  testServers,
} from '@lightdom/testkit';
import { connect } from 'nats';
import type { Scope } from './types.js';

/** A stream with the event stream's configuration under other subjects, for raw baselines. */
export interface RawStream {
  name: string;
  subjectPrefix: string;
  /** `<prefix>.campaign.<id>`, the shape of an aggregate subject. */
  subject(id: string | number): string;
}

export interface BenchEnv {
  nats: NatsTestEnv;
  pg: PgTestEnv;
  redis: RedisTestEnv;
  /** The servers' URLs, as the services read them. */
  urls: typeof testServers;
  /** A KV bucket name that the NATS cleanup deletes with the stream. */
  kvBucket(suffix: string): string;
  rawStream(suffix: string): Promise<RawStream>;
  /** Another Postgres schema of this environment (not created; dropped at the end). */
  schemaName(suffix: string): string;
  /** The bearer token the services accept from the bench (an admin). */
  token: string;
  /** `{ authorization: 'Bearer <token>' }`, for requests to a service. */
  authHeaders: Record<string, string>;
  /**
   * The variables a service needs to use this environment's stream and schema. The
   * command-api's gRPC and AMQP listeners get port 0 (any free port) unless `extra` names one,
   * so a port held by something else never fails a scenario that does not use it.
   */
  serviceEnv(extra?: Record<string, string>): Record<string, string>;
}

/**
 * Stream, KV buckets, schemas and Redis keys that belong to one scenario alone, all removed
 * when the scenario's scope closes. Never the production `EVENTS` stream.
 */
export async function createBenchEnv(scope: Scope, label: string): Promise<BenchEnv> {
  const testNats = await createNatsTestEnv(`bench${label}`);
  // The cleanup also deletes `${stream}_*`, e.g. the AMQP gateway's stream serviceEnv names.
  scope.defer(() => testNats.cleanup());
  if (testNats.stream === 'EVENTS') throw new Error('refusing to benchmark against the production EVENTS stream');
  // In-process stores and every raw baseline share one connection configured as the
  // services' (connectNats): without async stack traces, which nats.js builds per request.
  const nc = await connect({ servers: testServers.natsUrl, name: `bench-${label}`, noAsyncTraces: true });
  scope.defer(() => nc.close());
  const nats: NatsTestEnv = { ...testNats, nc };
  const pg = await createPgTestEnv(`bench${label}`);
  scope.defer(() => pg.cleanup());
  const redis = await createRedisTestEnv(`bench${label}`);
  scope.defer(() => redis.cleanup());
  const schemas: string[] = [];
  scope.defer(async () => {
    for (const s of schemas) await pg.pool.query(`drop schema if exists "${s}" cascade`);
  });

  const token = `bench-${nats.id}`;
  return {
    nats,
    pg,
    redis,
    token,
    authHeaders: { authorization: `Bearer ${token}` },
    urls: testServers,
    kvBucket: (suffix) => `${nats.kvBucket}_${suffix.toUpperCase()}`,
    async rawStream(suffix) {
      const name = `${nats.stream}_${suffix.toUpperCase()}`;
      const subjectPrefix = `${nats.subjectPrefix}_${suffix.toLowerCase()}`;
      await nats.jsm.streams.add(
        eventStreamConfig({ stream: name, subjectPrefix, duplicateWindowMs: 120_000, replicas: 1 }),
      );
      // Runs before the NATS cleanup closes the connection (last in, first out).
      scope.defer(() => nats.jsm.streams.delete(name).catch(() => undefined));
      return { name, subjectPrefix, subject: (id) => `${subjectPrefix}.campaign.${id}` };
    },
    schemaName(suffix) {
      const s = `${pg.schema}_${suffix}`.slice(0, 63);
      schemas.push(s);
      return s;
    },
    serviceEnv(extra = {}) {
      return {
        NATS_URL: testServers.natsUrl,
        EVENTS_STREAM: nats.stream,
        EVENTS_SUBJECT_PREFIX: nats.subjectPrefix,
        DATABASE_URL: testServers.databaseUrl,
        DB_SCHEMA: pg.schema,
        REDIS_URL: testServers.redisUrl,
        REDIS_KEY_PREFIX: redis.prefix,
        REDIS_CHANNEL_PREFIX: redis.prefix,
        IDEMPOTENCY_BUCKET: `${nats.kvBucket}_IDEM`,
        SNAPSHOT_BUCKET: `${nats.kvBucket}_SNAP`,
        HOST: '127.0.0.1',
        API_TOKENS: `${token}:bench:admin`,
        GRPC_PORT: '0',
        AMQP_PORT: '0',
        AMQP_STREAM: `${nats.stream}_AMQP`,
        AMQP_SUBJECT_PREFIX: `${nats.subjectPrefix}_amqp`,
        AMQP_TOPOLOGY_BUCKET: `${nats.kvBucket}_TOPO`,
        ...extra,
      };
    },
  };
}
