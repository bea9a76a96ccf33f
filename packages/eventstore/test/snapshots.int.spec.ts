import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { deciders } from '@lightdom/domain';
import {
  createAggregateRepository,
  createCommandHandler,
  createEventStore,
  createKvSnapshotStore,
  type EventStore,
} from '@lightdom/eventstore';
import { createNatsTestEnv, type NatsTestEnv } from '@lightdom/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';

let env: NatsTestEnv;
let store: EventStore;
const meta = () => ({ actor: 't', correlationId: randomUUID(), causationId: randomUUID() });

beforeAll(async () => {
  env = await createNatsTestEnv('snap');
  store = createEventStore({ nc: env.nc }, { stream: env.stream, subjectPrefix: env.subjectPrefix });
  await store.ensureStream();
});
afterAll(async () => env?.cleanup());

/** Our own store, counting how many commits each load had to read from the log. */
function countingStore(inner: EventStore) {
  const counter = { commitsRead: 0 };
  const wrapped: EventStore = {
    ...inner,
    async readAggregate(t, id, o) {
      const commits = await inner.readAggregate(t, id, o);
      counter.commitsRead += commits.length;
      return commits;
    },
  };
  return { wrapped, counter };
}

it('loads a long-lived aggregate from its snapshot plus the commits after it', async () => {
  const snapshots = await createKvSnapshotStore(env.nc.jetstream(), { bucket: `${env.kvBucket}_SNAP` });
  const writer = createCommandHandler({ store, snapshots }, { snapshotEvery: 50 });
  const c = await writer.handle(
    { type: 'CreateCampaign', data: { name: 'long', budget: { amount: 1e6, currency: 'EUR' } } },
    meta(),
  );
  await writer.handle({ type: 'LaunchCampaign', aggregateId: c.id, data: {} }, meta());
  for (let i = 0; i < 120; i++) {
    await writer.handle({ type: 'RecordCampaignMetrics', aggregateId: c.id, data: { impressions: 1 } }, meta());
  }
  await sleep(200); // snapshots are saved off the command path

  const { wrapped, counter } = countingStore(store);
  const fresh = createAggregateRepository({ store: wrapped, deciders, snapshots }, { snapshotEvery: 50 });
  const loaded = await fresh.load('campaign', c.id);
  expect(loaded.version).toBe(122);
  expect((loaded.state as { impressions: number }).impressions).toBe(120);
  // The snapshot at version 100 leaves 22 commits to read, not 122.
  expect(counter.commitsRead).toBe(22);

  const full = await createAggregateRepository({ store, deciders }).load('campaign', c.id);
  expect(loaded.state).toEqual(full.state);
  expect(loaded.hash).toBe(full.hash);

  // Warm: a cached aggregate costs no read at all.
  counter.commitsRead = 0;
  await fresh.load('campaign', c.id);
  expect(counter.commitsRead).toBe(0);
});

it('ignores a snapshot of another state shape and folds from the log', async () => {
  const snapshots = await createKvSnapshotStore(env.nc.jetstream(), { bucket: `${env.kvBucket}_SNAP2` });
  const writer = createCommandHandler({ store, snapshots }, { snapshotEvery: 2 });
  const c = await writer.handle(
    { type: 'CreateCampaign', data: { name: 'shape', budget: { amount: 10, currency: 'EUR' } } },
    meta(),
  );
  await writer.handle({ type: 'RenameCampaign', aggregateId: c.id, data: { name: 'shape2' } }, meta());
  await sleep(100);
  await snapshots.put('campaign', c.id, {
    state: { bogus: true },
    version: 2,
    position: 0,
    hash: null,
    stateVersion: 99,
  });
  const loaded = await createAggregateRepository({ store, deciders, snapshots }).load('campaign', c.id);
  expect((loaded.state as { name: string }).name).toBe('shape2');
});
