import { randomUUID } from 'node:crypto';
import { upcastEvent } from '@lightdom/domain';
import { createCommandHandler, createEventStore, type EventStore } from '@lightdom/eventstore';
import { createLogger } from '@lightdom/runtime';
import { createNatsTestEnv, type NatsTestEnv } from '@lightdom/testkit';
import amqp, { type Channel, type ChannelModel, type ConsumeMessage, type GetMessage } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AmqpServer, createAmqpServer } from '../src/index.js';

/**
 * The same scenarios against the gateway and against the real RabbitMQ on 5672: what a
 * RabbitMQ client sees (deliveries, flags, reply codes and texts) must be the same.
 */
const rabbitUrl = process.env.TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const logger = createLogger('amqp-compat-test', { level: 'silent' });
let nats: NatsTestEnv;
let store: EventStore;
let server: AmqpServer;
let gatewayUrl: string;

beforeAll(async () => {
  nats = await createNatsTestEnv('amqpcompat');
  store = createEventStore(
    { nc: nats.nc, logger },
    { stream: nats.stream, subjectPrefix: nats.subjectPrefix, publishTimeoutMs: 1000, upcast: upcastEvent },
  );
  await store.ensureStream();
  server = createAmqpServer(
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
  gatewayUrl = `amqp://guest:guest@127.0.0.1:${await server.start(0)}`;
});

afterAll(async () => {
  await server?.stop();
  await nats?.jsm.streams.delete(`${nats.stream}_AMQP`).catch(() => undefined);
  await nats?.cleanup();
});

/** Resolves with the next `n` messages a consumer receives. */
function collect(ch: Channel, queue: string, n: number, opts: { noAck?: boolean } = {}) {
  return new Promise<ConsumeMessage[]>((resolve) => {
    const got: ConsumeMessage[] = [];
    ch.consume(
      queue,
      (m) => {
        if (!m) return;
        got.push(m);
        if (got.length === n) resolve(got);
      },
      { noAck: opts.noAck ?? false },
    );
  });
}

const closed = (ch: Channel) =>
  new Promise<Error>((resolve) => {
    ch.once('error', (err: Error) => resolve(err));
  });

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A basic.get result that must be a message. */
function must(m: GetMessage | false): GetMessage {
  if (!m) throw new Error('basic.get returned get-empty');
  return m;
}

describe.each([
  ['gateway', () => gatewayUrl],
  ['RabbitMQ', () => rabbitUrl],
])('AMQP behaviour against %s', (_name, url) => {
  let conn: ChannelModel;
  const q = () => `compat-${randomUUID()}`;

  beforeAll(async () => {
    conn = await amqp.connect(url());
  });
  afterAll(async () => {
    await conn?.close().catch(() => undefined);
  });

  it('declares a queue, publishes, consumes and acks', async () => {
    const ch = await conn.createChannel();
    const name = q();
    const ok = await ch.assertQueue(name, { durable: true });
    expect(ok).toEqual({ queue: name, messageCount: 0, consumerCount: 0 });
    ch.sendToQueue(name, Buffer.from('hello'), { contentType: 'text/plain', headers: { n: 1 }, messageId: 'm1' });
    const [m] = await collect(ch, name, 1);
    expect(m!.content.toString()).toBe('hello');
    expect(m!.fields).toMatchObject({ redelivered: false, exchange: '', routingKey: name, deliveryTag: 1 });
    expect(m!.properties).toMatchObject({ contentType: 'text/plain', headers: { n: 1 }, messageId: 'm1' });
    ch.ack(m!);
    await ch.deleteQueue(name);
    await ch.close();
  });

  it('limits unacked deliveries to the prefetch count, then delivers more after acks', async () => {
    const ch = await conn.createChannel();
    const name = q();
    await ch.assertQueue(name, { exclusive: true });
    for (let i = 0; i < 5; i++) ch.sendToQueue(name, Buffer.from(String(i)));
    await ch.prefetch(2);
    const got: ConsumeMessage[] = [];
    await ch.consume(name, (m) => m && got.push(m));
    await tick(200);
    expect(got.map((m) => m.content.toString())).toEqual(['0', '1']);
    ch.ack(got[1]!, true);
    await tick(200);
    expect(got.map((m) => m.content.toString())).toEqual(['0', '1', '2', '3']);
    await ch.close();
  });

  it('x-max-length on a transient queue drops the oldest ready messages (default overflow drop-head)', async () => {
    const ch = await conn.createConfirmChannel();
    const name = q();
    await ch.assertQueue(name, { durable: false, autoDelete: false, arguments: { 'x-max-length': 3 } });
    for (let i = 0; i < 5; i++) ch.sendToQueue(name, Buffer.from(String(i)));
    await ch.waitForConfirms();
    expect((await ch.checkQueue(name)).messageCount).toBe(3);
    const first = await ch.get(name, { noAck: true });
    expect(first ? first.content.toString() : undefined).toBe('2');
    await ch.deleteQueue(name);
    await ch.close();
  });

  it('x-overflow reject-publish nacks publishes to a full transient queue', async () => {
    const ch = await conn.createConfirmChannel();
    const name = q();
    await ch.assertQueue(name, {
      exclusive: true,
      arguments: { 'x-max-length-bytes': 10, 'x-overflow': 'reject-publish' },
    });
    const outcomes = await Promise.all(
      ['12345', '67890', 'x'].map(
        (body) =>
          new Promise<boolean>((resolve) => ch.sendToQueue(name, Buffer.from(body), {}, (err) => resolve(!err))),
      ),
    );
    expect(outcomes).toEqual([true, true, false]);
    expect((await ch.checkQueue(name)).messageCount).toBe(2);
    await ch.close();
  });

  it('nack with requeue redelivers the message with redelivered=true', async () => {
    const ch = await conn.createChannel();
    const name = q();
    await ch.assertQueue(name, { exclusive: true });
    ch.sendToQueue(name, Buffer.from('again'));
    const [first, second] = await new Promise<ConsumeMessage[]>((resolve) => {
      const seen: ConsumeMessage[] = [];
      ch.consume(name, (m) => {
        if (!m) return;
        seen.push(m);
        if (seen.length === 1) ch.nack(m, false, true);
        else resolve(seen);
      });
    });
    expect(first!.fields.redelivered).toBe(false);
    expect(second!.fields.redelivered).toBe(true);
    expect(second!.content.toString()).toBe('again');
    ch.ack(second!);
    await ch.close();
  });

  it("redelivers a consumer's unacked messages after its channel closes", async () => {
    const name = q();
    const setup = await conn.createChannel();
    await setup.assertQueue(name, { durable: true });
    const a = await conn.createChannel();
    setup.sendToQueue(name, Buffer.from('x'));
    setup.sendToQueue(name, Buffer.from('y'));
    const firstRound = await collect(a, name, 2);
    expect(firstRound.every((m) => !m.fields.redelivered)).toBe(true);
    await a.close();
    const b = await conn.createChannel();
    const again = await collect(b, name, 2);
    expect(again.map((m) => [m.content.toString(), m.fields.redelivered])).toEqual([
      ['x', true],
      ['y', true],
    ]);
    for (const m of again) b.ack(m);
    await b.close();
    await setup.deleteQueue(name);
    await setup.close();
  });

  it('routes through a topic exchange with * and #', async () => {
    const ch = await conn.createChannel();
    const x = `compat-topic-${randomUUID()}`;
    await ch.assertExchange(x, 'topic', { durable: false, autoDelete: false });
    const star = (await ch.assertQueue('', { exclusive: true })).queue;
    const hash = (await ch.assertQueue('', { exclusive: true })).queue;
    await ch.bindQueue(star, x, 'campaign.*');
    await ch.bindQueue(hash, x, 'campaign.#');
    for (const key of ['campaign.created', 'campaign.a.b', 'campaign', 'workflow.created']) {
      ch.publish(x, key, Buffer.from(key));
    }
    const starGot = await collect(ch, star, 1, { noAck: true });
    const hashGot = await collect(ch, hash, 3, { noAck: true });
    expect(starGot.map((m) => m.fields.routingKey)).toEqual(['campaign.created']);
    expect(hashGot.map((m) => m.fields.routingKey)).toEqual(['campaign.created', 'campaign.a.b', 'campaign']);
    expect((await ch.checkQueue(star)).messageCount).toBe(0);
    await ch.deleteExchange(x);
    await ch.close();
  });

  it('returns an unroutable mandatory message (312 NO_ROUTE) and confirms it', async () => {
    const ch = await conn.createConfirmChannel();
    const x = `compat-direct-${randomUUID()}`;
    await ch.assertExchange(x, 'direct', { durable: false });
    const returned = new Promise<ConsumeMessage>((resolve) => ch.once('return', resolve));
    await new Promise<void>((resolve, reject) =>
      ch.publish(x, 'nowhere', Buffer.from('lost'), { mandatory: true }, (err) => (err ? reject(err) : resolve())),
    );
    const r = await returned;
    expect(r.fields).toMatchObject({ replyCode: 312, replyText: 'NO_ROUTE', exchange: x, routingKey: 'nowhere' });
    expect(r.content.toString()).toBe('lost');
    await ch.deleteExchange(x);
    await ch.close();
  });

  it('confirms every publish on a confirm channel', async () => {
    const ch = await conn.createConfirmChannel();
    const name = q();
    await ch.assertQueue(name, { durable: true });
    for (let i = 0; i < 20; i++) ch.sendToQueue(name, Buffer.from(String(i)), { persistent: true });
    await ch.waitForConfirms();
    expect((await ch.checkQueue(name)).messageCount).toBe(20);
    expect(await ch.purgeQueue(name)).toEqual({ messageCount: 20 });
    await ch.deleteQueue(name);
    await ch.close();
  });

  it('basic.get returns a message with the remaining count, then get-empty', async () => {
    const ch = await conn.createConfirmChannel();
    const name = q();
    await ch.assertQueue(name, { exclusive: true });
    ch.sendToQueue(name, Buffer.from('one'));
    ch.sendToQueue(name, Buffer.from('two'));
    await ch.waitForConfirms();
    const m = await ch.get(name);
    if (!m) throw new Error('basic.get returned get-empty');
    expect(m.content.toString()).toBe('one');
    expect(m.fields.messageCount).toBe(1);
    const m2 = await ch.get(name, { noAck: true });
    expect(m2 === false ? 'get-empty' : m2.content.toString()).toBe('two');
    expect(await ch.get(name)).toBe(false);
    ch.ack(m);
    await ch.close();
  });

  it('basic.recover redelivers every unacked delivery of the channel', async () => {
    const ch = await conn.createChannel();
    const name = q();
    await ch.assertQueue(name, { exclusive: true });
    ch.sendToQueue(name, Buffer.from('r1'));
    ch.sendToQueue(name, Buffer.from('r2'));
    const seen: ConsumeMessage[] = [];
    const four = new Promise<void>((resolve) => {
      ch.consume(name, (m) => {
        if (m) seen.push(m);
        if (seen.length === 2) ch.recover();
        if (seen.length === 4) resolve();
      });
    });
    await four;
    expect(seen.map((m) => [m.content.toString(), m.fields.redelivered])).toEqual([
      ['r1', false],
      ['r2', false],
      ['r1', true],
      ['r2', true],
    ]);
    await ch.close();
  });

  it('deletes an auto-delete queue when its last consumer is cancelled', async () => {
    const ch = await conn.createChannel();
    const name = q();
    await ch.assertQueue(name, { durable: false, autoDelete: true });
    const { consumerTag } = await ch.consume(name, () => undefined);
    await ch.cancel(consumerTag);
    const err = closed(ch);
    await expect(ch.checkQueue(name)).rejects.toThrow(/404/);
    await err;
  });

  it("another connection's exclusive queue is 405 RESOURCE_LOCKED", async () => {
    const ch = await conn.createChannel();
    const name = q();
    await ch.assertQueue(name, { exclusive: true });
    const other = await amqp.connect(url());
    const och = await other.createChannel();
    const err = closed(och);
    await expect(och.assertQueue(name, { exclusive: true })).rejects.toThrow(/405/);
    expect((await err).message).toContain(`RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '${name}'`);
    await other.close();
    await ch.close();
  });

  it('a passive declare of a missing queue closes the channel with 404 NOT_FOUND', async () => {
    const ch = await conn.createChannel();
    const err = closed(ch);
    const name = q();
    await expect(ch.checkQueue(name)).rejects.toThrow(/404/);
    expect((await err).message).toContain(`404 (NOT-FOUND) with message "NOT_FOUND - no queue '${name}' in vhost '/'"`);
  });

  it('an inequivalent redeclare closes the channel with 406 PRECONDITION_FAILED', async () => {
    const ch = await conn.createChannel();
    const name = q();
    await ch.assertQueue(name, { durable: false, autoDelete: true });
    const other = await conn.createChannel();
    const err = closed(other);
    await expect(other.assertQueue(name, { durable: true })).rejects.toThrow(/406/);
    expect((await err).message).toContain(
      `PRECONDITION_FAILED - inequivalent arg 'durable' for queue '${name}' in vhost '/': received 'true' but current is 'false'`,
    );
    await ch.deleteQueue(name);
    await ch.close();
  });

  it('acking an unknown delivery tag closes the channel with 406', async () => {
    const ch = await conn.createChannel();
    const err = closed(ch);
    ch.ack({ fields: { deliveryTag: 99 } } as never);
    expect((await err).message).toContain('PRECONDITION_FAILED - unknown delivery tag 99');
  });

  it('publishing to a missing exchange closes the channel with 404', async () => {
    const ch = await conn.createChannel();
    const err = closed(ch);
    ch.publish('compat-no-such-exchange', 'k', Buffer.from('x'));
    expect((await err).message).toContain("NOT_FOUND - no exchange 'compat-no-such-exchange' in vhost '/'");
  });
});

/**
 * Scenarios run side by side: the same client code against RabbitMQ and against the
 * gateway, and what each client saw must be equal (server-generated names are masked).
 */
describe('side by side with RabbitMQ', () => {
  const mask = (s: string) => s.replace(/amq\.gen-[\w-]+/g, 'amq.gen-*').replace(/compat-[0-9a-f-]{36}/g, 'compat-*');
  async function both<T>(scenario: (url: string) => Promise<T>): Promise<{ rabbit: T; gateway: T }> {
    const rabbit = await scenario(rabbitUrl);
    const gateway = await scenario(gatewayUrl);
    return JSON.parse(mask(JSON.stringify({ rabbit, gateway })));
  }
  /** Runs `op` on a fresh channel; the channel (or connection) error text, or 'ok'. */
  async function outcome(conn: ChannelModel, op: (ch: Channel) => Promise<unknown>): Promise<string> {
    const ch = await conn.createChannel();
    const err = closed(ch);
    try {
      await op(ch);
    } catch {
      return (await err).message;
    }
    await ch.close();
    return 'ok';
  }

  it('topic: * does not match the empty routing key, # and the empty pattern do', async () => {
    const { rabbit, gateway } = await both(async (url) => {
      const conn = await amqp.connect(url);
      const ch = await conn.createChannel();
      const x = `compat-topic-${randomUUID()}`;
      await ch.assertExchange(x, 'topic', { durable: false });
      const got: Record<string, string[]> = {};
      for (const pattern of ['*', '#', '', '*.#', 'a.*']) {
        const { queue } = await ch.assertQueue('', { exclusive: true });
        await ch.bindQueue(queue, x, pattern);
        got[pattern] = [];
        await ch.consume(queue, (m) => m && got[pattern]!.push(m.fields.routingKey), { noAck: true });
      }
      for (const key of ['', 'a', 'a.', 'a.b']) ch.publish(x, key, Buffer.from(key));
      await tick(300);
      await ch.deleteExchange(x);
      await conn.close();
      return got;
    });
    expect(rabbit).toEqual({
      '*': ['a'],
      '#': ['', 'a', 'a.', 'a.b'],
      '': [''],
      '*.#': ['a', 'a.', 'a.b'],
      'a.*': ['a.', 'a.b'],
    });
    expect(gateway).toEqual(rabbit);
  });

  it('the empty queue name is the queue last declared on the channel', async () => {
    const { rabbit, gateway } = await both(async (url) => {
      const conn = await amqp.connect(url);
      const seen: unknown[] = [];
      seen.push(await outcome(conn, (ch) => ch.consume('', () => undefined)));
      seen.push(await outcome(conn, (ch) => ch.get('')));
      seen.push(await outcome(conn, (ch) => ch.bindQueue('', 'amq.direct', 'k')));
      seen.push(await outcome(conn, (ch) => ch.purgeQueue('')));
      seen.push(await outcome(conn, (ch) => ch.deleteQueue('')));
      const ch = await conn.createConfirmChannel();
      const { queue } = await ch.assertQueue('', { exclusive: true });
      // Both empty: the routing key is the queue's name too.
      await ch.bindQueue('', 'amq.direct', '');
      await ch.bindQueue('', 'amq.direct', 'other');
      ch.publish('amq.direct', queue, Buffer.from('by-name'));
      ch.publish('amq.direct', 'other', Buffer.from('by-key'));
      ch.publish('amq.direct', 'nothing', Buffer.from('lost'));
      await ch.waitForConfirms();
      const m = await ch.get('', { noAck: true });
      seen.push(m && [m.content.toString(), m.fields.routingKey, m.fields.messageCount]);
      await ch.unbindQueue('', 'amq.direct', 'other');
      ch.publish('amq.direct', 'other', Buffer.from('unbound'));
      await ch.waitForConfirms();
      seen.push(await ch.purgeQueue(''));
      const named = `compat-${randomUUID()}`;
      await ch.assertQueue(named, { exclusive: true });
      ch.sendToQueue(named, Buffer.from('to-named'));
      await ch.waitForConfirms();
      const got = await collect(ch, '', 1, { noAck: true });
      seen.push(got.map((g) => [g.content.toString(), g.fields.routingKey]));
      await ch.checkQueue(queue); // a passive declare counts as a declare
      seen.push(await ch.deleteQueue(''));
      seen.push(await outcome(conn, (c) => c.checkQueue('')));
      await ch.close();
      await conn.close();
      return seen;
    });
    expect(rabbit[0]).toContain('NOT_FOUND - no previously declared queue');
    expect(rabbit.slice(5, 9)).toEqual([
      ['by-name', 'amq.gen-*', 1],
      { messageCount: 1 },
      [['to-named', 'compat-*']],
      { messageCount: 0 },
    ]);
    expect(gateway).toEqual(rabbit);
  });

  it('queue arguments of the wrong type or value are 406 with the same texts', async () => {
    const cases: Record<string, unknown>[] = [
      { 'x-message-ttl': 'abc' },
      { 'x-message-ttl': -1 },
      { 'x-message-ttl': 1.5 },
      { 'x-expires': 0 },
      { 'x-expires': 'x' },
      { 'x-expires': -5 },
      { 'x-max-length': -1 },
      { 'x-max-length': 'x' },
      { 'x-max-length-bytes': -2 },
      { 'x-overflow': 'foo' },
      { 'x-overflow': 5 },
      { 'x-dead-letter-exchange': 5 },
      { 'x-dead-letter-routing-key': 5 },
      { 'x-dead-letter-routing-key': 'k' },
      { 'x-single-active-consumer': 'yes' },
      { 'x-max-priority': 300 },
      { 'x-max-priority': -1 },
      { 'x-queue-mode': 'foo' },
      { 'x-unknown': 'z', 'x-message-ttl': 1000, 'x-overflow': 'reject-publish', 'x-single-active-consumer': true },
    ];
    const { rabbit, gateway } = await both(async (url) => {
      const conn = await amqp.connect(url);
      const out: string[] = [];
      for (const args of cases) {
        const name = `compat-${randomUUID()}`;
        out.push(await outcome(conn, (ch) => ch.assertQueue(name, { exclusive: true, arguments: args })));
      }
      await conn.close();
      return out;
    });
    expect(rabbit[0]).toContain(
      `PRECONDITION_FAILED - invalid arg 'x-message-ttl' for queue 'compat-*' in vhost '/': "expected integer, got longstr"`,
    );
    expect(rabbit.at(-1)).toBe('ok');
    expect(gateway).toEqual(rabbit);
  });

  it('redeclaring with other arguments is 406 inequivalent arg, with RabbitMQ texts', async () => {
    const { rabbit, gateway } = await both(async (url) => {
      const conn = await amqp.connect(url);
      const ch = await conn.createChannel();
      const name = `compat-${randomUUID()}`;
      await ch.assertQueue(name, { exclusive: true, arguments: { 'x-message-ttl': 1000, 'x-custom': 1 } });
      const declare = (args: Record<string, unknown>) => (c: Channel) =>
        c.assertQueue(name, { exclusive: true, arguments: args });
      const out = [
        await outcome(conn, declare({ 'x-message-ttl': 1000 })),
        await outcome(conn, declare({ 'x-message-ttl': 70000 })),
        await outcome(conn, declare({ 'x-message-ttl': 2000 })),
        await outcome(conn, declare({})),
        await outcome(conn, declare({ 'x-message-ttl': 1000, 'x-expires': 5000 })),
        await outcome(conn, declare({ 'x-message-ttl': '1000' })),
      ];
      await conn.close();
      return out;
    });
    expect(rabbit[0]).toBe('ok');
    expect(rabbit[3]).toContain(
      "inequivalent arg 'x-message-ttl' for queue 'compat-*' in vhost '/': received none but current is the value '1000' of type 'short'",
    );
    expect(gateway).toEqual(rabbit);
  });

  it('basic.nack with multiple requeues every delivery up to the tag, in order', async () => {
    const { rabbit, gateway } = await both(async (url) => {
      const conn = await amqp.connect(url);
      const ch = await conn.createChannel();
      const { queue } = await ch.assertQueue('', { exclusive: true });
      for (const body of ['a', 'b', 'c', 'd']) ch.sendToQueue(queue, Buffer.from(body));
      const seen: [string, boolean][] = [];
      await new Promise<void>((resolve) => {
        ch.consume(queue, (m) => {
          if (!m) return;
          seen.push([m.content.toString(), m.fields.redelivered]);
          // The third delivery nacks the first three (d stays unacked), then everything is acked.
          if (seen.length === 3) ch.nack(m, true, true);
          if (seen.length === 7) {
            ch.ackAll();
            resolve();
          }
        });
      });
      await tick(100);
      const left = (await ch.checkQueue(queue)).messageCount;
      await conn.close();
      return { seen, left };
    });
    expect(rabbit.seen.slice(0, 4)).toEqual([
      ['a', false],
      ['b', false],
      ['c', false],
      ['d', false],
    ]);
    expect(rabbit.seen.slice(4).sort()).toEqual([
      ['a', true],
      ['b', true],
      ['c', true],
    ]);
    expect(gateway).toEqual(rabbit);
  });

  it('publisher confirms set multiple when several are ready, and cover every tag once', async () => {
    const { rabbit, gateway } = await both(async (url) => {
      const conn = await amqp.connect(url);
      const ch = await conn.createConfirmChannel();
      const frames: { deliveryTag: number; multiple: boolean }[] = [];
      ch.on('ack', (f: { deliveryTag: number; multiple: boolean }) => frames.push(f));
      const { queue } = await ch.assertQueue('', { exclusive: true });
      const durable = `compat-${randomUUID()}`;
      await ch.assertQueue(durable, { durable: true });
      for (let i = 0; i < 500; i++) ch.sendToQueue(i % 2 ? queue : durable, Buffer.from(String(i)));
      await ch.waitForConfirms();
      await ch.deleteQueue(durable);
      await conn.close();
      // A multiple frame confirms every tag up to its own not confirmed yet; no tag twice.
      const confirmed = new Set<number>();
      let twice = 0;
      for (const f of frames) {
        if (confirmed.has(f.deliveryTag)) twice++;
        if (f.multiple) for (let t = 1; t <= f.deliveryTag; t++) confirmed.add(t);
        else confirmed.add(f.deliveryTag);
      }
      return {
        confirmed: confirmed.size,
        highest: Math.max(...confirmed),
        twice,
        fewerFrames: frames.length < 500,
        someMultiple: frames.some((f) => f.multiple),
      };
    });
    // Every tag confirmed once on both. How many frames share a `multiple` depends on timing
    // (a loaded machine batches differently from run to run), so that part is asserted per
    // broker: RabbitMQ is allowed either, the gateway must batch.
    const invariant = { confirmed: 500, highest: 500, twice: 0 };
    expect(rabbit).toMatchObject(invariant);
    expect(gateway).toEqual({ ...invariant, fewerFrames: true, someMultiple: true });
  });

  it('basic.qos global limits the whole channel; a later per-consumer qos lifts that limit', async () => {
    const { rabbit, gateway } = await both(async (url) => {
      const conn = await amqp.connect(url);
      const out: Record<string, number[]> = {};
      for (const order of [['global'], ['global', 'consumer'], ['consumer', 'global']]) {
        const ch = await conn.createChannel();
        const queues = [
          (await ch.assertQueue('', { exclusive: true })).queue,
          (await ch.assertQueue('', { exclusive: true })).queue,
        ];
        for (const q of queues) for (let i = 0; i < 5; i++) ch.sendToQueue(q, Buffer.from(String(i)));
        for (const which of order) await ch.prefetch(which === 'global' ? 3 : 2, which === 'global');
        const got: ConsumeMessage[] = [];
        for (const q of queues) await ch.consume(q, (m) => m && got.push(m));
        await tick(250);
        const first = got.length;
        const perQueue = Math.max(...queues.map((q) => got.filter((m) => m.fields.routingKey === q).length));
        ch.ack(got[0]!);
        await tick(250);
        out[order.join('+')] = [first, perQueue, got.length];
        await ch.close();
      }
      await conn.close();
      return out;
    });
    expect(rabbit).toEqual({ global: [3, 3, 4], 'global+consumer': [4, 2, 5], 'consumer+global': [3, 2, 4] });
    expect(gateway).toEqual(rabbit);
  });
});

describe('exchanges side by side with RabbitMQ', () => {
  // Generated names, also where a long reply text cut them short.
  const mask = (s: string) =>
    s.replace(/amq\.gen-[\w-]+/g, 'amq.gen-*').replace(/compat-[a-z-]*?[0-9a-f]{8}-[0-9a-f-]*/g, 'compat-*');
  async function both<T>(scenario: (url: string) => Promise<T>): Promise<{ rabbit: T; gateway: T }> {
    const rabbit = await scenario(rabbitUrl);
    const gateway = await scenario(gatewayUrl);
    return JSON.parse(mask(JSON.stringify({ rabbit, gateway })));
  }
  async function outcome(conn: ChannelModel, op: (ch: Channel) => Promise<unknown>): Promise<string> {
    const ch = await conn.createChannel();
    const err = closed(ch);
    try {
      await op(ch);
    } catch {
      return (await err).message;
    }
    await ch.close();
    return 'ok';
  }
  /** Consumes each queue (no-ack) and returns what each got after the publishes settle. */
  async function inboxes(ch: Channel, queues: Record<string, string>) {
    const got: Record<string, string[]> = {};
    for (const [label, queue] of Object.entries(queues)) {
      got[label] = [];
      await ch.consume(queue, (m) => m && got[label]!.push(m.content.toString()), { noAck: true });
    }
    return got;
  }

  it('exchange.bind routes on to another exchange, once even through a cycle; unbind and delete end it', async () => {
    const { rabbit, gateway } = await both(async (url) => {
      const conn = await amqp.connect(url);
      const ch = await conn.createConfirmChannel();
      const id = randomUUID();
      const src = `compat-src-${id}`;
      const dst = `compat-dst-${id}`;
      await ch.assertExchange(src, 'direct', { durable: false });
      await ch.assertExchange(dst, 'fanout', { durable: false });
      const q = (await ch.assertQueue('', { exclusive: true })).queue;
      await ch.bindQueue(q, dst, '');
      await ch.bindExchange(dst, src, 'k');
      await ch.bindExchange(src, dst, 'k'); // a cycle back: still one copy per queue
      const got = await inboxes(ch, { q });
      const returned: string[] = [];
      ch.on('return', (m: ConsumeMessage) => returned.push(m.content.toString()));
      ch.publish(src, 'k', Buffer.from('routed'), { mandatory: true });
      ch.publish(src, 'other', Buffer.from('not-routed'), { mandatory: true });
      await ch.waitForConfirms();
      await ch.unbindExchange(dst, src, 'k');
      ch.publish(src, 'k', Buffer.from('after-unbind'), { mandatory: true });
      await ch.waitForConfirms();
      await ch.bindExchange(dst, src, 'k');
      await ch.deleteExchange(dst);
      ch.publish(src, 'k', Buffer.from('after-delete'), { mandatory: true });
      await ch.waitForConfirms();
      await tick(100);
      const errors = [
        await outcome(conn, (c) => c.bindExchange(`compat-missing-${id}`, src, 'k')),
        await outcome(conn, (c) => c.bindExchange(src, `compat-missing-${id}`, 'k')),
        await outcome(conn, (c) => c.bindExchange('', src, 'k')),
      ];
      await ch.deleteExchange(src);
      await conn.close();
      return { got, returned, errors };
    });
    expect(rabbit.got).toEqual({ q: ['routed'] });
    expect(rabbit.returned).toEqual(['not-routed', 'after-unbind', 'after-delete']);
    expect(rabbit.errors[0]).toContain("NOT_FOUND - no exchange 'compat-*' in vhost '/'");
    expect(gateway).toEqual(rabbit);
  });

  it('headers exchanges match all / any / -with-x on binding arguments; amq.headers and amq.match exist', async () => {
    const { rabbit, gateway } = await both(async (url) => {
      const conn = await amqp.connect(url);
      const ch = await conn.createConfirmChannel();
      const x = `compat-headers-${randomUUID()}`;
      await ch.assertExchange(x, 'headers', { durable: false });
      const bindings: Record<string, Record<string, unknown>> = {
        all: { 'x-match': 'all', a: 'x', n: 5 },
        any: { 'x-match': 'any', a: 'x', n: 5 },
        default: { a: 'x' },
        none: {},
        anyNone: { 'x-match': 'any' },
        present: { 'x-match': 'all', a: null },
        ignoresX: { 'x-match': 'all', 'x-tag': 'y' },
        allWithX: { 'x-match': 'all-with-x', 'x-tag': 'y' },
        anyWithX: { 'x-match': 'any-with-x', 'x-tag': 'y', b: 1 },
        stringVsNumber: { n: '5' },
      };
      const queues: Record<string, string> = {};
      for (const [label, args] of Object.entries(bindings)) {
        queues[label] = (await ch.assertQueue('', { exclusive: true })).queue;
        await ch.bindQueue(queues[label]!, x, 'ignored-key', args);
      }
      const got = await inboxes(ch, queues);
      const messages: Record<string, Record<string, unknown> | undefined> = {
        'a+n': { a: 'x', n: 5 },
        'a-only': { a: 'x' },
        'a-other': { a: 'z', n: 5 },
        'x-tag': { 'x-tag': 'y' },
        none: undefined,
      };
      for (const [body, headers] of Object.entries(messages)) ch.publish(x, 'k', Buffer.from(body), { headers });
      await ch.waitForConfirms();
      await tick(150);
      const errors = [
        await outcome(conn, async (c) =>
          c.bindQueue((await c.assertQueue('', { exclusive: true })).queue, x, '', { 'x-match': 'most' }),
        ),
        await outcome(conn, (c) => c.checkExchange('amq.headers')),
        await outcome(conn, (c) => c.checkExchange('amq.match')),
      ];
      await ch.deleteExchange(x);
      await conn.close();
      return { got, errors };
    });
    expect(rabbit.got).toMatchObject({ all: ['a+n'], any: ['a+n', 'a-only', 'a-other'], anyNone: [] });
    expect(rabbit.errors[1]).toBe('ok');
    expect(gateway).toEqual(rabbit);
  });

  it('alternate-exchange takes what the exchange routes nowhere', async () => {
    const { rabbit, gateway } = await both(async (url) => {
      const conn = await amqp.connect(url);
      const ch = await conn.createConfirmChannel();
      const id = randomUUID();
      const ae = `compat-ae-${id}`;
      const x = `compat-main-${id}`;
      await ch.assertExchange(ae, 'fanout', { durable: false });
      await ch.assertExchange(x, 'direct', { durable: false, alternateExchange: ae });
      const main = (await ch.assertQueue('', { exclusive: true })).queue;
      const spill = (await ch.assertQueue('', { exclusive: true })).queue;
      await ch.bindQueue(main, x, 'known');
      await ch.bindQueue(spill, ae, '');
      const got = await inboxes(ch, { main, spill });
      const returned: string[] = [];
      ch.on('return', (m: ConsumeMessage) => returned.push(m.content.toString()));
      ch.publish(x, 'known', Buffer.from('known'), { mandatory: true });
      ch.publish(x, 'unknown', Buffer.from('unknown'), { mandatory: true });
      await ch.waitForConfirms();
      await tick(100);
      const redeclare = await outcome(conn, (c) =>
        c.assertExchange(x, 'direct', { durable: false, alternateExchange: `compat-other-${id}` }),
      );
      const same = await outcome(conn, (c) => c.assertExchange(x, 'direct', { durable: false, alternateExchange: ae }));
      await ch.deleteExchange(x);
      await ch.deleteExchange(ae);
      await conn.close();
      return { got, returned, redeclare, same };
    });
    expect(rabbit.got).toEqual({ main: ['known'], spill: ['unknown'] });
    expect(rabbit.returned).toEqual([]);
    expect(gateway).toEqual(rabbit);
  });

  it('the amq.* exchanges are declared as RabbitMQ declares them', async () => {
    const { rabbit, gateway } = await both(async (url) => {
      const conn = await amqp.connect(url);
      const out: Record<string, string> = {};
      for (const [name, type] of [
        ['amq.direct', 'direct'],
        ['amq.fanout', 'fanout'],
        ['amq.topic', 'topic'],
        ['amq.headers', 'headers'],
        ['amq.match', 'headers'],
      ]) {
        out[`${name} passive`] = await outcome(conn, (c) => c.checkExchange(name!));
        out[`${name} declare`] = await outcome(conn, (c) => c.assertExchange(name!, type!, { durable: true }));
      }
      out['amq.custom'] = await outcome(conn, (c) => c.assertExchange('amq.custom', 'direct'));
      await conn.close();
      return out;
    });
    expect(rabbit['amq.match passive']).toBe('ok');
    expect(gateway).toEqual(rabbit);
  });
});

describe('queue TTL and dead-lettering side by side with RabbitMQ', () => {
  const mask = (s: string) =>
    s.replace(/amq\.gen-[\w-]+/g, 'amq.gen-*').replace(/compat-[a-z-]*?[0-9a-f]{8}-[0-9a-f-]*/g, 'compat-*');
  async function both<T>(scenario: (url: string) => Promise<T>): Promise<{ rabbit: T; gateway: T }> {
    const rabbit = await scenario(rabbitUrl);
    const gateway = await scenario(gatewayUrl);
    return JSON.parse(mask(JSON.stringify({ rabbit, gateway })));
  }
  /** What a dead-letter consumer sees, with the death time checked and then left out. */
  function seen(m: ConsumeMessage) {
    const headers: Record<string, unknown> = { ...(m.properties.headers ?? {}) };
    const deaths = (headers['x-death'] as Record<string, unknown>[] | undefined)?.map((e) => {
      const { time, ...rest } = e;
      const t = time as { '!': string; value: number } | undefined;
      const recent = t?.['!'] === 'timestamp' && Math.abs(t.value - Date.now() / 1000) < 60;
      return { ...rest, recentTimestamp: recent };
    });
    if (deaths) headers['x-death'] = deaths;
    return {
      body: m.content.toString(),
      exchange: m.fields.exchange,
      routingKey: m.fields.routingKey,
      expiration: m.properties.expiration,
      messageId: m.properties.messageId,
      headers,
    };
  }

  it('rejected, expired (queue TTL and per-message expiration) and dropped messages reach the DLX with x-death', async () => {
    const { rabbit, gateway } = await both(async (url) => {
      const conn = await amqp.connect(url);
      const ch = await conn.createChannel();
      const id = randomUUID();
      const dlx = `compat-dlx-${id}`;
      await ch.assertExchange(dlx, 'fanout', { durable: false });
      const dead = (await ch.assertQueue('', { exclusive: true })).queue;
      await ch.bindQueue(dead, dlx, '');
      const src = `compat-src-${id}`;
      await ch.assertQueue(src, {
        exclusive: true,
        arguments: { 'x-dead-letter-exchange': dlx, 'x-message-ttl': 300, 'x-max-length': 2 },
      });
      const got = collect(ch, dead, 6, { noAck: true });
      ch.sendToQueue(src, Buffer.from('rejected'), { headers: { h: 1 }, messageId: 'r' });
      ch.sendToQueue(src, Buffer.from('nacked'));
      const first = await ch.get(src);
      const second = await ch.get(src);
      ch.reject(must(first), false);
      ch.nack(must(second), false, false);
      ch.sendToQueue(src, Buffer.from('expires'), { expiration: '50' });
      await tick(400);
      for (const body of ['m1', 'm2', 'm3']) ch.sendToQueue(src, Buffer.from(body));
      const messages = (await got).map(seen);
      await conn.close();
      return messages;
    });
    expect(rabbit.map((m) => [m.body, m.headers['x-first-death-reason']])).toEqual([
      ['rejected', 'rejected'],
      ['nacked', 'rejected'],
      ['expires', 'expired'],
      ['m1', 'maxlen'],
      ['m2', 'expired'],
      ['m3', 'expired'],
    ]);
    expect(rabbit[2]!.headers['x-death']).toEqual([
      {
        count: 1,
        reason: 'expired',
        queue: 'compat-*',
        exchange: '',
        'routing-keys': ['compat-*'],
        'original-expiration': '50',
        recentTimestamp: true,
      },
    ]);
    expect(gateway).toEqual(rabbit);
  });

  it('x-message-ttl expires the messages of a durable queue too', async () => {
    const { rabbit, gateway } = await both(async (url) => {
      const conn = await amqp.connect(url);
      const ch = await conn.createConfirmChannel();
      const name = `compat-${randomUUID()}`;
      await ch.assertQueue(name, { durable: true, arguments: { 'x-message-ttl': 150 } });
      for (const body of ['a', 'b', 'c']) ch.sendToQueue(name, Buffer.from(body), { persistent: true });
      ch.sendToQueue(name, Buffer.from('short'), { persistent: true, expiration: '10' });
      await ch.waitForConfirms();
      const before = (await ch.checkQueue(name)).messageCount;
      await tick(500);
      const after = (await ch.checkQueue(name)).messageCount;
      const got = await ch.get(name);
      await ch.deleteQueue(name);
      await conn.close();
      return { before, after, got };
    });
    expect(rabbit).toEqual({ before: 4, after: 0, got: false });
    expect(gateway).toEqual(rabbit);
  });

  it('x-dead-letter-routing-key replaces the routing key; a second death counts up', async () => {
    const { rabbit, gateway } = await both(async (url) => {
      const conn = await amqp.connect(url);
      const ch = await conn.createChannel();
      const id = randomUUID();
      const dlx = `compat-dlx-${id}`;
      await ch.assertExchange(dlx, 'direct', { durable: false });
      const src = `compat-src-${id}`;
      await ch.assertQueue(src, {
        exclusive: true,
        arguments: { 'x-dead-letter-exchange': dlx, 'x-dead-letter-routing-key': 'again' },
      });
      // Dead letters come back to the same queue: a rejected message twice counts 2.
      await ch.bindQueue(src, dlx, 'again');
      ch.sendToQueue(src, Buffer.from('twice'));
      const out: unknown[] = [];
      await new Promise<void>((resolve) => {
        ch.consume(src, (m) => {
          if (!m) return;
          out.push(seen(m));
          if (out.length < 3) ch.reject(m, false);
          else {
            ch.ack(m);
            resolve();
          }
        });
      });
      await conn.close();
      return out;
    });
    expect((rabbit[2] as { headers: { 'x-death': { count: number }[] } }).headers['x-death'][0]!.count).toBe(2);
    expect(gateway).toEqual(rabbit);
  });
});

describe('transactions side by side with RabbitMQ', () => {
  const mask = (s: string) =>
    s.replace(/amq\.gen-[\w-]+/g, 'amq.gen-*').replace(/compat-[a-z-]*?[0-9a-f]{8}-[0-9a-f-]*/g, 'compat-*');
  async function both<T>(scenario: (url: string) => Promise<T>): Promise<{ rabbit: T; gateway: T }> {
    const rabbit = await scenario(rabbitUrl);
    const gateway = await scenario(gatewayUrl);
    return JSON.parse(mask(JSON.stringify({ rabbit, gateway })));
  }
  // amqplib has no tx API: its method ids (class 90) through the channel's rpc.
  const TX = { select: [5898250, 5898251], commit: [5898260, 5898261], rollback: [5898270, 5898271] } as const;
  const tx = (ch: Channel, op: keyof typeof TX) =>
    (ch as unknown as { rpc(m: number, f: object, e: number): Promise<unknown> }).rpc(TX[op][0], {}, TX[op][1]);
  async function outcome(conn: ChannelModel, op: (ch: Channel) => Promise<unknown>, confirm = false) {
    const ch = confirm ? await conn.createConfirmChannel() : await conn.createChannel();
    const err = closed(ch);
    try {
      await op(ch);
    } catch {
      return (await err).message;
    }
    await ch.close();
    return 'ok';
  }

  it('tx.commit applies publishes and acks together, tx.rollback drops them', async () => {
    const { rabbit, gateway } = await both(async (url) => {
      const conn = await amqp.connect(url);
      const watch = await conn.createChannel();
      const ch = await conn.createChannel();
      const name = `compat-${randomUUID()}`;
      await watch.assertQueue(name, { durable: true });
      const count = async () => (await watch.checkQueue(name)).messageCount;
      await tx(ch, 'select');
      const steps: [string, number][] = [];
      ch.sendToQueue(name, Buffer.from('p1'), { persistent: true });
      ch.sendToQueue(name, Buffer.from('p2'), { persistent: true });
      await tick(100);
      steps.push(['published, not committed', await count()]);
      await tx(ch, 'commit');
      steps.push(['committed', await count()]);
      ch.sendToQueue(name, Buffer.from('p3'));
      await tx(ch, 'rollback');
      steps.push(['rolled back', await count()]);
      const m1 = await ch.get(name);
      const m2 = await ch.get(name);
      ch.ack(must(m1));
      await tx(ch, 'rollback');
      steps.push(['ack rolled back (both unacked)', await count()]);
      ch.ack(must(m2));
      ch.sendToQueue(name, Buffer.from('p4'));
      await tx(ch, 'commit');
      steps.push(['ack of m2 and p4 committed', await count()]);
      await ch.close(); // m1 is unacknowledged again: requeued
      steps.push(['channel closed', await count()]);
      const left: string[] = [];
      for (let m = await watch.get(name, { noAck: true }); m; m = await watch.get(name, { noAck: true })) {
        left.push(`${m.content.toString()}${m.fields.redelivered ? '*' : ''}`);
      }
      await watch.deleteQueue(name);
      await conn.close();
      return { steps, left };
    });
    expect(rabbit.steps).toEqual([
      ['published, not committed', 0],
      ['committed', 2],
      ['rolled back', 2],
      ['ack rolled back (both unacked)', 0],
      ['ack of m2 and p4 committed', 1],
      ['channel closed', 2],
    ]);
    expect(rabbit.left).toEqual(['p1*', 'p4']);
    expect(gateway).toEqual(rabbit);
  });

  it('tx errors: commit without select, mixing tx and confirms', async () => {
    const { rabbit, gateway } = await both(async (url) => {
      const conn = await amqp.connect(url);
      const out = [
        await outcome(conn, (ch) => tx(ch, 'commit')),
        await outcome(conn, (ch) => tx(ch, 'rollback')),
        await outcome(conn, (ch) => tx(ch, 'select'), true),
        await outcome(conn, async (ch) => {
          await tx(ch, 'select');
          await (ch as unknown as { rpc(m: number, f: object, e: number): Promise<unknown> }).rpc(
            5570570,
            { nowait: false },
            5570571,
          );
        }),
      ];
      await conn.close();
      return out;
    });
    expect(rabbit[0]).toContain('PRECONDITION_FAILED - channel is not transactional');
    expect(gateway).toEqual(rabbit);
  });
});

describe('connection.update-secret side by side with RabbitMQ', () => {
  it('updating to a valid secret is answered with update-secret-ok and the connection goes on', async () => {
    const seen: Record<string, unknown> = {};
    for (const [label, url] of [
      ['rabbit', rabbitUrl],
      ['gateway', gatewayUrl],
    ] as const) {
      const conn = await amqp.connect(url);
      await conn.updateSecret(Buffer.from('guest'), 'rotation');
      const ch = await conn.createChannel();
      seen[label] = (await ch.assertQueue('', { exclusive: true })).messageCount;
      await conn.close();
    }
    expect(seen).toEqual({ rabbit: 0, gateway: 0 });
  });
});

describe('consumer selection side by side with RabbitMQ', () => {
  async function both<T>(scenario: (url: string) => Promise<T>): Promise<{ rabbit: T; gateway: T }> {
    return { rabbit: await scenario(rabbitUrl), gateway: await scenario(gatewayUrl) };
  }

  it('x-single-active-consumer: one consumer gets everything until it goes, then the next', async () => {
    const { rabbit, gateway } = await both(async (url) => {
      const conn = await amqp.connect(url);
      const ch = await conn.createConfirmChannel();
      const { queue } = await ch.assertQueue('', { exclusive: true, arguments: { 'x-single-active-consumer': true } });
      const got: Record<string, string[]> = { a: [], b: [] };
      const a = await ch.consume(queue, (m) => m && got.a!.push(m.content.toString()), { noAck: true });
      await ch.consume(queue, (m) => m && got.b!.push(m.content.toString()), { noAck: true });
      const counted = (await ch.checkQueue(queue)).consumerCount;
      for (const body of ['1', '2', '3']) ch.sendToQueue(queue, Buffer.from(body));
      await ch.waitForConfirms();
      await tick(150);
      await ch.cancel(a.consumerTag);
      for (const body of ['4', '5']) ch.sendToQueue(queue, Buffer.from(body));
      await ch.waitForConfirms();
      await tick(150);
      await conn.close();
      return { got, counted };
    });
    expect(rabbit).toEqual({ got: { a: ['1', '2', '3'], b: ['4', '5'] }, counted: 2 });
    expect(gateway).toEqual(rabbit);
  });

  it('consumer priorities: higher x-priority consumers first, lower ones when those are full', async () => {
    const { rabbit, gateway } = await both(async (url) => {
      const conn = await amqp.connect(url);
      const ch = await conn.createConfirmChannel();
      const { queue } = await ch.assertQueue('', { exclusive: true });
      await ch.prefetch(2);
      const got: Record<string, string[]> = { low: [], high: [], default: [] };
      await ch.consume(queue, (m) => m && got.low!.push(m.content.toString()), { priority: -1 });
      await ch.consume(queue, (m) => m && got.default!.push(m.content.toString()));
      await ch.consume(queue, (m) => m && got.high!.push(m.content.toString()), { priority: 5 });
      for (let i = 0; i < 7; i++) ch.sendToQueue(queue, Buffer.from(String(i)));
      await ch.waitForConfirms();
      await tick(200);
      const ready = (await ch.checkQueue(queue)).messageCount;
      await conn.close();
      return { got, ready };
    });
    expect(rabbit).toEqual({ got: { high: ['0', '1'], default: ['2', '3'], low: ['4', '5'] }, ready: 1 });
    expect(gateway).toEqual(rabbit);
  });
});

describe('durable queue length limits side by side with RabbitMQ', () => {
  async function both<T>(scenario: (url: string) => Promise<T>): Promise<{ rabbit: T; gateway: T }> {
    return { rabbit: await scenario(rabbitUrl), gateway: await scenario(gatewayUrl) };
  }

  it('x-max-length drop-head dead-letters the oldest (maxlen); reject-publish nacks', async () => {
    const { rabbit, gateway } = await both(async (url) => {
      const conn = await amqp.connect(url);
      const ch = await conn.createConfirmChannel();
      const id = randomUUID();
      const dlx = `compat-dlx-${id}`;
      await ch.assertExchange(dlx, 'fanout', { durable: false });
      const dead = (await ch.assertQueue('', { exclusive: true })).queue;
      await ch.bindQueue(dead, dlx, '');
      const head = `compat-head-${id}`;
      const reject = `compat-reject-${id}`;
      await ch.assertQueue(head, { durable: true, arguments: { 'x-max-length': 2, 'x-dead-letter-exchange': dlx } });
      await ch.assertQueue(reject, {
        durable: true,
        arguments: { 'x-max-length-bytes': 10, 'x-overflow': 'reject-publish' },
      });
      for (const body of ['0', '1', '2', '3']) ch.sendToQueue(head, Buffer.from(body), { persistent: true });
      const outcomes = await Promise.all(
        ['12345', '67890', 'x'].map(
          (body) =>
            new Promise<boolean>((resolve) =>
              ch.sendToQueue(reject, Buffer.from(body), { persistent: true }, (err) => resolve(!err)),
            ),
        ),
      );
      await ch.waitForConfirms();
      await tick(150);
      const deadLetters: [string, unknown][] = [];
      for (let m = await ch.get(dead, { noAck: true }); m; m = await ch.get(dead, { noAck: true })) {
        deadLetters.push([m.content.toString(), m.properties.headers?.['x-first-death-reason']]);
      }
      const left: string[] = [];
      for (let m = await ch.get(head, { noAck: true }); m; m = await ch.get(head, { noAck: true })) {
        left.push(m.content.toString());
      }
      const rejectCount = (await ch.checkQueue(reject)).messageCount;
      await ch.deleteQueue(head);
      await ch.deleteQueue(reject);
      await ch.deleteExchange(dlx);
      await conn.close();
      return { deadLetters, left, outcomes, rejectCount };
    });
    expect(rabbit).toEqual({
      deadLetters: [
        ['0', 'maxlen'],
        ['1', 'maxlen'],
      ],
      left: ['2', '3'],
      outcomes: [true, true, false],
      rejectCount: 2,
    });
    expect(gateway).toEqual(rabbit);
  });
});

describe('x-expires side by side with RabbitMQ', () => {
  it('a queue unused for x-expires is deleted; a consumer keeps it', async () => {
    const seen: Record<string, unknown> = {};
    for (const [label, url] of [
      ['rabbit', rabbitUrl],
      ['gateway', gatewayUrl],
    ] as const) {
      const conn = await amqp.connect(url);
      const ch = await conn.createChannel();
      const idle = `compat-${randomUUID()}`;
      const used = `compat-${randomUUID()}`;
      await ch.assertQueue(idle, { durable: false, arguments: { 'x-expires': 300 } });
      await ch.assertQueue(used, { durable: false, arguments: { 'x-expires': 300 } });
      const { consumerTag } = await ch.consume(used, () => undefined, { noAck: true });
      await tick(800);
      const exists = async (name: string) => {
        const probe = await conn.createChannel();
        probe.on('error', () => undefined);
        return probe.checkQueue(name).then(
          async () => {
            await probe.close();
            return true;
          },
          () => false,
        );
      };
      const afterIdle = { idle: await exists(idle), used: await exists(used) };
      await ch.cancel(consumerTag);
      await tick(800);
      seen[label] = { afterIdle, afterCancel: await exists(used) };
      await conn.close();
    }
    expect(seen.rabbit).toEqual({ afterIdle: { idle: false, used: true }, afterCancel: false });
    expect(seen.gateway).toEqual(seen.rabbit);
  });
});
