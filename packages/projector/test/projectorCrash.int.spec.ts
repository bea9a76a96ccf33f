import { setTimeout as sleep } from 'node:timers/promises';
import { createCommandHandler, createEventStore, type EventStore } from '@lightdom/eventstore';
import { createLogger } from '@lightdom/runtime';
import {
  createNatsTestEnv,
  createPgTestEnv,
  type NatsTestEnv,
  type PgTestEnv,
  spawnService,
  testServers,
  uniqueId,
} from '@lightdom/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createCampaignsProjection, createProjector, migrate } from '../src/index.js';
import { startCommandLoad } from './helpers.js';

let nats: NatsTestEnv;
let pgEnv: PgTestEnv;
let store: EventStore;

beforeAll(async () => {
  [nats, pgEnv] = await Promise.all([createNatsTestEnv('crash'), createPgTestEnv('crash')]);
  store = createEventStore({ nc: nats.nc }, { stream: nats.stream, subjectPrefix: nats.subjectPrefix });
  await store.ensureStream();
});
afterAll(async () => {
  await Promise.all([nats?.cleanup(), pgEnv?.cleanup()]);
});

const projectorEnv = () => ({
  NATS_URL: testServers.natsUrl,
  EVENTS_STREAM: nats.stream,
  EVENTS_SUBJECT_PREFIX: nats.subjectPrefix,
  DATABASE_URL: testServers.databaseUrl,
  DB_SCHEMA: pgEnv.schema,
  REDIS_URL: testServers.redisUrl,
  REDIS_KEY_PREFIX: `t:${nats.id}:`,
  REDIS_CHANNEL_PREFIX: `t:${nats.id}:`,
  PROJECTOR_DURABLE: `proj-${nats.id}`,
  PROJECTOR_BATCH_SIZE: '10',
  PORT: '0',
});

it('survives kill -9 under load: the table equals a replay from position 0', async () => {
  const handler = createCommandHandler({ store });
  const load = startCommandLoad(handler, 6);
  const kills: number[] = [];
  for (let round = 0; round < 5; round++) {
    const proc = spawnService('projector', projectorEnv());
    await proc.waitForLine(/"projecting"/);
    await sleep(150 + Math.random() * 400);
    const before = await checkpoint();
    await proc.kill('SIGKILL');
    kills.push(before);
  }
  await load.stop();
  expect(load.sent).toBeGreaterThan(50);
  expect(load.errors).toBe(0);

  const head = await store.headPosition();
  const last = spawnService('projector', projectorEnv());
  try {
    await last.waitForLine(/"projecting"/);
    await expect.poll(checkpoint, { timeout: 60_000, interval: 100 }).toBe(head);
  } finally {
    await last.kill('SIGTERM');
  }
  // The checkpoint moved between kills, so the kills landed while it was working.
  expect(new Set(kills).size).toBeGreaterThan(2);

  const replaySchema = `t_${uniqueId('replay')}`;
  await migrate(pgEnv.pool, replaySchema);
  try {
    const replay = createProjector(
      { nc: nats.nc, pool: pgEnv.pool, logger: createLogger('replay', { level: 'silent' }) },
      {
        stream: nats.stream,
        subjectPrefix: nats.subjectPrefix,
        schema: replaySchema,
        durable: `replay-${nats.id}`,
        projections: [createCampaignsProjection()],
      },
    );
    await replay.start();
    await replay.waitFor(head, 60_000);
    await replay.stop();
    const live = await pgEnv.pool.query(`select * from "${pgEnv.schema}".campaigns order by id`);
    const rebuilt = await pgEnv.pool.query(`select * from "${replaySchema}".campaigns order by id`);
    expect(live.rows.length).toBe(6);
    expect(live.rows).toEqual(rebuilt.rows);
    // Counters prove each event applied once: 10 impressions per metrics command in the log.
    const commits = await store.readAll({ after: 0, limit: 100_000 });
    const metricsCommits = commits.filter((c) => c.commandType === 'RecordCampaignMetrics').length;
    const impressions = live.rows.reduce((sum, r) => sum + Number(r.impressions), 0);
    expect(impressions).toBe(metricsCommits * 10);
  } finally {
    await pgEnv.pool.query(`drop schema "${replaySchema}" cascade`);
  }
}, 120_000);

async function checkpoint(): Promise<number> {
  const r = await pgEnv.pool
    .query(`select min(position) as p from "${pgEnv.schema}".projection_checkpoints`)
    .catch(() => ({ rows: [{ p: 0 }] }));
  return Number(r.rows[0]?.p ?? 0);
}
