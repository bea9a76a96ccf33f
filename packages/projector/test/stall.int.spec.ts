import { randomUUID } from 'node:crypto';
import type { Commit } from '@lightdom/domain';
import {
  aggregateSubject,
  type CommandHandler,
  createCommandHandler,
  createEventStore,
  type EventStore,
  encodeCommit,
  hashCommit,
} from '@lightdom/eventstore';
import { createLogger, createMetricsRegistry } from '@lightdom/runtime';
import {
  createNatsTestEnv,
  createPgTestEnv,
  createRedisTestEnv,
  type NatsTestEnv,
  type PgTestEnv,
  type RedisTestEnv,
} from '@lightdom/testkit';
import type { Registry } from 'prom-client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createCampaignsProjection, createProjector, migrate, type Projector } from '../src/index.js';

let nats: NatsTestEnv;
let pgEnv: PgTestEnv;
let redisEnv: RedisTestEnv;
let store: EventStore;
let handler: CommandHandler;
let registry: Registry;
let projector: Projector;
const logger = createLogger('stall-test', { level: 'silent' });
const meta = () => ({ actor: 'stall-test', correlationId: randomUUID(), causationId: randomUUID() });

beforeAll(async () => {
  [nats, pgEnv, redisEnv] = await Promise.all([
    createNatsTestEnv('stall'),
    createPgTestEnv('stall'),
    createRedisTestEnv('stall'),
  ]);
  store = createEventStore({ nc: nats.nc }, { stream: nats.stream, subjectPrefix: nats.subjectPrefix });
  await store.ensureStream();
  handler = createCommandHandler({ store });
  await migrate(pgEnv.pool, pgEnv.schema);
});
afterAll(async () => {
  await projector?.stop();
  await Promise.all([nats?.cleanup(), pgEnv?.cleanup(), redisEnv?.cleanup()]);
});
beforeEach(async () => {
  await projector?.stop();
});

function start(batchSize = 50) {
  registry = createMetricsRegistry('projector');
  projector = createProjector(
    { nc: nats.nc, pool: pgEnv.pool, redis: redisEnv.redis, logger, registry },
    {
      stream: nats.stream,
      subjectPrefix: nats.subjectPrefix,
      schema: pgEnv.schema,
      durable: `p-${nats.id}`,
      batchSize,
      stallRetryMs: 100,
      projections: [createCampaignsProjection()],
      hotViews: { keyPrefix: redisEnv.prefix, channelPrefix: redisEnv.prefix },
    },
  );
  return projector.start();
}

/** A campaign commit published around the store, with a valid hash and links. */
async function forge(aggregateId: string, events: unknown[]): Promise<number> {
  const last = await store.lastCommit('campaign', aggregateId);
  const body: Omit<Commit, 'hash'> = {
    commitId: randomUUID(),
    aggregateType: 'campaign',
    aggregateId,
    version: (last?.version ?? 0) + events.length,
    previousPosition: last?.position ?? 0,
    correlationId: randomUUID(),
    causationId: randomUUID(),
    actor: 'forger',
    timestamp: new Date().toISOString(),
    commandType: 'Forged',
    commandFingerprint: '0'.repeat(64),
    events: events as Commit['events'],
    prevHash: last?.hash ?? null,
  };
  const ack = await nats.nc
    .jetstream()
    .publish(
      aggregateSubject(nats.subjectPrefix, 'campaign', aggregateId),
      encodeCommit({ ...body, hash: hashCommit(body) }),
    );
  return ack.seq;
}

const created = (amount: number) => ({
  id: randomUUID(),
  type: 'CampaignCreated',
  schemaVersion: 2,
  data: { name: 'f', description: '', channels: [], budget: { amount, currency: 'EUR' }, owner: null },
});
const create = async (name: string) =>
  handler.handle({ type: 'CreateCampaign', data: { name, budget: { amount: 1, currency: 'EUR' } } }, meta());
const exists = async (id: string) =>
  ((await pgEnv.pool.query(`select 1 from "${pgEnv.schema}".campaigns where id = $1`, [id])).rowCount ?? 0) > 0;
const skip = (position: number, reason: string) =>
  handler.handle({ type: 'SkipProjectionCommit', aggregateId: 'campaigns', data: { position, reason } }, meta());
const metric = async (name: string) =>
  Number(new RegExp(`^${name}\\{projection="campaigns"[^}]*\\} (\\d+)$`, 'm').exec(await registry.metrics())?.[1]);

describe('a commit the projection cannot apply', () => {
  it('finding 1: inside one batch, the commits before it are applied and the projection waits at it', async () => {
    const before = await create('before');
    const bad = await forge(`bad-${nats.id}`, [created(1e20)]);
    const after = await create('after');
    await start(); // one batch holds all three
    await expect.poll(() => projector.stalls().map((s) => s.position), { timeout: 10_000 }).toEqual([bad]);
    expect(projector.stalls()[0]?.error).toMatch(/numeric field overflow/);
    await expect(projector.assertNotStalled()).rejects.toThrow(`campaigns stalled at position ${bad}`);
    expect(await exists(before.id)).toBe(true);
    expect(await exists(after.id)).toBe(false);
    expect(await projector.position()).toBe(bad - 1);
    expect(await metric('lightdom_projection_stuck')).toBe(bad);

    // A decision about another position changes nothing; one about this one passes it.
    await skip(before.position, 'not the stuck one');
    await new Promise((r) => setTimeout(r, 400));
    expect(await projector.position()).toBe(bad - 1);
    const decision = await skip(bad, 'forged budget');
    await projector.waitFor(decision.position);
    expect(await exists(after.id)).toBe(true);
    expect(projector.stalls()).toEqual([]);
    await expect(projector.assertNotStalled()).resolves.toBeUndefined();
    expect(await metric('lightdom_projection_stuck')).toBe(0);
    expect(await metric('lightdom_projection_skipped_commits_total')).toBe(1);
    const { rows } = await pgEnv.pool.query(`select position, reason, actor from "${pgEnv.schema}".projection_skips`);
    expect(rows).toEqual([{ position: String(bad), reason: 'forged budget', actor: 'stall-test' }]);
  });

  it('finding 1: a malformed event (null) stalls it too, and a decision for a commit that applies is not a skip', async () => {
    await start();
    const decidedAhead = (await store.headPosition()) + 1;
    // An operator decides about the next position before it exists; it applies, so it is applied.
    await skip(decidedAhead + 1, 'decided too early');
    const good = await create('applies anyway');
    expect(good.position).toBe(decidedAhead + 1);
    await projector.waitFor(good.position);
    expect(await exists(good.id)).toBe(true);

    const bad = await forge(`null-${nats.id}`, [null]);
    await expect.poll(() => projector.stalls().map((s) => s.position), { timeout: 10_000 }).toEqual([bad]);
    expect(projector.stalls()[0]?.error).toMatch(/null|undefined|Cannot read/);
    const decision = await skip(bad, 'no event in it');
    await projector.waitFor(decision.position);
    expect(await metric('lightdom_projection_skipped_commits_total')).toBe(1);
    const skips = await pgEnv.pool.query(`select position from "${pgEnv.schema}".projection_skips order by position`);
    expect(skips.rows.map((r) => Number(r.position))).toEqual([expect.any(Number), bad]);
    expect(skips.rows.map((r) => Number(r.position))).not.toContain(good.position);
  });
});
