import { Metadata } from '@grpc/grpc-js';
import {
  buildApp,
  createGrpcServer,
  createLightdomClients,
  createPositionWaiter,
  type GrpcServer,
  type LightdomClients,
} from '@lightdom/command-api';
import { upcastEvent } from '@lightdom/domain';
import { createCommandHandler, createEventStore, createKvIdempotencyStore } from '@lightdom/eventstore';
import { loadExecutorConfig, startExecutorService } from '@lightdom/executor';
import { createProjector, type Projector } from '@lightdom/projector';
import {
  createCampaignQueries,
  createReadModelProjections,
  createReadModelQueries,
  migrate,
} from '@lightdom/readmodel';
import { createLogger, createMetricsRegistry, createTokenRegistry } from '@lightdom/runtime';
import {
  createNatsTestEnv,
  createPgTestEnv,
  createRedisTestEnv,
  type NatsTestEnv,
  type PgTestEnv,
  type RedisTestEnv,
  testServers,
} from '@lightdom/testkit';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const logger = createLogger('e2e-readmodels', { level: 'silent' });
let nats: NatsTestEnv;
let pgEnv: PgTestEnv;
let redisEnv: RedisTestEnv;
let app: FastifyInstance;
let grpc: GrpcServer;
let clients: LightdomClients;
let projector: Projector;
const closers: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  [nats, pgEnv, redisEnv] = await Promise.all([
    createNatsTestEnv('e2erm'),
    createPgTestEnv('e2erm'),
    createRedisTestEnv('e2erm'),
  ]);
  const store = createEventStore(
    { nc: nats.nc, logger },
    { stream: nats.stream, subjectPrefix: nats.subjectPrefix, upcast: upcastEvent },
  );
  await store.ensureStream();
  await migrate(pgEnv.pool, pgEnv.schema);
  projector = createProjector(
    { nc: nats.nc, pool: pgEnv.pool, redis: redisEnv.redis, logger },
    {
      stream: nats.stream,
      subjectPrefix: nats.subjectPrefix,
      schema: pgEnv.schema,
      durable: `p-${nats.id}`,
      projections: createReadModelProjections(),
      hotViews: { keyPrefix: redisEnv.prefix, channelPrefix: redisEnv.prefix },
    },
  );
  await projector.start();
  const idempotency = await createKvIdempotencyStore(nats.nc.jetstream(), { bucket: nats.kvBucket, ttlMs: 60_000 });
  const positions = createPositionWaiter({
    pool: pgEnv.pool,
    databaseUrl: pgEnv.databaseUrl,
    schema: pgEnv.schema,
    logger,
  });
  const deps = {
    commands: createCommandHandler({ store, idempotency, logger }),
    store,
    campaigns: createCampaignQueries(pgEnv.pool, pgEnv.schema),
    reads: createReadModelQueries(
      { pool: pgEnv.pool, schema: pgEnv.schema, redis: redisEnv.redis },
      { keyPrefix: redisEnv.prefix, channelPrefix: '' },
    ),
    positions,
    registry: createMetricsRegistry('command-api'),
    logger,
    checks: {},
  };
  // This test is about the read models; authentication has tests of its own (AUTH=off).
  app = buildApp(deps, { maxWaitMs: 5000, tokens: createTokenRegistry([], false) });
  await app.ready();
  grpc = createGrpcServer(deps, { host: '127.0.0.1', tokens: createTokenRegistry([], false) });
  clients = createLightdomClients(`127.0.0.1:${await grpc.start(0)}`);
  const executor = await startExecutorService(
    loadExecutorConfig({
      // This test is about the read models; authentication has tests of its own.
      AUTH: 'off',
      NATS_URL: testServers.natsUrl,
      EVENTS_STREAM: nats.stream,
      EVENTS_SUBJECT_PREFIX: nats.subjectPrefix,
      HOST: '127.0.0.1',
      PORT: '0',
      IDEMPOTENCY_BUCKET: nats.kvBucket,
      EXECUTOR_DURABLE: `x-${nats.id}`,
      EXECUTOR_AI_DURABLE: `xa-${nats.id}`,
    }),
    logger,
  );
  closers.push(
    () => executor.stop(),
    async () => clients.close(),
    () => grpc.stop(),
    () => app.close(),
    () => positions.close(),
    () => projector.stop(),
  );
});
afterAll(async () => {
  for (const close of closers) await close().catch(() => undefined);
  await Promise.all([nats?.cleanup(), pgEnv?.cleanup(), redisEnv?.cleanup()]);
});

const command = async (type: string, data: Record<string, unknown>) => {
  const res = await app.inject({ method: 'POST', url: '/api/commands', payload: { type, data } });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string; position: number };
};

function grpcCall<T>(method: string, req: unknown): Promise<T> {
  return new Promise((resolve, reject) =>
    (clients.queries[method] as (r: unknown, m: Metadata, cb: (e: Error | null, v: T) => void) => void).call(
      clients.queries,
      req,
      new Metadata(),
      (err, res) => (err ? reject(err) : resolve(res)),
    ),
  );
}

const steps = [
  { id: 'first', type: 'delay', input: { ms: 150 } },
  { id: 'second', type: 'delay', input: { ms: 150 }, dependsOn: ['first'] },
  { id: 'third', type: 'delay', input: { ms: 150 }, dependsOn: ['second'] },
];

describe('a run followed over REST and gRPC', () => {
  it('is followed with minPosition through every step to its final state', async () => {
    const wf = await command('DefineWorkflow', { name: 'three delays', steps });
    const wfRead = await app.inject(`/api/workflows/${wf.id}?minPosition=${wf.position}`);
    expect(wfRead.json()).toMatchObject({ workflowId: wf.id, currentVersion: 1, versions: [{ definitionVersion: 1 }] });
    // The steps come from the definition (the core fills them in).
    const run = await command('RequestWorkflowRun', { workflowId: wf.id, definitionVersion: 1, input: { n: 1 } });

    // Each read waits for a position past the last one seen: every change shows up once.
    const seen: string[] = [];
    let position = run.position;
    let view: { status: string; position: number; steps: { stepId: string; status: string }[] } | undefined;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const res = await app.inject(`/api/runs/${run.id}?minPosition=${position}&waitMs=3000&allowStale=true`);
      expect(res.statusCode, res.body).toBe(200);
      view = res.json();
      const state = `${view!.status}:${view!.steps.map((s) => s.status).join(',')}`;
      if (seen.at(-1) !== state) seen.push(state);
      if (['succeeded', 'failed', 'cancelled'].includes(view!.status)) break;
      position = view!.position + 1;
    }
    expect(view?.status).toBe('succeeded');
    // The run was seen moving through its steps one after the other.
    expect(seen[0]).toBe('requested:pending,pending,pending');
    for (const running of ['running,pending,pending', 'succeeded,running,pending', 'succeeded,succeeded,running']) {
      expect(
        seen.some((s) => s.endsWith(running)),
        `${running} in ${seen.join(' | ')}`,
      ).toBe(true);
    }
    const final = (await app.inject(`/api/runs/${run.id}?minPosition=${view!.position}`)).json();
    expect(final.steps).toEqual(
      steps.map((s) =>
        expect.objectContaining({ stepId: s.id, type: 'delay', status: 'succeeded', attempt: 1, error: null }),
      ),
    );
    expect(final.steps.every((s: { startedAt: string; finishedAt: string }) => s.startedAt && s.finishedAt)).toBe(true);
    expect(final.readModelPosition).toBeGreaterThanOrEqual(final.position);

    const over = await grpcCall<{ run: Record<string, unknown> & { steps: Record<string, unknown>[] } }>('GetRun', {
      id: run.id,
      minPosition: final.position,
    });
    expect(over.run).toMatchObject({
      runId: run.id,
      workflowId: wf.id,
      status: 'succeeded',
      position: final.position,
      input: JSON.stringify({ n: 1 }),
      result: JSON.stringify(final.result),
    });
    expect(over.run.steps.map((s) => [s.stepId, s.status, s.attempt, s.startedAt, s.finishedAt])).toEqual(
      final.steps.map((s: Record<string, unknown>) => [s.stepId, s.status, s.attempt, s.startedAt, s.finishedAt]),
    );

    const listed = await app.inject(`/api/runs?workflowId=${wf.id}&status=succeeded`);
    expect(listed.json()).toMatchObject({ items: [{ runId: run.id }], nextCursor: null, stale: false });
    const grpcList = await grpcCall<{ items: { runId: string }[] }>('ListRuns', {
      workflowId: wf.id,
      status: 'succeeded',
    });
    expect(grpcList.items.map((r) => r.runId)).toEqual([run.id]);
    // This run started no child runs: the parent filter finds none, on both protocols.
    expect((await app.inject(`/api/runs?parentRunId=${run.id}`)).json().items).toEqual([]);
    expect((await grpcCall<{ items: unknown[] }>('ListRuns', { parentRunId: run.id })).items).toEqual([]);
    const stats = (await app.inject(`/api/stats?minPosition=${final.position}`)).json();
    expect(stats.runs.byStatus).toEqual({ succeeded: 1 });
    const grpcStats = await grpcCall<{ runsByStatus: Record<string, number> }>('GetStats', {
      minPosition: final.position,
    });
    expect(grpcStats.runsByStatus).toEqual({ succeeded: 1 });
  });

  it('refuses unknown query parameters, naming them, and bad filters', async () => {
    const res = await app.inject('/api/runs?status=succeeded&colour=red&sort=x');
    expect(res.statusCode).toBe(400);
    expect(res.json().errors).toEqual([
      { field: 'colour', message: 'is not a parameter of this route' },
      { field: 'sort', message: 'is not a parameter of this route' },
    ]);
    const badParent = await app.inject('/api/runs?parentRunId=%20');
    expect(badParent.statusCode).toBe(400);
    expect(badParent.json().errors[0].field).toBe('parentRunId');
    const bad = await app.inject('/api/ai-tasks?status=done');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors[0].field).toBe('status');
    expect((await app.inject('/api/campaigns/x/metrics?bucket=week')).statusCode).toBe(400);
    expect((await app.inject('/api/ai-tasks/nope')).statusCode).toBe(404);
  });

  it('serves AI tasks and campaign metrics with read-your-writes', async () => {
    const task = await command('RequestAiTask', { model: 'tiny', prompt: 'Say hi', maxAttempts: 1 });
    const read = await app.inject(`/api/ai-tasks/${task.id}?minPosition=${task.position}`);
    expect(read.json()).toMatchObject({
      taskId: task.id,
      model: 'tiny',
      promptSummary: 'Say hi',
      position: task.position,
    });
    const list = await app.inject(`/api/ai-tasks?model=tiny&minPosition=${task.position}`);
    expect(list.json().items.map((t: { taskId: string }) => t.taskId)).toContain(task.id);
    const created = await app.inject({
      method: 'POST',
      url: '/api/campaigns',
      payload: { name: 'Metrics', budget: { amount: 100, currency: 'EUR' } },
    });
    const c = created.json() as { id: string };
    await app.inject({ method: 'POST', url: `/api/campaigns/${c.id}/launch`, payload: {} });
    const m = await app.inject({
      method: 'POST',
      url: `/api/campaigns/${c.id}/metrics`,
      payload: { impressions: 100, clicks: 7, spend: 2.5 },
    });
    expect(m.statusCode, m.body).toBeLessThan(300);
    const series = await app.inject(`/api/campaigns/${c.id}/metrics?bucket=day&minPosition=${m.json().position}`);
    expect(series.json()).toMatchObject({
      campaignId: c.id,
      bucket: 'day',
      items: [{ impressions: 100, clicks: 7, spend: 2.5 }],
    });
    const g = await grpcCall<{ points: { clicks: number }[] }>('GetCampaignMetrics', {
      campaignId: c.id,
      bucket: 'hour',
    });
    expect(g.points.map((p) => p.clicks)).toEqual([7]);
  });

  it('says when each schedule fires next, in its time zone, and null once paused', async () => {
    const wf = await command('DefineWorkflow', { name: 'scheduled', steps: steps.slice(0, 1) });
    const create = async (data: Record<string, unknown>) => {
      const res = await app.inject({ method: 'POST', url: '/api/schedules', payload: { workflowId: wf.id, ...data } });
      expect(res.statusCode, res.body).toBe(201);
      return res.json() as { id: string; position: number };
    };
    const weekdays = await create({ cron: '0 9 * * 1-5', timezone: 'Europe/Berlin' });
    const at = '2099-06-01T12:00:00.000Z';
    const once = await create({ at });
    const before = Date.now();
    const got = await app.inject(`/api/schedules/${weekdays.id}?minPosition=${once.position}`);
    expect(got.statusCode, got.body).toBe(200);
    const next = new Date(got.json().nextSlot as string);
    // 09:00 on a weekday in Berlin, within the next four days.
    const berlin = new Intl.DateTimeFormat('en-GB', {
      timeZone: 'Europe/Berlin',
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    }).formatToParts(next);
    const part = (t: string) => berlin.find((p) => p.type === t)?.value;
    expect(`${part('hour')}:${part('minute')}`).toBe('09:00');
    expect(['Mon', 'Tue', 'Wed', 'Thu', 'Fri']).toContain(part('weekday'));
    expect(next.getTime()).toBeGreaterThan(before);
    expect(next.getTime() - before).toBeLessThan(4 * 24 * 3600_000);
    const listed = await app.inject(`/api/schedules?workflowId=${wf.id}&minPosition=${once.position}`);
    const byId = new Map(
      (listed.json().items as { scheduleId: string; nextSlot: string | null }[]).map((s) => [s.scheduleId, s.nextSlot]),
    );
    expect(byId.get(once.id)).toBe(at);
    expect(byId.get(weekdays.id)).toBe(next.toISOString());
    const paused = await app.inject({ method: 'POST', url: `/api/schedules/${weekdays.id}/pause`, payload: {} });
    expect(paused.statusCode, paused.body).toBeLessThan(300);
    const after = await app.inject(`/api/schedules/${weekdays.id}?minPosition=${paused.json().position}`);
    expect(after.json()).toMatchObject({ status: 'paused', nextSlot: null });
  });
});
