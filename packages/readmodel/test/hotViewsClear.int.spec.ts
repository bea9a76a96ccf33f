import { createPgTestEnv, createRedisTestEnv, type PgTestEnv, type RedisTestEnv } from '@lightdom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHotViews, migrate, type ProjectionChange, viewKeys } from '../src/index.js';

let pgEnv: PgTestEnv;
let redisEnv: RedisTestEnv;

beforeAll(async () => {
  [pgEnv, redisEnv] = await Promise.all([createPgTestEnv('rmclear'), createRedisTestEnv('rmclear')]);
  await migrate(pgEnv.pool, pgEnv.schema);
});
afterAll(async () => {
  await Promise.all([pgEnv?.cleanup(), redisEnv?.cleanup()]);
});

const task = (id: string, status: string, position: number): ProjectionChange => ({
  aggregateType: 'aiTask',
  aggregateId: id,
  view: { id, status, position },
  position,
  version: position,
});

describe('hot views rebuilt from scratch while batches keep publishing', () => {
  it('leaves every id in the one status set its hash names', async () => {
    const { redis } = redisEnv;
    const prefix = `${redisEnv.prefix}a:`;
    const views = createHotViews(
      { redis, pool: pgEnv.pool, schema: pgEnv.schema },
      { keyPrefix: prefix, channelPrefix: prefix },
    );
    const keys = viewKeys({ keyPrefix: prefix, channelPrefix: prefix });
    // Enough keys that clearing them takes many SCAN pages, so the publishes below land mid-scan.
    const junk = redis.pipeline();
    for (let i = 0; i < 40_000; i++) junk.set(`${prefix}views:junk:${i}`, '1');
    await junk.exec();
    // No position key: the views count as lost, so check() deletes them all and rebuilds (from an empty table).
    const rebuilding = views.check();
    const ids = Array.from({ length: 60 }, (_, i) => `task-${i}`);
    let position = 0;
    for (const id of ids) {
      await views.publish([], [task(id, 'started', ++position)], position);
      await new Promise((r) => setTimeout(r, 1));
      await views.publish([], [task(id, 'completed', ++position)], position);
    }
    expect(await rebuilding).toBe('rebuilt');
    expect(await redis.exists(`${prefix}views:junk:0`)).toBe(0);
    const statuses = await redis.smembers(keys.statuses('aiTask'));
    const members = new Map<string, string[]>();
    for (const s of statuses) members.set(s, await redis.smembers(`${keys.statusPrefix('aiTask')}${s}`));
    for (const id of ids) {
      const status = await redis.hget(`${prefix}aiTask:${id}`, 'status');
      const holding = [...members].filter(([, m]) => m.includes(id)).map(([s]) => s);
      expect({ id, sets: holding }).toEqual({ id, sets: status ? [status] : [] });
    }
    // Every publish came after the clearing, so each task ends completed, in that set alone.
    expect(statuses).toEqual(['completed']);
    expect(members.get('completed')?.sort()).toEqual([...ids].sort());
  });
});
