import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { upcastEvent } from '@lightdom/domain';
import {
  createCommandHandler,
  createEventStore,
  createKvIdempotencyStore,
  type EventStore,
} from '@lightdom/eventstore';
import { createNatsTestEnv, type NatsTestEnv } from '@lightdom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let env: NatsTestEnv;
let store: EventStore;
const meta = () => ({ actor: 'tester', correlationId: randomUUID(), causationId: randomUUID() });
const createBody = { type: 'CreateCampaign', data: { name: 'Spring', budget: { amount: 100, currency: 'EUR' } } };

beforeAll(async () => {
  env = await createNatsTestEnv('guarantees');
  // A one-second duplicate window, so a test can outlive it.
  store = createEventStore(
    { nc: env.nc },
    { stream: env.stream, subjectPrefix: env.subjectPrefix, duplicateWindowMs: 1000, upcast: upcastEvent },
  );
  await store.ensureStream();
});
afterAll(async () => env?.cleanup());

describe('idempotency beyond the JetStream duplicate window', () => {
  it('returns the first result and appends nothing when retried after the window', async () => {
    const idempotency = await createKvIdempotencyStore(env.nc.jetstream(), { bucket: env.kvBucket, ttlMs: 60_000 });
    const handler = createCommandHandler({ store, idempotency });
    const key = randomUUID();
    const first = await handler.handle({ ...createBody, idempotencyKey: key }, meta());
    await sleep(1500);
    const head = await store.headPosition();
    const retry = await handler.handle({ ...createBody, idempotencyKey: key }, meta());
    expect(retry).toMatchObject({ id: first.id, version: first.version, position: first.position, duplicate: true });
    expect(await store.headPosition()).toBe(head);
    // A fresh handler (another instance, or a restart) remembers it too: the memory is in NATS KV.
    const other = createCommandHandler({ store, idempotency });
    expect((await other.handle({ ...createBody, idempotencyKey: key }, meta())).position).toBe(first.position);
    await expect(
      other.handle({ ...createBody, data: { ...createBody.data, name: 'Other' }, idempotencyKey: key }, meta()),
    ).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
  });

  it('would have appended twice on JetStream dedupe alone (why the KV memory exists)', async () => {
    const bare = createCommandHandler({ store });
    const key = randomUUID();
    const first = await bare.handle({ ...createBody, idempotencyKey: key }, meta());
    await sleep(1500);
    const second = await bare.handle({ ...createBody, idempotencyKey: key }, meta());
    expect(second.position).not.toBe(first.position);
  });
});

describe('a retry whose first result was never remembered', () => {
  it('answers with the commit in the log instead of a refusal', async () => {
    const handler = createCommandHandler({ store });
    const c = await handler.handle(createBody, meta());
    await handler.handle({ type: 'LaunchCampaign', aggregateId: c.id, data: {} }, meta());
    const key = randomUUID();
    const pause = { type: 'PauseCampaign', aggregateId: c.id, idempotencyKey: key, data: {} };
    const first = await handler.handle(pause, meta());
    await sleep(1500); // past the duplicate window, and no KV memory (this handler has none)
    const head = await store.headPosition();
    const retry = await createCommandHandler({ store }).handle(pause, meta());
    expect(retry).toMatchObject({ position: first.position, version: first.version, duplicate: true });
    expect(await store.headPosition()).toBe(head);
    // Without the key, the same command is an honest refusal.
    await expect(handler.handle({ ...pause, idempotencyKey: undefined }, meta())).rejects.toMatchObject({
      code: 'INVALID_TRANSITION',
    });
  });
});

describe('concurrency', () => {
  it('lands 50 concurrent budget changes on one campaign with consecutive versions', async () => {
    const handlers = [
      createCommandHandler({ store }),
      createCommandHandler({ store }),
      createCommandHandler({ store }),
    ];
    const c = await handlers[0]!.handle(createBody, meta());
    const amounts = Array.from({ length: 50 }, (_, i) => 1000 + i);
    const results = await Promise.all(
      amounts.map((amount, i) =>
        handlers[i % 3]!.handle(
          { type: 'ChangeCampaignBudget', aggregateId: c.id, data: { budget: { amount, currency: 'EUR' } } },
          meta(),
        ),
      ),
    );
    expect(results.map((r) => r.version).sort((a, b) => a - b)).toEqual(amounts.map((_, i) => i + 2));
    const commits = await store.readAggregate('campaign', c.id);
    expect(commits.map((x) => x.version)).toEqual(Array.from({ length: 51 }, (_, i) => i + 1));
    const applied = commits.slice(1).map((x) => (x.events[0]!.data as { budget: { amount: number } }).budget.amount);
    expect([...applied].sort((a, b) => a - b)).toEqual(amounts);
  });
});

describe('schema evolution', () => {
  it('reads a stored v1 CampaignCreated as v2 and keeps deciding on it', async () => {
    const id = randomUUID();
    await store.append({
      aggregateType: 'campaign',
      aggregateId: id,
      expectedPosition: 0,
      expectedVersion: 0,
      prevHash: null,
      events: [{ type: 'CampaignCreated', schemaVersion: 1, data: { name: 'Legacy', budget: 250, currency: 'USD' } }],
      metadata: {
        correlationId: 'c',
        causationId: 'c',
        actor: 'migration',
        timestamp: new Date().toISOString(),
        commandType: 'CreateCampaign',
        commandFingerprint: 'legacy',
      },
    });
    const [commit] = await store.readAggregate('campaign', id);
    expect(commit?.events[0]).toMatchObject({
      schemaVersion: 2,
      data: { name: 'Legacy', budget: { amount: 250, currency: 'USD' }, channels: [], description: '', owner: null },
    });
    const raw = createEventStore({ nc: env.nc }, { stream: env.stream, subjectPrefix: env.subjectPrefix });
    expect((await raw.readAggregate('campaign', id))[0]?.events[0]?.schemaVersion).toBe(1);
    const handler = createCommandHandler({ store });
    const r = await handler.handle(
      { type: 'ChangeCampaignBudget', aggregateId: id, data: { budget: { amount: 300, currency: 'USD' } } },
      meta(),
    );
    expect(r.version).toBe(2);
  });
});
