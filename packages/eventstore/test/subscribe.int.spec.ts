import { randomUUID } from 'node:crypto';
import type { StoredCommit } from '@lightdom/domain';
import { type CommandHandler, createCommandHandler, createEventStore, type EventStore } from '@lightdom/eventstore';
import { createNatsTestEnv, type NatsTestEnv } from '@lightdom/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';

let env: NatsTestEnv;
let store: EventStore;
let handler: CommandHandler;
const meta = () => ({ actor: 't', correlationId: randomUUID(), causationId: randomUUID() });
const create = (name: string) =>
  handler.handle({ type: 'CreateCampaign', data: { name, budget: { amount: 10, currency: 'EUR' } } }, meta());

beforeAll(async () => {
  env = await createNatsTestEnv('sub');
  store = createEventStore({ nc: env.nc }, { stream: env.stream, subjectPrefix: env.subjectPrefix });
  await store.ensureStream();
  handler = createCommandHandler({ store });
});
afterAll(async () => env?.cleanup());

async function take(sub: AsyncIterable<StoredCommit>, n: number): Promise<StoredCommit[]> {
  const out: StoredCommit[] = [];
  for await (const c of sub) {
    out.push(c);
    if (out.length === n) break;
  }
  return out;
}

it('replays history after a position, then follows live commits, and resumes without gap or duplicate', async () => {
  const a = await create('a');
  const b = await create('b');
  const sub = await store.subscribe({ after: a.position - 1 });
  const firstTwo = await take(sub, 2);
  expect(firstTwo.map((c) => c.position)).toEqual([a.position, b.position]);
  const c = await create('c');
  const [live] = await take(sub, 1);
  expect(live?.position).toBe(c.position);
  sub.stop();

  const d = await create('d');
  const resumed = await store.subscribe({ after: b.position });
  expect((await take(resumed, 2)).map((x) => x.position)).toEqual([c.position, d.position]);
  resumed.stop();
});

it('filters by aggregate, and starts at the head by default', async () => {
  const x = await create('x');
  const live = await store.subscribe({ aggregateType: 'campaign', aggregateId: x.id });
  await create('other');
  await handler.handle({ type: 'LaunchCampaign', aggregateId: x.id, data: {} }, meta());
  const [next] = await take(live, 1);
  expect(next).toMatchObject({ aggregateId: x.id, version: 2 });
  live.stop();
});
