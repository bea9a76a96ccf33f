import { randomUUID } from 'node:crypto';
import { type CommandHandler, createCommandHandler, createEventStore, type EventStore } from '@lightdom/eventstore';
import { createProjector, type Projector } from '@lightdom/projector';
import { createLogger } from '@lightdom/runtime';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import {
  createReadModelProjections,
  globEscape,
  migrate,
  projectionCatalog,
  qualified,
  readModelTables,
  viewKeys,
} from '../src/index.js';

export const meta = () => ({ actor: 'load', correlationId: randomUUID(), causationId: randomUUID() });
export const silent = createLogger('readmodel-test', { level: (process.env.RM_TEST_LOG as 'warn') ?? 'silent' });

export function handlerFor(nats: { nc: import('nats').NatsConnection; stream: string; subjectPrefix: string }) {
  const store: EventStore = createEventStore(
    { nc: nats.nc },
    { stream: nats.stream, subjectPrefix: nats.subjectPrefix },
  );
  return { store, commands: createCommandHandler({ store }) };
}

/** An in-process projector with every projection (and the hot views when `redis` is given). */
export async function startProjector(
  deps: { nc: import('nats').NatsConnection; pool: pg.Pool; redis?: Redis },
  opts: { stream: string; subjectPrefix: string; schema: string; durable: string; keyPrefix?: string },
): Promise<Projector> {
  await migrate(deps.pool, opts.schema);
  const projector = createProjector(
    { nc: deps.nc, pool: deps.pool, ...(deps.redis ? { redis: deps.redis } : {}), logger: silent },
    {
      stream: opts.stream,
      subjectPrefix: opts.subjectPrefix,
      schema: opts.schema,
      durable: opts.durable,
      batchSize: 100,
      viewsCheckMs: 300,
      projections: createReadModelProjections(),
      ...(opts.keyPrefix ? { hotViews: { keyPrefix: opts.keyPrefix, channelPrefix: opts.keyPrefix } } : {}),
    },
  );
  await projector.start();
  return projector;
}

const twoSteps = [
  { id: 'a', type: 'delay', input: { ms: 1 } },
  { id: 'b', type: 'delay', input: { ms: 1 }, dependsOn: ['a'] },
];

/**
 * One round of every kind of aggregate, through the command handler: a campaign launched
 * with metrics, a workflow with a run whose two steps succeed, an AI task that completes
 * after a retried failure (left out with `aiTask: false`, for a test whose AI tasks a real
 * worker runs). Returns the last position.
 */
export async function domainRound(
  commands: CommandHandler,
  i: number,
  opts: { aiTask?: boolean } = {},
): Promise<number> {
  const h = (type: string, data: Record<string, unknown>, aggregateId?: string) =>
    commands.handle({ type, data, ...(aggregateId ? { aggregateId } : {}) }, meta());
  const c = await h('CreateCampaign', { name: `c${i}`, budget: { amount: 100 + i, currency: 'EUR' } });
  await h('LaunchCampaign', {}, c.id);
  await h('RecordCampaignMetrics', { impressions: 10 + i, clicks: 2, conversions: 1, spend: 1.25 }, c.id);
  if (i % 3 === 0) await h('PauseCampaign', {}, c.id);
  const wf = await h('DefineWorkflow', { name: `wf${i}`, steps: twoSteps });
  if (i % 4 === 0) await h('ReviseWorkflow', { steps: twoSteps.slice(0, 1) }, wf.id);
  const run = await h('RequestWorkflowRun', { workflowId: wf.id, definitionVersion: 1, steps: twoSteps, input: { i } });
  await h('StartWorkflowRun', {}, run.id);
  let position = 0;
  for (const stepId of ['a', 'b']) {
    await h('StartWorkflowStep', { stepId, attempt: 1 }, run.id);
    position = (await h('CompleteWorkflowStep', { stepId, output: { stepId, i } }, run.id)).position;
  }
  if (opts.aiTask === false) return position;
  const task = await h('RequestAiTask', { model: i % 2 ? 'm-odd' : 'm-even', prompt: `prompt ${i}` });
  await h('StartAiTask', { workerId: 'w1' }, task.id);
  await h('FailAiTask', { error: 'busy', retryable: true }, task.id);
  await h('StartAiTask', { workerId: 'w2' }, task.id);
  const last = await h(
    'CompleteAiTask',
    { text: `answer ${i}`, reasoning: 'because', promptTokens: 5, completionTokens: 7 + i, durationMs: 30 },
    task.id,
  );
  return last.position;
}

/** Every read-model table's rows, in key order (checkpoint times left out). */
export async function tableContents(pool: pg.Pool, schema: string): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const spec of projectionCatalog) {
    for (const t of spec.tables) {
      const { rows } = await pool.query(`select * from ${qualified(schema, readModelTables[t])} order by 1, 2, 3`);
      out[readModelTables[t]] = rows;
    }
  }
  return out;
}

/** Every Redis key under `prefix` (prefix removed) with its value, sorted. */
export async function redisContents(redis: Redis, prefix: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${globEscape(prefix)}*`, 'COUNT', 1000);
    for (const key of keys) {
      const type = await redis.type(key);
      const value =
        type === 'hash'
          ? await redis.hgetall(key)
          : type === 'set'
            ? (await redis.smembers(key)).sort()
            : type === 'zset'
              ? await redis.zrange(key, 0, -1, 'WITHSCORES')
              : await redis.get(key);
      out[key.slice(prefix.length)] = value;
    }
    cursor = next;
  } while (cursor !== '0');
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

/** Resolves once the hot views under `prefix` reflect `position`. */
export async function viewsAt(redis: Redis, prefix: string, position: number, timeoutMs = 20_000): Promise<void> {
  const key = viewKeys({ keyPrefix: prefix, channelPrefix: '' }).position;
  const deadline = Date.now() + timeoutMs;
  while (Number((await redis.get(key)) ?? -1) < position) {
    if (Date.now() > deadline) throw new Error(`hot views under ${prefix} did not reach ${position}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
