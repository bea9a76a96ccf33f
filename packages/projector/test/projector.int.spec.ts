import { randomUUID } from 'node:crypto';
import { type CommandHandler, createCommandHandler, createEventStore, type EventStore } from '@lightdom/eventstore';
import { createLogger } from '@lightdom/runtime';
import {
  createNatsTestEnv,
  createPgTestEnv,
  createRedisTestEnv,
  type NatsTestEnv,
  type PgTestEnv,
  type RedisTestEnv,
} from '@lightdom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCampaignsProjection, createProjector, eventsChannel, hotViewKey, migrate } from '../src/index.js';
import { startCommandLoad } from './helpers.js';

let nats: NatsTestEnv;
let pgEnv: PgTestEnv;
let redisEnv: RedisTestEnv;
let store: EventStore;
let handler: CommandHandler;
const logger = createLogger('projector-test', { level: 'silent' });
const meta = () => ({ actor: 't', correlationId: randomUUID(), causationId: randomUUID() });

beforeAll(async () => {
  [nats, pgEnv, redisEnv] = await Promise.all([
    createNatsTestEnv('proj'),
    createPgTestEnv('proj'),
    createRedisTestEnv('proj'),
  ]);
  store = createEventStore({ nc: nats.nc }, { stream: nats.stream, subjectPrefix: nats.subjectPrefix });
  await store.ensureStream();
  handler = createCommandHandler({ store });
  await migrate(pgEnv.pool, pgEnv.schema);
});
afterAll(async () => {
  await Promise.all([nats?.cleanup(), pgEnv?.cleanup(), redisEnv?.cleanup()]);
});

function projectorFor(
  schema: string,
  durable: string,
  extra: Parameters<typeof createProjector>[1] extends infer O ? Partial<O> : never = {},
) {
  return createProjector(
    { nc: nats.nc, pool: pgEnv.pool, redis: redisEnv.redis, logger },
    {
      stream: nats.stream,
      subjectPrefix: nats.subjectPrefix,
      schema,
      durable,
      batchSize: 25,
      projections: [createCampaignsProjection()],
      hotViews: { keyPrefix: redisEnv.prefix, channelPrefix: redisEnv.prefix },
      ...extra,
    },
  );
}

const rows = async (schema: string) => (await pgEnv.pool.query(`select * from "${schema}".campaigns order by id`)).rows;

describe('projector', () => {
  it('builds the campaigns table, its checkpoint, the hot view and the Pub/Sub feed', async () => {
    const sub = redisEnv.redis.duplicate();
    const received: { type: string; position: number }[] = [];
    await sub.subscribe(eventsChannel({ keyPrefix: '', channelPrefix: redisEnv.prefix }, 'campaign'));
    sub.on('message', (_ch, msg) => received.push(JSON.parse(msg)));

    const projector = projectorFor(pgEnv.schema, `p-${nats.id}`);
    await projector.start();
    try {
      const c = await handler.handle(
        { type: 'CreateCampaign', data: { name: 'Spring', budget: { amount: 100, currency: 'EUR' } } },
        meta(),
      );
      await handler.handle({ type: 'LaunchCampaign', aggregateId: c.id, data: {} }, meta());
      const last = await handler.handle(
        { type: 'RecordCampaignMetrics', aggregateId: c.id, data: { impressions: 3, clicks: 2, spend: 12.5 } },
        meta(),
      );
      await projector.waitFor(last.position);
      const [row] = (await pgEnv.pool.query(`select * from "${pgEnv.schema}".campaigns where id = $1`, [c.id])).rows;
      expect(row).toMatchObject({
        name: 'Spring',
        status: 'active',
        spend: '12.50',
        impressions: '3',
        clicks: '2',
        version: 3,
        position: String(last.position),
      });
      expect(await projector.position()).toBe(last.position);
      // Redis follows Postgres one batch behind (it overlaps the next batch), so poll.
      const key = hotViewKey({ keyPrefix: redisEnv.prefix, channelPrefix: '' }, 'campaign', c.id);
      await expect
        .poll(() => redisEnv.redis.hgetall(key))
        .toMatchObject({ status: 'active', version: '3', position: String(last.position) });
      await expect
        .poll(() => received.map((e) => e.type))
        .toEqual(['CampaignCreated', 'CampaignLaunched', 'CampaignMetricsRecorded']);
      expect(received.at(-1)?.position).toBe(last.position);
    } finally {
      await projector.stop();
      sub.disconnect();
    }
  });

  it('rolls back a batch that fails before commit and applies it once on the retry', async () => {
    let failures = 0;
    const projector = projectorFor(pgEnv.schema, `p-${nats.id}`, {
      async beforeCommit() {
        // Abort the first two transactions mid-batch, as a crash would.
        if (failures < 2) {
          failures++;
          throw new Error('injected crash');
        }
      },
    });
    const load = startCommandLoad(handler, 3);
    await projector.start();
    await new Promise((r) => setTimeout(r, 800));
    await load.stop();
    const head = await store.headPosition();
    await projector.waitFor(head, 20_000);
    await projector.stop();
    expect(failures).toBe(2);

    const replaySchema = `${pgEnv.schema}_r`;
    await migrate(pgEnv.pool, replaySchema);
    const replay = projectorFor(replaySchema, `r-${nats.id}`, { hotViews: undefined });
    await replay.start();
    await replay.waitFor(head, 20_000);
    await replay.stop();
    expect(await rows(pgEnv.schema)).toEqual(await rows(replaySchema));
    await pgEnv.pool.query(`drop schema "${replaySchema}" cascade`);
  });

  it('survives its Postgres connection dying mid-batch and applies the batch once', async () => {
    let killed = 0;
    const projector = projectorFor(pgEnv.schema, `p-${nats.id}`, {
      async beforeCommit() {
        if (killed > 0) return;
        killed++;
        // Terminate this projector's own connection (idle in its open transaction).
        const { rows } = await pgEnv.pool.query(
          `select pg_terminate_backend(pid) as ok from pg_stat_activity
           where state = 'idle in transaction' and query like $1`,
          [`%"${pgEnv.schema}".projection_checkpoints%`],
        );
        expect(rows.length).toBeGreaterThan(0);
      },
    });
    await projector.start();
    try {
      const c = await handler.handle(
        { type: 'CreateCampaign', data: { name: 'pg-crash', budget: { amount: 10, currency: 'EUR' } } },
        meta(),
      );
      const r = await handler.handle(
        { type: 'RenameCampaign', aggregateId: c.id, data: { name: 'pg-crash-2' } },
        meta(),
      );
      await projector.waitFor(r.position, 20_000);
      expect(killed).toBe(1);
      const row = await pgEnv.pool.query(`select name, version from "${pgEnv.schema}".campaigns where id = $1`, [c.id]);
      expect(row.rows[0]).toEqual({ name: 'pg-crash-2', version: 2 });
    } finally {
      await projector.stop();
    }
  });

  it('skips a message that is not a commit instead of stalling on it', async () => {
    const projector = projectorFor(pgEnv.schema, `p-${nats.id}`);
    await projector.start();
    try {
      const junk = await nats.nc
        .jetstream()
        .publish(`${nats.subjectPrefix}.campaign.junk`, new TextEncoder().encode('not json'));
      const c = await handler.handle(
        { type: 'CreateCampaign', data: { name: 'after-junk', budget: { amount: 1, currency: 'EUR' } } },
        meta(),
      );
      expect(c.position).toBe(junk.seq + 1);
      await projector.waitFor(c.position, 20_000);
      const row = await pgEnv.pool.query(`select name from "${pgEnv.schema}".campaigns where id = $1`, [c.id]);
      expect(row.rows[0]?.name).toBe('after-junk');
    } finally {
      await projector.stop();
    }
  });
});
