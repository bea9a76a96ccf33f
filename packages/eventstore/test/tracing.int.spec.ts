import { randomUUID } from 'node:crypto';
import { causedBy, parseTraceparent, toRecordedEvents } from '@lightdom/domain';
import { createCommandHandler, createEventStore, type EventStore } from '@lightdom/eventstore';
import { createNatsTestEnv, type NatsTestEnv } from '@lightdom/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';

let env: NatsTestEnv;
let store: EventStore;

beforeAll(async () => {
  env = await createNatsTestEnv('trace');
  store = createEventStore({ nc: env.nc }, { stream: env.stream, subjectPrefix: env.subjectPrefix });
  await store.ensureStream();
});
afterAll(async () => env?.cleanup());

const traceparentAt = async (position: number) =>
  (await env.jsm.streams.getMessage(env.stream, { seq: position })).header.get('traceparent');

it('carries correlation, causation and the trace from a command to the commands its events cause', async () => {
  const handler = createCommandHandler({ store });
  const incoming = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  const first = await handler.handle(
    { type: 'CreateCampaign', data: { name: 'T', budget: { amount: 10, currency: 'EUR' } } },
    { actor: 'alice', correlationId: 'corr-1', causationId: 'req-1', traceparent: incoming },
  );
  expect(await traceparentAt(first.position)).toBe(incoming);

  // A process manager reacts to the event and issues the next command.
  const commit = (await store.getCommit(first.position))!;
  const [event] = toRecordedEvents(commit);
  const meta = causedBy({ commit, event: event!, traceparent: incoming }, 'executor');
  const second = await handler.handle({ type: 'LaunchCampaign', aggregateId: first.id, data: {} }, meta);

  const next = (await store.getCommit(second.position))!;
  expect(next.correlationId).toBe('corr-1');
  expect(next.causationId).toBe(event!.id);
  expect(next.actor).toBe('executor');
  const t1 = parseTraceparent(incoming)!;
  const t2 = parseTraceparent(await traceparentAt(second.position))!;
  expect(t2.traceId).toBe(t1.traceId);
  expect(t2.spanId).not.toBe(t1.spanId);
});

it('starts a trace when the caller sent none', async () => {
  const handler = createCommandHandler({ store });
  const r = await handler.handle(
    { type: 'CreateCampaign', data: { name: 'U', budget: { amount: 10, currency: 'EUR' } } },
    { actor: 'a', correlationId: randomUUID(), causationId: randomUUID() },
  );
  expect(parseTraceparent(await traceparentAt(r.position))).not.toBeNull();
});
