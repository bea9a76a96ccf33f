import {
  createNatsTestEnv,
  createPgTestEnv,
  createRedisTestEnv,
  type FakeOllama,
  type NatsTestEnv,
  type PgTestEnv,
  type RedisTestEnv,
  type ServiceProcess,
  spawnService,
  startFakeOllama,
  testServers,
} from '@lightdom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectionNames, qualified, readModelTables } from '../src/index.js';
import { domainRound, handlerFor, meta, redisContents, startProjector, tableContents, viewsAt } from './support.js';

let nats: NatsTestEnv;
let pgEnv: PgTestEnv;
let reference: PgTestEnv;
let redisEnv: RedisTestEnv;
let ollama: FakeOllama;

beforeAll(async () => {
  [nats, pgEnv, reference, redisEnv, ollama] = await Promise.all([
    createNatsTestEnv('rmkill'),
    createPgTestEnv('rmkill'),
    createPgTestEnv('rmkillref'),
    createRedisTestEnv('rmkill'),
    // Short answers, streamed in a few chunks, so the worker also records progress.
    startFakeOllama({
      models: ['m-odd', 'm-even'],
      reply: ({ prompt }) => `<think>short</think>\n\nanswer to ${prompt}`,
      chunkDelayMs: 20,
    }),
  ]);
});
afterAll(async () =>
  Promise.all([nats?.cleanup(), pgEnv?.cleanup(), reference?.cleanup(), redisEnv?.cleanup(), ollama?.close()]),
);

/** AI tasks in the load: requested through the command handler, run by the real AI worker. */
const aiTaskCount = 6;

const aiWorkerEnv = () => ({
  API_TOKENS: 'kill-ai-token:kill-ai-worker:service',
  SERVICE_TOKEN: 'kill-ai-token',
  NATS_URL: testServers.natsUrl,
  EVENTS_STREAM: nats.stream,
  EVENTS_SUBJECT_PREFIX: nats.subjectPrefix,
  OLLAMA_URL: ollama.url,
  AI_WORKER_DURABLE: `ai-${nats.id}`,
  AI_WORKER_ID: `kill-ai-${nats.id}`,
  AI_PROGRESS_INTERVAL_MS: '20',
  AI_RETRY_DELAY_MS: '200',
  PORT: '0',
  HOST: '127.0.0.1',
  LOG_LEVEL: 'info',
});

const projectorEnv = () => ({
  // /ready's details (lag per projection) are for token holders.
  API_TOKENS: 'kill-test-token:ops:reader',
  NATS_URL: testServers.natsUrl,
  EVENTS_STREAM: nats.stream,
  EVENTS_SUBJECT_PREFIX: nats.subjectPrefix,
  DATABASE_URL: testServers.databaseUrl,
  DB_SCHEMA: pgEnv.schema,
  REDIS_URL: testServers.redisUrl,
  REDIS_KEY_PREFIX: redisEnv.prefix,
  REDIS_CHANNEL_PREFIX: redisEnv.prefix,
  PROJECTOR_DURABLE: `p-${nats.id}`,
  PROJECTOR_BATCH_SIZE: '20',
  PROJECTOR_VIEWS_CHECK_MS: '300',
  PORT: '0',
  HOST: '127.0.0.1',
  LOG_LEVEL: 'info',
});

const checkpointsOf = async (schema: string) =>
  (
    await pgEnv.pool.query<{ name: string; position: string }>(
      `select name, position from ${qualified(schema, readModelTables.checkpoints)} where name = any($1)`,
      [projectionNames],
    )
  ).rows;

async function caughtUp(schema: string, head: number, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const cps = await checkpointsOf(schema);
    if (cps.length === projectionNames.length && cps.every((c) => Number(c.position) >= head)) return;
    if (Date.now() > deadline) throw new Error(`projections not at ${head}: ${JSON.stringify(cps)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('projector killed with kill -9 under a mixed load', () => {
  it('ends with every table and every Redis key equal to a rebuild from position 0', { timeout: 240_000 }, async () => {
    const { store, commands } = handlerFor(nats);
    await store.ensureStream();
    const worker = spawnService('ai-worker', aiWorkerEnv());
    await worker.waitForLine(/ai-worker listening/, 30_000);
    let running = true;
    let rounds = 0;
    const aiTaskIds: string[] = [];
    const load = (async () => {
      while (running) {
        const i = rounds++;
        await domainRound(commands, i, { aiTask: false });
        if (aiTaskIds.length < aiTaskCount) {
          const task = await commands.handle(
            { type: 'RequestAiTask', data: { model: i % 2 ? 'm-odd' : 'm-even', prompt: `prompt ${i}` } },
            meta(),
          );
          aiTaskIds.push(task.id);
        }
      }
    })();
    let projector: ServiceProcess | undefined;
    try {
      for (let kill = 0; kill < 10; kill++) {
        projector = spawnService('projector', projectorEnv());
        await projector.waitForLine(/projector ready/, 30_000);
        // A random moment: somewhere in a batch, between commit and Redis, or while idle.
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 900));
        await projector.kill('SIGKILL');
      }
      running = false;
      await load;
      expect(rounds).toBeGreaterThan(3);
      expect(aiTaskIds).toHaveLength(aiTaskCount);
      projector = spawnService('projector', projectorEnv());
      const ready = JSON.parse(await projector.waitForLine(/projector ready/, 30_000)) as { ops: string };
      // The worker finishes every task (its last commits land after the load stopped); then it
      // is stopped so the log's head no longer moves.
      const aiRows = async () =>
        (
          await pgEnv.pool.query<{ id: string; status: string; output: string | null; worker_id: string | null }>(
            `select id, status, output, worker_id from ${qualified(pgEnv.schema, readModelTables.aiTasks)} where id = any($1) order by id`,
            [aiTaskIds],
          )
        ).rows;
      await expect
        .poll(async () => (await aiRows()).map((r) => r.status), { timeout: 60_000, interval: 200 })
        .toEqual(aiTaskIds.map(() => 'completed'));
      await worker.kill('SIGTERM');
      for (const row of await aiRows()) {
        expect(row.worker_id).toBe(`kill-ai-${nats.id}`);
        expect(row.output).toMatch(/^answer to prompt \d+$/);
      }
      // The log holds the worker's own commits for every task, progress included.
      const commandsOf = await Promise.all(
        aiTaskIds.map(async (id) => (await store.readAggregate('aiTask', id)).map((c) => c.commandType)),
      );
      for (const types of commandsOf) expect(types).toEqual(expect.arrayContaining(['StartAiTask', 'CompleteAiTask']));
      expect(commandsOf.flat()).toContain('RecordAiTaskProgress');
      const head = await store.headPosition();
      await caughtUp(pgEnv.schema, head);
      await viewsAt(redisEnv.redis, redisEnv.prefix, head);
      // Lag per projection: on /ready and as a gauge.
      await expect
        .poll(
          async () =>
            (
              (await (
                await fetch(`${ready.ops}/ready`, { headers: { authorization: 'Bearer kill-test-token' } })
              ).json()) as { projections?: unknown }
            ).projections,
        )
        .toMatchObject(Object.fromEntries(projectionNames.map((n) => [n, { position: head, lag: 0 }])));
      const metrics = await (await fetch(`${ready.ops}/metrics`)).text();
      for (const n of projectionNames) {
        expect(metrics).toMatch(new RegExp(`^lightdom_projection_lag\\{[^}]*projection="${n}"[^}]*\\} 0$`, 'm'));
      }

      // The reference: the same log projected once, from position 0, without interruption.
      const refPrefix = `${redisEnv.prefix}ref:`;
      const ref = await startProjector(
        { nc: nats.nc, pool: reference.pool, redis: redisEnv.redis },
        {
          stream: nats.stream,
          subjectPrefix: nats.subjectPrefix,
          schema: reference.schema,
          durable: `ref-${nats.id}`,
          keyPrefix: refPrefix,
        },
      );
      try {
        await ref.waitFor(head, 90_000); // a loaded 2-core CI machine rebuilds ~19k commits in 10-40 s
        await viewsAt(redisEnv.redis, refPrefix, head);
        expect(await tableContents(pgEnv.pool, pgEnv.schema)).toEqual(
          await tableContents(reference.pool, reference.schema),
        );
        const live = await redisContents(redisEnv.redis, redisEnv.prefix);
        for (const k of Object.keys(live)) if (k.startsWith('ref:')) delete live[k];
        const rebuilt = await redisContents(redisEnv.redis, refPrefix);
        // A campaign and a workflow run per round, plus the worker's tasks.
        expect(Object.keys(live).length).toBeGreaterThanOrEqual(rounds * 2 + aiTaskCount);
        expect(live).toEqual(rebuilt);
      } finally {
        await ref.stop();
      }
    } finally {
      running = false;
      await load.catch(() => undefined);
      await projector?.kill('SIGKILL');
      await worker.kill('SIGKILL');
    }
  });
});
