import { type ClientReadableStream, type ServiceError, status as Status } from '@grpc/grpc-js';
import {
  type AmqpServer,
  buildApp,
  createAmqpServer,
  createCampaignQueries,
  createFeedHub,
  createGrpcServer,
  createLightdomClients,
  createPositionWaiter,
  type FeedHub,
  type LightdomClients,
  lightdomErrorOf,
} from '@lightdom/command-api';
import { type RecordedEvent, toRecordedEvents } from '@lightdom/domain';
import {
  createCommandHandler,
  createEventStore,
  createKvIdempotencyStore,
  type EventStore,
} from '@lightdom/eventstore';
import { createLogger, createMetricsRegistry, createTokenRegistry, tokenRegistryFrom } from '@lightdom/runtime';
import { createNatsTestEnv, createPgTestEnv, type NatsTestEnv, type PgTestEnv } from '@lightdom/testkit';
import amqp from 'amqplib';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCampaign, wsClient } from './feed.clients.js';

/**
 * Finding 6: every subscription used to create a JetStream consumer that lingered five
 * minutes. Now one feed hub per process follows the log; catching-up subscribers add at
 * most `maxConcurrentReads` short-lived consumers. So the consumers on the stream stay
 * under this bound however many clients come and go.
 */
const maxConcurrentReads = 2;
const consumerBound = 1 + maxConcurrentReads + 1; // the hub, the reads, one delete in flight
const perSocket = 8;
const perProcess = 24;

const logger = createLogger('feed-hostile', { level: 'silent' });
let nats: NatsTestEnv;
let pgEnv: PgTestEnv;
let store: EventStore;
let feed: FeedHub;
let app: FastifyInstance;
let grpc: ReturnType<typeof createGrpcServer>;
let clients: LightdomClients;
let url: string;
let closePositions: () => Promise<void>;
let gateway: AmqpServer | undefined;

beforeAll(async () => {
  [nats, pgEnv] = await Promise.all([createNatsTestEnv('feedsubs'), createPgTestEnv('feedsubs')]);
  store = createEventStore(
    { nc: nats.nc, logger },
    { stream: nats.stream, subjectPrefix: nats.subjectPrefix, publishTimeoutMs: 1000, readTimeoutMs: 1500 },
  );
  await store.ensureStream();
  const idempotency = await createKvIdempotencyStore(nats.nc.jetstream(), { bucket: nats.kvBucket, ttlMs: 60_000 });
  const positions = createPositionWaiter({
    pool: pgEnv.pool,
    databaseUrl: pgEnv.databaseUrl,
    schema: pgEnv.schema,
    logger,
  });
  closePositions = () => positions.close();
  feed = createFeedHub(
    { store, logger },
    {
      maxSubscriptions: perProcess,
      maxConcurrentReads,
      readPageCommits: 50,
      // Small, so the tests below cross the history/live boundary and overflow a slow queue.
      queueCommits: 4,
      replayCommits: 4,
      idleStopMs: 300,
    },
  );
  const deps = {
    commands: createCommandHandler({ store, idempotency, logger }),
    store,
    feed,
    campaigns: createCampaignQueries(pgEnv.pool, pgEnv.schema),
    positions,
    registry: createMetricsRegistry('command-api'),
    logger,
    checks: {},
  };
  app = buildApp(deps, {
    tokens: tokenRegistryFrom({ API_TOKENS: 'tok:dash:operator', AUTH: 'on' }),
    maxSubscriptionsPerSocket: perSocket,
  });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  url = `${address.replace('http', 'ws')}/ws?token=tok`;
  grpc = createGrpcServer(deps, {
    host: '127.0.0.1',
    tokens: createTokenRegistry([{ token: 'tok', identity: { actor: 'svc', role: 'admin' } }]),
  });
  clients = createLightdomClients(`127.0.0.1:${await grpc.start(0)}`, { token: 'tok' });
});

afterAll(async () => {
  await gateway?.stop();
  await nats?.jsm.streams.delete(`${nats.stream}_AMQP`).catch(() => undefined);
  clients?.close();
  await grpc?.stop();
  await app?.close();
  await feed?.stop();
  await closePositions?.();
  await Promise.all([nats?.cleanup(), pgEnv?.cleanup()]);
});

const consumerCount = async () => (await nats.jsm.streams.info(nats.stream)).state.consumer_count;

async function appendCampaigns(n: number, label: string) {
  const c = await wsClient(url);
  const out = [];
  for (let i = 0; i < n; i++) out.push(await c.command(`${label}${i}`, createCampaign(`${label}-${i}`)));
  c.ws.close();
  return out;
}

function grpcSubscribe(req: Record<string, unknown>) {
  const stream = (clients.events.Subscribe as (r: unknown) => ClientReadableStream<RecordedEvent>)(req);
  const events: RecordedEvent[] = [];
  stream.on('data', (e: RecordedEvent) => events.push(e));
  const ended = new Promise<ServiceError>((resolve) => stream.on('error', resolve));
  const headers = new Promise<unknown>((resolve, reject) => {
    stream.once('metadata', resolve);
    stream.once('error', reject);
  });
  headers.catch(() => undefined); // a refused call never sends headers; tests await `ended` then
  return { stream, events, ended, headers };
}

describe('finding 6: subscriptions share the log', () => {
  it('finding 6: 2,000 subscribe/unsubscribe cycles on one WebSocket keep at most 4 consumers on the stream', async () => {
    const history = await appendCampaigns(12, 'hist');
    const c = await wsClient(url);
    let peak = 0;
    const started = Date.now();
    // Eight subscriptions at a time (the socket's cap); every third starts in the history
    // (a read through a short-lived consumer), the rest at the head (served by the hub).
    for (let round = 0; round < 250; round++) {
      const ids = Array.from({ length: perSocket }, (_, i) => `r${round}-${i}`);
      ids.forEach((id, i) => {
        const after = i % 3 === 0 ? { after: history[i]!.position - 1 } : {};
        c.send({ op: 'subscribe', id, ...after, filter: { aggregateType: 'campaign' } });
      });
      for (const id of ids) await c.next((f) => f.op === 'subscribed' && f.id === id);
      for (const id of ids) c.send({ op: 'unsubscribe', id });
      for (const id of ids) await c.next((f) => f.op === 'unsubscribed' && f.id === id);
      if (round % 25 === 0) peak = Math.max(peak, await consumerCount());
    }
    peak = Math.max(peak, await consumerCount());
    const ms = Date.now() - started;
    expect(c.frames.filter((f) => f.op === 'error')).toEqual([]);
    expect(peak).toBeLessThanOrEqual(consumerBound);
    // The socket still works: a live subscription gets a new event.
    c.send({ op: 'subscribe', id: 'after-cycles', filter: { aggregateType: 'campaign' } });
    await c.next((f) => f.op === 'subscribed' && f.id === 'after-cycles');
    const made = await c.command('live', createCampaign('after-cycles'));
    const [live] = await c.events(1, 'after-cycles');
    expect(live).toMatchObject({ position: made.position, type: 'CampaignCreated' });
    c.ws.close();
    // With no subscriber left, the hub deletes its consumer after idleStopMs.
    await expect.poll(consumerCount, { timeout: 5000 }).toBe(0);
    expect(feed.stats()).toMatchObject({ subscriptions: 0, live: 0, reads: 0, following: false });
    console.info(`finding 6: 2,000 WebSocket cycles in ${ms} ms; peak consumers on the stream ${peak}`);
  });

  it('finding 6: 300 gRPC Subscribe/cancel cycles keep at most 4 consumers on the stream', async () => {
    const [first] = await appendCampaigns(2, 'grpc');
    let peak = 0;
    for (let round = 0; round < 30; round++) {
      const subs = Array.from({ length: 10 }, (_, i) =>
        grpcSubscribe(i % 3 === 0 ? { after: first!.position - 1, aggregateType: 'campaign' } : {}),
      );
      await Promise.all(subs.map((s) => s.headers));
      for (const s of subs) s.stream.cancel();
      const codes = await Promise.all(subs.map((s) => s.ended.then((e) => e.code)));
      expect(new Set(codes)).toEqual(new Set([Status.CANCELLED]));
      if (round % 5 === 0) peak = Math.max(peak, await consumerCount());
    }
    expect(peak).toBeLessThanOrEqual(consumerBound);
    await expect.poll(() => feed.stats().subscriptions).toBe(0);
    await expect.poll(consumerCount, { timeout: 5000 }).toBe(0);
  });

  it('finding 6: the per-socket and per-process caps are refused with LIMIT_EXCEEDED, and freed slots serve again', async () => {
    const a = await wsClient(url);
    for (let i = 0; i < perSocket + 2; i++) a.send({ op: 'subscribe', id: `a${i}` });
    const answers = [];
    for (let i = 0; i < perSocket + 2; i++)
      answers.push(await a.next((f) => f.op === 'subscribed' || f.op === 'error'));
    expect(answers.filter((f) => f.op === 'subscribed')).toHaveLength(perSocket);
    const refused = answers.filter((f) => f.op === 'error');
    expect(refused.map((f) => f.error?.code)).toEqual(['LIMIT_EXCEEDED', 'LIMIT_EXCEEDED']);
    expect(refused[0]?.error?.message).toContain(`At most ${perSocket} subscriptions per socket`);

    // Two more full sockets reach the per-process cap (24); the next subscription is refused.
    const b = await wsClient(url);
    const c = await wsClient(url);
    for (const [s, name] of [
      [b, 'b'],
      [c, 'c'],
    ] as const) {
      for (let i = 0; i < perSocket; i++) s.send({ op: 'subscribe', id: `${name}${i}` });
      for (let i = 0; i < perSocket; i++) await s.next((f) => f.op === 'subscribed' && f.id === `${name}${i}`);
    }
    expect(feed.stats().subscriptions).toBe(perProcess);
    const d = await wsClient(url);
    d.send({ op: 'subscribe', id: 'd0' });
    const full = await d.next((f) => f.id === 'd0');
    expect(full).toMatchObject({ op: 'error', error: { code: 'LIMIT_EXCEEDED', retryable: true } });
    expect(full.error?.message).toContain(`At most ${perProcess} subscriptions per server`);
    const g = grpcSubscribe({});
    const err = await g.ended;
    expect(err.code).toBe(Status.RESOURCE_EXHAUSTED);
    expect(lightdomErrorOf(err)).toMatchObject({ code: 'LIMIT_EXCEEDED', retryable: true });
    expect(await consumerCount()).toBeLessThanOrEqual(consumerBound);

    // A socket that leaves frees its slots: the refused client subscribes now.
    c.ws.close();
    await expect.poll(() => feed.stats().subscriptions).toBe(perProcess - perSocket);
    d.send({ op: 'subscribe', id: 'd1' });
    expect(await d.next((f) => f.id === 'd1')).toMatchObject({ op: 'subscribed' });
    for (const s of [a, b, d]) s.ws.close();
    await expect.poll(() => feed.stats().subscriptions).toBe(0);
  });

  it('finding 6: resuming after a reconnect through history, ring and live is gap-free inside a multi-event commit', async () => {
    const w = await wsClient(url);
    const created = await w.command('mk', createCampaign('resume', 10));
    await w.command('launch', { type: 'LaunchCampaign', aggregateId: created.id, data: {} });
    // Spending the whole budget: one commit with three events.
    const metrics = await w.command('spend', {
      type: 'RecordCampaignMetrics',
      aggregateId: created.id,
      data: { spend: 10 },
    });
    expect(metrics.events).toHaveLength(3);
    // More commits than the hub's ring keeps, so a resume from here must read history.
    await appendCampaigns(6, 'filler');

    const first = await wsClient(url);
    first.send({ op: 'subscribe', id: 's', after: created.position - 1 });
    const seen = await first.events(3); // Created, Launched, the first event of the metrics commit
    first.ws.terminate();
    const last = seen.at(-1)!;
    expect(last).toMatchObject({ position: metrics.position, index: 0 });

    const second = await wsClient(url);
    second.send({ op: 'subscribe', id: 's', after: last.position, afterIndex: last.index });
    await second.next((f) => f.op === 'subscribed');
    // Live commits appended while it catches up must follow without gap or duplicate too.
    const liveOnes = [];
    for (let i = 0; i < 3; i++) liveOnes.push(await w.command(`live${i}`, createCampaign(`live-${i}`)));
    const expected = (await store.readAll({ after: created.position - 1, limit: 1000 })).flatMap(toRecordedEvents);
    const rest = await second.events(expected.length - seen.length);
    const all = [...seen, ...rest];
    expect(all.map((e) => [e.position, e.index])).toEqual(expected.map((e) => [e.position, e.index]));
    expect(all.at(-1)?.position).toBe(liveOnes.at(-1)?.position);
    await expect(second.next((f) => f.op === 'event', 300)).rejects.toThrow('no matching frame');
    for (const s of [w, second]) s.ws.close();
  });

  it('finding 6: a subscriber slower than the log gets every event in order while its queue stays bounded', async () => {
    const sub = await feed.subscribe({ aggregateType: 'campaign' });
    const it = sub[Symbol.asyncIterator]();
    const firstP = it.next();
    await expect.poll(() => feed.stats().live).toBe(1); // at the head: attached to the fan-out
    const [first] = await appendCampaigns(1, 'slow-first');
    expect((await firstP).value).toMatchObject({ position: first!.position });
    // 15 commits while it reads nothing: past queueCommits (4) the hub lets go of it.
    const made = await appendCampaigns(15, 'slow');
    expect(feed.stats()).toMatchObject({ subscriptions: 1, live: 0 });
    const got: RecordedEvent[] = [];
    while (got.length < made.length) got.push((await it.next()).value as RecordedEvent);
    // It read the missed commits from history and joined the fan-out again.
    expect(got.map((e) => e.position)).toEqual(made.map((m) => m.position));
    const more = it.next();
    await expect.poll(() => feed.stats().live).toBe(1);
    sub.stop();
    expect(await more).toEqual({ done: true, value: undefined });
    await expect.poll(consumerCount, { timeout: 5000 }).toBe(0);
  });
});

describe('finding 8: subscription positions', () => {
  it('finding 8: a WebSocket subscribe with after 1e300 is answered at once with an error naming after', async () => {
    const c = await wsClient(url);
    c.send({ op: 'subscribe', id: 'far', after: 1e300 });
    const answer = await c.next((f) => f.id === 'far', 2000);
    expect(answer).toMatchObject({ op: 'error', error: { code: 'VALIDATION_FAILED' } });
    expect(answer.error?.errors?.map((e) => e.field)).toEqual(['after']);
    await expect(feed.subscribe({}, { after: 2 ** 53 })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      issues: [{ field: 'after' }],
    });
    expect(feed.stats().subscriptions).toBe(0);
    // Still serving on the same socket.
    c.send({ op: 'subscribe', id: 'near', after: 0 });
    expect(await c.next((f) => f.id === 'near')).toMatchObject({ op: 'subscribed', after: 0 });
    c.ws.close();
  });
});

describe('finding 6: AMQP lightdom.events', () => {
  it('finding 6: 20 AMQP connections bound to lightdom.events share one consumer, deleted when the gateway stops', async () => {
    // The earlier tests' hub has let go of the log (it may still have been opening its consumer).
    await expect.poll(() => feed.stats(), { timeout: 5000 }).toMatchObject({ subscriptions: 0, following: false });
    await expect.poll(consumerCount, { timeout: 5000 }).toBe(0);
    gateway = createAmqpServer(
      { nc: nats.nc, commands: createCommandHandler({ store, logger }), store, logger },
      {
        host: '127.0.0.1',
        // The guest/guest login of these tests (a reader: queues and events, no commands).
        allowGuest: true,
        stream: `${nats.stream}_AMQP`,
        subjectPrefix: `${nats.subjectPrefix}_amqp`,
        topologyBucket: `${nats.kvBucket}_AMQP`,
      },
    );
    const amqpPort = await gateway.start(0);
    const conns = await Promise.all(
      Array.from({ length: 20 }, () => amqp.connect(`amqp://guest:guest@127.0.0.1:${amqpPort}`)),
    );
    const received: Promise<string>[] = [];
    for (const conn of conns) {
      const ch = await conn.createChannel();
      const { queue } = await ch.assertQueue('', { exclusive: true });
      await ch.bindQueue(queue, 'lightdom.events', 'campaign.#');
      received.push(
        new Promise((resolve) => {
          ch.consume(queue, (m) => m && resolve(m.content.toString()), { noAck: true });
        }),
      );
    }
    expect(await consumerCount()).toBe(1);
    const [made] = await appendCampaigns(1, 'amqp');
    const bodies = (await Promise.all(received)).map((b) => JSON.parse(b) as RecordedEvent);
    expect(bodies.map((e) => e.position)).toEqual(Array(20).fill(made!.position));
    expect(await consumerCount()).toBe(1);
    for (const conn of conns) await conn.close();
    await gateway.stop();
    gateway = undefined;
    // Deleted at once on stop (an ordered consumer used to linger five minutes).
    await expect.poll(consumerCount, { timeout: 2000 }).toBe(0);
  });
});
