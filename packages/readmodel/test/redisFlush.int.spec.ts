import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { createNatsTestEnv, createPgTestEnv, type NatsTestEnv, type PgTestEnv } from '@lightdom/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReadModelQueries } from '../src/index.js';
import { domainRound, handlerFor, startProjector, viewsAt } from './support.js';

// A Redis of its own: the test flushes all of it, which must never touch the shared server.
let server: ChildProcess;
let port: number;
let nats: NatsTestEnv;
let pgEnv: PgTestEnv;

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
    srv.on('error', reject);
  });

beforeAll(async () => {
  [nats, pgEnv] = await Promise.all([createNatsTestEnv('rmflush'), createPgTestEnv('rmflush')]);
  port = await freePort();
  server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  server.on('error', (err) => {
    throw new Error(`redis-server could not start (is it installed?): ${err.message}`);
  });
  for (let i = 0; ; i++) {
    const probe = new Redis({
      port,
      host: '127.0.0.1',
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      probe.disconnect();
      break;
    } catch (err) {
      probe.disconnect();
      if (i > 50) throw new Error(`private redis-server on ${port} did not answer: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
});
afterAll(async () => {
  server?.kill('SIGKILL');
  await Promise.all([nats?.cleanup(), pgEnv?.cleanup()]);
});

describe('Redis loses its data', () => {
  it('/api/stats answers from Postgres and the views come back within seconds, with no command sent', async () => {
    const redis = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1, enableOfflineQueue: false });
    redis.on('error', () => undefined);
    await new Promise((r) => redis.once('ready', r));
    const prefix = 'lightdom:';
    const { store, commands } = handlerFor(nats);
    await store.ensureStream();
    const projector = await startProjector(
      { nc: nats.nc, pool: pgEnv.pool, redis },
      {
        stream: nats.stream,
        subjectPrefix: nats.subjectPrefix,
        schema: pgEnv.schema,
        durable: `p-${nats.id}`,
        keyPrefix: prefix,
      },
    );
    try {
      let last = 0;
      for (let i = 0; i < 5; i++) last = await domainRound(commands, i);
      await projector.waitFor(last, 20_000);
      await viewsAt(redis, prefix, last);
      const reads = createReadModelQueries(
        { pool: pgEnv.pool, schema: pgEnv.schema, redis },
        { keyPrefix: prefix, channelPrefix: '' },
      );
      const hot = await reads.stats.read();
      expect(hot.source).toBe('redis');
      const head = await store.headPosition();

      await redis.flushall();
      const during = await reads.stats.read();
      expect(during.source).toBe('postgres');
      expect({ ...during, source: 'redis' }).toEqual(hot);

      const flushedAt = Date.now();
      await viewsAt(redis, prefix, last, 5000);
      const back = await reads.stats.read();
      expect(back).toEqual(hot);
      expect(Date.now() - flushedAt).toBeLessThan(5000);
      expect(await redis.hgetall(`${prefix}campaign:${hot.campaigns.topBySpend[0]!.id}`)).toMatchObject({
        status: expect.any(String),
      });
      // Nothing new in the log: the views came back from Postgres alone.
      expect(await store.headPosition()).toBe(head);
    } finally {
      await projector.stop();
      redis.disconnect();
    }
  });
});
