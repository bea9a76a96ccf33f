import {
  createNatsTestEnv,
  createPgTestEnv,
  createRedisTestEnv,
  type NatsTestEnv,
  type PgTestEnv,
  type RedisTestEnv,
} from '@lightdom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReadModelQueries } from '../src/index.js';
import { domainRound, handlerFor, redisContents, startProjector, viewsAt } from './support.js';

let nats: NatsTestEnv;
let pgEnv: PgTestEnv;
let redisEnv: RedisTestEnv;

beforeAll(async () => {
  [nats, pgEnv, redisEnv] = await Promise.all([
    createNatsTestEnv('rmproj'),
    createPgTestEnv('rmproj'),
    createRedisTestEnv('rmproj'),
  ]);
});
afterAll(async () => Promise.all([nats?.cleanup(), pgEnv?.cleanup(), redisEnv?.cleanup()]));

describe('read-model projections', () => {
  it('projects runs with steps, AI tasks, workflows with versions, metrics buckets and stats', async () => {
    const { store, commands } = handlerFor(nats);
    await store.ensureStream();
    const projector = await startProjector(
      { nc: nats.nc, pool: pgEnv.pool, redis: redisEnv.redis },
      {
        stream: nats.stream,
        subjectPrefix: nats.subjectPrefix,
        schema: pgEnv.schema,
        durable: `p-${nats.id}`,
        keyPrefix: redisEnv.prefix,
      },
    );
    try {
      let last = 0;
      for (let i = 0; i < 4; i++) last = await domainRound(commands, i);
      await projector.waitFor(last, 20_000);
      const reads = createReadModelQueries({ pool: pgEnv.pool, schema: pgEnv.schema });

      const runs = await reads.runs.list({ limit: 2 });
      expect(runs.items).toHaveLength(2);
      expect(runs.nextCursor).not.toBeNull();
      const rest = await reads.runs.list({ limit: 10, cursor: runs.nextCursor! });
      expect(rest.items).toHaveLength(2);
      const run = await reads.runs.get(runs.items[0]!.runId);
      expect(run).toMatchObject({ status: 'succeeded', input: { i: expect.any(Number) } });
      expect(run?.result).toEqual({ b: { stepId: 'b', i: (run!.input as { i: number }).i } });
      expect(run?.steps?.map((s) => [s.stepId, s.type, s.status, s.attempt])).toEqual([
        ['a', 'delay', 'succeeded', 1],
        ['b', 'delay', 'succeeded', 1],
      ]);
      expect(run?.steps?.[0]?.startedAt).toBeTruthy();
      expect(run?.steps?.[0]?.outputSummary).toContain('"stepId":"a"');

      const wfs = await reads.workflows.list({ limit: 50 });
      expect(wfs.items).toHaveLength(4);
      const revised = await Promise.all(wfs.items.map((w) => reads.workflows.get(w.workflowId)));
      expect(revised.map((w) => w?.versions?.length).sort()).toEqual([1, 1, 1, 2]);

      const tasks = await reads.aiTasks.list({ limit: 50, model: 'm-odd' });
      expect(tasks.items).toHaveLength(2);
      const task = await reads.aiTasks.get(tasks.items[0]!.taskId);
      expect(task).toMatchObject({
        status: 'completed',
        model: 'm-odd',
        promptSummary: expect.stringMatching(/^prompt /),
        reasoning: 'because',
        attempts: 2,
        tokens: { prompt: 5, completion: expect.any(Number) },
      });
      expect(task?.output).toMatch(/^answer /);

      const campaigns = await reads.campaigns.list({ limit: 50 });
      const series = await reads.metrics.series({ campaignId: campaigns.items[0]!.id, bucket: 'day', limit: 10 });
      expect(series.items).toHaveLength(1);
      expect(series.items[0]).toMatchObject({ clicks: 2, conversions: 1, spend: 1.25 });
      const hour = await reads.metrics.series({ campaignId: campaigns.items[0]!.id, bucket: 'hour', limit: 10 });
      expect(hour.items[0]?.bucketStart).toMatch(/:00:00\.000Z$/);

      const pgStats = await reads.stats.read();
      expect(pgStats).toMatchObject({
        source: 'postgres',
        campaigns: { byStatus: { active: 2, paused: 2 }, totals: { budget: 406, spend: 5, clicks: 8 } },
        runs: { byStatus: { succeeded: 4 } },
        aiTasks: { byStatus: { completed: 4 } },
      });
      expect(pgStats.campaigns.topBySpend).toHaveLength(4);

      await viewsAt(redisEnv.redis, redisEnv.prefix, last);
      const hot = createReadModelQueries(
        { pool: pgEnv.pool, schema: pgEnv.schema, redis: redisEnv.redis },
        { keyPrefix: redisEnv.prefix, channelPrefix: '' },
      );
      const redisStats = await hot.stats.read();
      expect(redisStats.source).toBe('redis');
      expect({ ...redisStats, source: 'postgres' }).toEqual(pgStats);
      const keys = await redisContents(redisEnv.redis, redisEnv.prefix);
      expect(keys['views:position']).toBe(String(last));
      expect(keys[`workflowRun:${run!.runId}`]).toMatchObject({ status: 'succeeded' });
    } finally {
      await projector.stop();
    }
  });
});
