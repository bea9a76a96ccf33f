import { randomUUID } from 'node:crypto';
import { LightdomError } from '@lightdom/domain';
import {
  type CommandHandler,
  createCommandHandler,
  createEventStore,
  createKvIdempotencyStore,
  type EventStore,
  hashCommit,
} from '@lightdom/eventstore';
import { createNatsTestEnv, type NatsTestEnv } from '@lightdom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let env: NatsTestEnv;
let store: EventStore;
let handler: CommandHandler;
const meta = () => ({ actor: 'tester', correlationId: randomUUID(), causationId: randomUUID() });
const createBody = (name = 'Spring') => ({
  type: 'CreateCampaign',
  data: { name, budget: { amount: 100, currency: 'EUR' } },
});

beforeAll(async () => {
  env = await createNatsTestEnv('store');
  store = createEventStore({ nc: env.nc }, { stream: env.stream, subjectPrefix: env.subjectPrefix });
  await store.ensureStream();
  const idempotency = await createKvIdempotencyStore(env.nc.jetstream(), { bucket: env.kvBucket, ttlMs: 60_000 });
  handler = createCommandHandler({ store, idempotency });
});
afterAll(async () => env?.cleanup());

const appendInput = (id: string, expectedPosition: number, expectedVersion = 0) => ({
  aggregateType: 'campaign',
  aggregateId: id,
  expectedPosition,
  expectedVersion,
  prevHash: null,
  events: [{ type: 'CampaignRenamed', schemaVersion: 1, data: { name: 'x', previousName: 'y' } }],
  metadata: {
    correlationId: 'c',
    causationId: 'c',
    actor: 'a',
    timestamp: new Date().toISOString(),
    commandType: 'RenameCampaign',
    commandFingerprint: 'f',
  },
});

describe('event stream', () => {
  it('is created to keep history forever and refuses delete and purge', async () => {
    const info = await env.jsm.streams.info(env.stream);
    expect(info.config).toMatchObject({ deny_delete: true, deny_purge: true, max_age: 0, max_bytes: -1, max_msgs: -1 });
    expect(info.config.storage).toBe('file');
    await handler.handle(createBody(), meta());
    const before = (await env.jsm.streams.info(env.stream)).state;
    expect(before.messages).toBeGreaterThan(0);
    await expect(env.jsm.streams.deleteMessage(env.stream, before.first_seq)).rejects.toThrow();
    await expect(env.jsm.streams.purge(env.stream)).rejects.toThrow();
    const after = (await env.jsm.streams.info(env.stream)).state;
    expect(after.messages).toBe(before.messages);
    expect(after.first_seq).toBe(before.first_seq);
  });

  it('refuses to run on a stream that could lose events', async () => {
    const name = `${env.stream}_LOSSY`;
    await env.jsm.streams.add({ name, subjects: [`${env.subjectPrefix}_lossy.>`], max_age: 60e9 });
    try {
      const lossy = createEventStore({ nc: env.nc }, { stream: name, subjectPrefix: `${env.subjectPrefix}_lossy` });
      await expect(lossy.ensureStream()).rejects.toMatchObject({ code: 'INTEGRITY_VIOLATION' });
    } finally {
      await env.jsm.streams.delete(name);
    }
  });
});

describe('append', () => {
  it('lets exactly one of many concurrent appends with the same expected version win', async () => {
    const id = randomUUID();
    const first = await store.append(appendInput(id, 0));
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, () => store.append(appendInput(id, first.commit.position, 1))),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(19);
    for (const r of lost) expect((r.reason as LightdomError).code).toBe('CONCURRENCY_CONFLICT');
    expect(await store.readAggregate('campaign', id)).toHaveLength(2);
  });

  it('rejects a create on an aggregate that exists (expected position 0)', async () => {
    const id = randomUUID();
    await store.append(appendInput(id, 0));
    await expect(store.append(appendInput(id, 0))).rejects.toMatchObject({ code: 'CONCURRENCY_CONFLICT' });
  });

  it('writes the hash of every commit and links it to the previous one', async () => {
    const r = await handler.handle(createBody(), meta());
    await handler.handle({ type: 'RenameCampaign', aggregateId: r.id, data: { name: 'B' } }, meta());
    const [c1, c2] = await store.readAggregate('campaign', r.id);
    expect(c1?.hash).toBe(hashCommit(c1!));
    expect(c2?.prevHash).toBe(c1?.hash);
    expect(c2?.previousPosition).toBe(c1?.position);
  });
});

describe('command handler', () => {
  it('answers the same idempotency key twice with one commit and the first result', async () => {
    const key = randomUUID();
    const head = await store.headPosition();
    const first = await handler.handle({ ...createBody(), idempotencyKey: key }, meta());
    const second = await handler.handle({ ...createBody(), idempotencyKey: key }, meta());
    expect(second).toMatchObject({ id: first.id, version: first.version, position: first.position, duplicate: true });
    expect(await store.headPosition()).toBe(head + 1);
  });

  it('dedupes through JetStream even when the remembered result is missing', async () => {
    const key = randomUUID();
    const bare = createCommandHandler({ store });
    const head = await store.headPosition();
    const first = await bare.handle({ ...createBody(), idempotencyKey: key }, meta());
    const second = await bare.handle({ ...createBody(), idempotencyKey: key }, meta());
    expect(second).toMatchObject({ id: first.id, position: first.position, duplicate: true });
    expect(await store.headPosition()).toBe(head + 1);
  });

  it('rejects a reused idempotency key on a different command', async () => {
    const key = randomUUID();
    await handler.handle({ ...createBody('A'), idempotencyKey: key }, meta());
    await expect(handler.handle({ ...createBody('B'), idempotencyKey: key }, meta())).rejects.toMatchObject({
      code: 'IDEMPOTENCY_KEY_REUSED',
    });
  });

  it('stores a multi-event command as one message', async () => {
    const c = await handler.handle(createBody(), meta());
    await handler.handle({ type: 'LaunchCampaign', aggregateId: c.id, data: {} }, meta());
    const head = await store.headPosition();
    const r = await handler.handle(
      { type: 'RecordCampaignMetrics', aggregateId: c.id, data: { spend: 100, impressions: 5 } },
      meta(),
    );
    expect(r.events).toEqual(['CampaignMetricsRecorded', 'CampaignBudgetExhausted', 'CampaignPaused']);
    expect(r.position).toBe(head + 1);
    expect(await store.headPosition()).toBe(head + 1);
    const commit = await store.getCommit(r.position);
    expect(commit?.events.map((e) => e.type)).toEqual(r.events);
    expect(commit?.version).toBe(5);
  });

  it('refuses a second create on a client-chosen id, even when deciding without a read', async () => {
    const id = randomUUID();
    const head = await store.headPosition();
    await handler.handle({ ...createBody('first'), aggregateId: id }, meta());
    const fresh = createCommandHandler({ store });
    await expect(fresh.handle({ ...createBody('second'), aggregateId: id }, meta())).rejects.toMatchObject({
      code: 'ALREADY_EXISTS',
    });
    expect(await store.headPosition()).toBe(head + 1);
  });

  it('reports a version mismatch without appending', async () => {
    const c = await handler.handle(createBody(), meta());
    const head = await store.headPosition();
    await expect(
      handler.handle({ type: 'RenameCampaign', aggregateId: c.id, expectedVersion: 7, data: { name: 'N' } }, meta()),
    ).rejects.toMatchObject({ code: 'VERSION_MISMATCH', details: { currentVersion: 1 } });
    expect(await store.headPosition()).toBe(head);
  });

  it('retries conflicts so that concurrent changes from two handlers all land', async () => {
    const a = createCommandHandler({ store });
    const b = createCommandHandler({ store });
    const c = await a.handle(createBody(), meta());
    await b.handle({ type: 'RenameCampaign', aggregateId: c.id, data: { name: 'warm b cache' } }, meta());
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? a : b).handle(
          { type: 'ChangeCampaignBudget', aggregateId: c.id, data: { budget: { amount: 200 + i, currency: 'EUR' } } },
          meta(),
        ),
      ),
    );
    expect(results.map((r) => r.version).sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 3));
    const commits = await store.readAggregate('campaign', c.id);
    expect(commits).toHaveLength(22);
  });

  it('validates before it touches the log and names the field', async () => {
    const head = await store.headPosition();
    const bad = [
      { type: 'Nope', data: {} },
      { type: 'CreateCampaign', data: { budget: { amount: 1, currency: 'EUR' } } },
      { type: 'CreateCampaign', data: { name: 'x', budget: { amount: 'ten', currency: 'EUR' } } },
      { type: 'LaunchCampaign', data: {} },
    ];
    const fields: string[][] = [];
    for (const body of bad) {
      const err = await handler.handle(body, meta()).then(
        () => null,
        (e: LightdomError) => e,
      );
      expect(err).toBeInstanceOf(LightdomError);
      fields.push((err?.issues ?? []).map((i) => i.field));
    }
    expect(fields).toEqual([['type'], ['data.name'], ['data.budget.amount'], ['aggregateId']]);
    await expect(
      handler.handle({ type: 'LaunchCampaign', aggregateId: randomUUID(), data: {} }, meta()),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await store.headPosition()).toBe(head);
  });
});

describe('reads', () => {
  it('reads all commits after a position, filtered by aggregate type, in order', async () => {
    const head = await store.headPosition();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await handler.handle(createBody(`n${i}`), meta())).id);
    const page = await store.readAll({ after: head, limit: 3 });
    expect(page.map((c) => c.aggregateId)).toEqual(ids.slice(0, 3));
    const rest = await store.readAll({ after: page[2]!.position, limit: 100, aggregateType: 'campaign' });
    expect(rest.map((c) => c.aggregateId)).toEqual(ids.slice(3));
    expect(await store.readAll({ after: rest[1]!.position })).toEqual([]);
    expect(await store.readAll({ after: head, aggregateType: 'workflow' })).toEqual([]);
  });
});

describe('subject safety', () => {
  it('never lets an id with wildcards or dots address other aggregates', async () => {
    await handler.handle(createBody('victim'), meta());
    for (const id of ['*', '>', 'a.b', 'a.>']) {
      expect(await store.readAggregate('campaign', id)).toEqual([]);
      expect(await store.lastCommit('campaign', id)).toBeNull();
    }
    await expect(store.subscribe({ aggregateType: 'campaign', aggregateId: '*' })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
  });
});
