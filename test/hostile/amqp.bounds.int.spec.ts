import { randomUUID } from 'node:crypto';
import { type AmqpServer, createAmqpServer, type LightdomAmqpOptions } from '@lightdom/command-api';
import { upcastEvent } from '@lightdom/domain';
import { createCommandHandler, createEventStore, type EventStore } from '@lightdom/eventstore';
import { createLogger } from '@lightdom/runtime';
import { createNatsTestEnv, type NatsTestEnv } from '@lightdom/testkit';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bodyFrame,
  contentHeader,
  encodeTable,
  nestedTable,
  queueDeclareWithArgs,
  RawAmqp,
  startOk,
} from './amqp.rawClient.js';

/**
 * Finding 5, and the AMQP parts of findings 7 and 8 of issue 7, reproduced byte for byte
 * against a gateway with small bounds (so a test takes seconds), and where the behaviour is
 * meant to match, against the real RabbitMQ on 5672.
 */
// biome-ignore lint/suspicious/noUndeclaredEnvVars: the same variable as amqp.compat.int.spec.ts; tests are not turbo tasks.
const rabbitPort = Number(new URL(process.env.TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672').port || 5672);

interface LogLine {
  level: number;
  msg: string;
  hasErr: boolean;
}
const logs: LogLine[] = [];
const logger = createLogger('amqp-bounds-test', {
  level: 'debug',
  hooks: {
    // Captured, not printed: the tests assert what the gateway logs and at which level.
    logMethod(args, _method, level) {
      const [first, second] = args as unknown[];
      const msg = typeof first === 'string' ? first : String(second ?? '');
      logs.push({ level, msg, hasErr: typeof first === 'object' && first !== null && 'err' in first });
    },
  },
});

const bounds = {
  handshakeTimeoutMs: 1500,
  idleTimeoutMs: 3000,
  maxConnections: 12,
  maxUnfinishedContentBytes: 4 * 1024 * 1024,
  transientQueueMaxMessages: 1000,
  transientQueueMaxBytes: 1024 * 1024,
  transientTotalMaxBytes: 8 * 1024 * 1024,
  maxPrefetch: 50,
  memoryCheckIntervalMs: 50,
} satisfies Partial<LightdomAmqpOptions>;

let nats: NatsTestEnv;
let store: EventStore;
let server: AmqpServer;
let port: number;
/** What the injected memory probe reports: tests raise it over the watermark. */
let fakeRss = 0;
const watermark = 512 * 1024 * 1024;

beforeAll(async () => {
  nats = await createNatsTestEnv('amqpbounds');
  store = createEventStore(
    { nc: nats.nc, logger },
    { stream: nats.stream, subjectPrefix: nats.subjectPrefix, publishTimeoutMs: 1000, upcast: upcastEvent },
  );
  await store.ensureStream();
  server = createAmqpServer(
    { nc: nats.nc, commands: createCommandHandler({ store, logger }), store, logger, rss: () => fakeRss },
    {
      host: '127.0.0.1',
      // The guest/guest login of these tests (a reader: queues and events, no commands).
      allowGuest: true,
      stream: `${nats.stream}_AMQP`,
      subjectPrefix: `${nats.subjectPrefix}_amqp`,
      topologyBucket: `${nats.kvBucket}_AMQP`,
      memoryHighWatermarkBytes: watermark,
      ...bounds,
    },
  );
  port = await server.start(0);
});

afterAll(async () => {
  await server?.stop();
  await nats?.cleanup();
});

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A normal amqplib client still gets through: a queue round trip on a fresh connection. */
async function stillServes(p = port) {
  const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${p}`);
  try {
    const ch = await conn.createChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    ch.sendToQueue(queue, Buffer.from('ping'));
    let got: string | undefined;
    for (let i = 0; i < 50 && got === undefined; i++) {
      const m = await ch.get(queue, { noAck: true });
      if (m) got = m.content.toString();
      else await tick(20);
    }
    expect(got).toBe('ping');
  } finally {
    await conn.close();
  }
}

const closeOf = async (c: RawAmqp) => {
  const f = await c.waitMethod('connection.close');
  return { code: f.args?.replyCode, text: String(f.args?.replyText) };
};

describe('AMQP handshake bounds (findings 5, 7, 8)', () => {
  it('finding 5/7: a client trickling one byte every 300 ms is cut at the whole-handshake deadline', async () => {
    const c = await RawAmqp.open(port);
    const bytes = Buffer.concat([Buffer.from('AMQP\x00\x00\x09\x01', 'latin1'), startOk(encodeTable({}))]);
    (async () => {
      for (const b of bytes) {
        if (!(await c.write(Buffer.from([b])))) return;
        await tick(300);
      }
    })();
    const cutAfter = await c.closed;
    // The deadline counts from accept and is not extended by the trickle (before the fix: never cut).
    expect(cutAfter).toBeGreaterThanOrEqual(bounds.handshakeTimeoutMs - 50);
    expect(cutAfter).toBeLessThan(bounds.handshakeTimeoutMs + 1000);
    expect(logs.some((l) => l.msg === 'AMQP handshake not finished in time: closing')).toBe(true);
    await stillServes();
  });

  it('finding 5: a protocol header split across two TCP writes is answered with connection.start, as RabbitMQ does', async () => {
    for (const p of [port, rabbitPort]) {
      const c = await RawAmqp.open(p);
      await c.write(Buffer.from('AMQP\x00', 'latin1'));
      await tick(200);
      await c.write(Buffer.from('\x00\x09\x01', 'latin1'));
      const start = await c.waitMethod('connection.start');
      expect(start.args?.versionMajor).toBe(0);
      expect(start.args?.versionMinor).toBe(9);
      c.destroy();
    }
    await stillServes();
  });

  it('finding 5: a wrong protocol header, also split, is answered with the supported header and closed, as RabbitMQ does', async () => {
    for (const p of [port, rabbitPort]) {
      const c = await RawAmqp.open(p);
      await c.write(Buffer.from('HTTP', 'latin1'));
      await tick(100);
      await c.write(Buffer.from('/1.1', 'latin1'));
      await c.closed;
      expect(c.raw.toString('latin1')).toBe('AMQP\x00\x00\x09\x01');
    }
    await stillServes();
  });

  it('finding 8: start-ok with field tables nested 10,000 deep gets 501 FRAME_ERROR (handshake frames are at most 4096 bytes, as RabbitMQ), logged without a stack', async () => {
    const before = logs.length;
    const c = await RawAmqp.open(port);
    await c.write(Buffer.from('AMQP\x00\x00\x09\x01', 'latin1'));
    await c.waitMethod('connection.start');
    await c.write(startOk(nestedTable(10_000)));
    const close = await closeOf(c);
    expect(close.code).toBe(501);
    expect(close.text).toBe('FRAME_ERROR - frame size 70044 exceeds frame_max 4096');
    c.destroy();
    const mine = logs.slice(before);
    expect(mine.filter((l) => l.level >= 50)).toEqual([]);
    expect(mine.some((l) => l.level === 30 && l.msg === 'AMQP connection error: closing' && !l.hasErr)).toBe(true);
    await stillServes();
  });

  it('finding 8: the deepest start-ok that fits the handshake frame (570 levels) gets 502 SYNTAX_ERROR naming the nesting, not 541', async () => {
    const before = logs.length;
    const c = await RawAmqp.open(port);
    await c.write(Buffer.from('AMQP\x00\x00\x09\x01', 'latin1'));
    await c.waitMethod('connection.start');
    await c.write(startOk(nestedTable(570)));
    const close = await closeOf(c);
    expect(close).toEqual({ code: 502, text: 'SYNTAX_ERROR - field table nested deeper than 64 levels' });
    c.destroy();
    expect(logs.slice(before).filter((l) => l.level >= 50)).toEqual([]);
    // 64 levels are fine: the handshake goes on.
    const ok = await RawAmqp.open(port);
    await ok.write(Buffer.from('AMQP\x00\x00\x09\x01', 'latin1'));
    await ok.waitMethod('connection.start');
    await ok.write(startOk(nestedTable(63)));
    await ok.waitMethod('connection.tune');
    ok.destroy();
    await stillServes();
  });

  it('finding 8: queue.declare arguments and publish headers nested 10,000 deep get 502, the queue is not created', async () => {
    const queue = `deep-${randomUUID()}`;
    const c = await RawAmqp.open(port);
    await c.handshake();
    await c.method(1, 'channel.open');
    await c.waitMethod('channel.openOk');
    await c.write(queueDeclareWithArgs(1, queue, nestedTable(10_000)));
    expect(await closeOf(c)).toEqual({ code: 502, text: 'SYNTAX_ERROR - field table nested deeper than 64 levels' });
    c.destroy();
    expect(server.broker.queues.has(queue)).toBe(false);

    const p = await RawAmqp.open(port);
    await p.handshake();
    await p.method(1, 'channel.open');
    await p.waitMethod('channel.openOk');
    await p.method(1, 'basic.publish', { exchange: '', routingKey: queue });
    // Property flags with only `headers` set, then the 10,000-deep table.
    await p.write(contentHeader(1, 0, Buffer.concat([Buffer.from([0x20, 0x00]), nestedTable(10_000)])));
    expect(await closeOf(p)).toEqual({ code: 502, text: 'SYNTAX_ERROR - field table nested deeper than 64 levels' });
    p.destroy();
    await stillServes();
  });
});

describe('AMQP connection bounds (findings 5, 7)', () => {
  it('finding 5: connections beyond the cap are refused at connection.open with 530, as RabbitMQ connection_max', async () => {
    // Connections of earlier tests are gone (they count while open, whatever their state).
    await tick(300);
    const held: RawAmqp[] = [];
    try {
      while (held.length < bounds.maxConnections) {
        const c = await RawAmqp.open(port);
        await c.handshake({ heartbeat: 0 });
        held.push(c);
      }
      const extra = await RawAmqp.open(port);
      await extra.handshake({ heartbeat: 0 }).catch(() => undefined);
      expect(await closeOf(extra)).toEqual({
        code: 530,
        text: `NOT_ALLOWED - connection refused: node connection limit (${bounds.maxConnections}) is reached`,
      });
      extra.destroy();
      await expect(amqp.connect(`amqp://guest:guest@127.0.0.1:${port}`)).rejects.toThrow(/ConnectionClose/);
    } finally {
      for (const c of held) c.destroy();
    }
    await tick(100);
    await stillServes();
  });

  it('finding 5/7: 500 idle connections with heartbeat 0 are all cut after the idle timeout', async () => {
    // A gateway of its own, with room for the 500 connections.
    const roomy = createAmqpServer(
      { nc: nats.nc, commands: createCommandHandler({ store, logger }), store, logger },
      {
        host: '127.0.0.1',
        // The guest/guest login of these tests (a reader: queues and events, no commands).
        allowGuest: true,
        stream: `${nats.stream}_AMQP2`,
        subjectPrefix: `${nats.subjectPrefix}_amqp2`,
        topologyBucket: `${nats.kvBucket}_AMQP2`,
        maxConnections: 600,
        idleTimeoutMs: bounds.idleTimeoutMs,
      },
    );
    const roomyPort = await roomy.start(0);
    try {
      const idle = await Promise.all(
        Array.from({ length: 500 }, async () => {
          const c = await RawAmqp.open(roomyPort);
          // The server hears the client's last frame between these two times; with 500
          // handshakes at once the second may come late, so each bound uses its own side.
          const sentFrom = performance.now() - c.openedAt;
          await c.handshake({ heartbeat: 0 });
          return { c, sentFrom, tunedAt: performance.now() - c.openedAt };
        }),
      );
      const cuts = await Promise.all(
        idle.map(async ({ c, sentFrom, tunedAt }) => {
          const closed = await c.closed;
          return { afterFirst: closed - sentFrom, afterLast: closed - tunedAt };
        }),
      );
      // Before the fix: never closed. Now: after the idle timeout, checked every quarter of it.
      expect(Math.min(...cuts.map((c) => c.afterFirst))).toBeGreaterThanOrEqual(bounds.idleTimeoutMs - 100);
      expect(Math.max(...cuts.map((c) => c.afterLast))).toBeLessThan(bounds.idleTimeoutMs + 2000);
      expect(logs.some((l) => l.msg === 'AMQP client idle too long: closing')).toBe(true);
      await stillServes(roomyPort);
    } finally {
      await roomy.stop();
    }
  }, 20_000);

  it('finding 7: a client that negotiated heartbeat 1 s and goes silent is cut after two missed intervals, as RabbitMQ does', async () => {
    const measure = async (p: number) => {
      const c = await RawAmqp.open(p);
      await c.handshake({ heartbeat: 1 });
      const tunedAt = performance.now() - c.openedAt;
      return (await c.closed) - tunedAt;
    };
    const [gateway, rabbit] = await Promise.all([measure(port), measure(rabbitPort)]);
    for (const t of [gateway, rabbit]) {
      expect(t).toBeGreaterThanOrEqual(1900);
      expect(t).toBeLessThan(3600);
    }
    await stillServes();
  }, 15_000);
});

describe('AMQP memory bounds (finding 5)', () => {
  it('finding 5: channels each holding an unfinished 900 KB publish hit the per-connection cap: 506, memory released', async () => {
    const c = await RawAmqp.open(port);
    await c.handshake();
    const partial = Buffer.alloc(100_000, 1);
    for (let ch = 1; ch <= 300; ch++) {
      if (c.frames.some((f) => f.method === 'connection.close')) break;
      await c.method(ch, 'channel.open');
      await c.method(ch, 'basic.publish', { exchange: '', routingKey: 'nowhere' });
      if (!(await c.write(contentHeader(ch, 900 * 1024)))) break;
      if (!(await c.write(bodyFrame(ch, partial)))) break;
    }
    // 4 MiB / 900 KiB: the fifth unfinished publish is over the cap (before the fix: all 300 were held).
    expect(await closeOf(c)).toEqual({
      code: 506,
      text: `RESOURCE_ERROR - unfinished publishes on this connection would hold ${5 * 900 * 1024} bytes, above the limit of 4194304`,
    });
    c.destroy();
    await stillServes();
  });

  it('finding 5: a transient queue with no consumer keeps at most its byte cap, dropping the oldest (RabbitMQ drop-head)', async () => {
    const queue = `flood-${randomUUID()}`;
    const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${port}`);
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue(queue, { durable: false, autoDelete: false });
    const body = Buffer.alloc(10 * 1024, 7);
    for (let i = 0; i < 300; i++) ch.sendToQueue(queue, body, { messageId: String(i) });
    await ch.waitForConfirms();
    await conn.close();
    // The publisher left; the queue keeps 1 MiB / 10 KiB = 102 messages, the newest.
    const q = server.broker.queues.get(queue)!;
    expect(q.ready.length).toBe(102);
    expect(q.ready.bytes).toBeLessThanOrEqual(bounds.transientQueueMaxBytes);
    const conn2 = await amqp.connect(`amqp://guest:guest@127.0.0.1:${port}`);
    const ch2 = await conn2.createChannel();
    const first = await ch2.get(queue, { noAck: true });
    expect(first ? first.properties.messageId : undefined).toBe(String(300 - 102));
    await ch2.deleteQueue(queue);
    await conn2.close();
    expect(server.broker.transientMemory.used).toBe(0);
  });

  it('finding 5: the messages of an exclusive queue are released when its owner leaves', async () => {
    const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${port}`);
    const ch = await conn.createConfirmChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    for (let i = 0; i < 50; i++) ch.sendToQueue(queue, Buffer.alloc(10 * 1024));
    await ch.waitForConfirms();
    expect(server.broker.transientMemory.used).toBe(50 * 10 * 1024);
    await conn.close();
    await tick(100);
    expect(server.broker.queues.has(queue)).toBe(false);
    expect(server.broker.transientMemory.used).toBe(0);
  });

  it('finding 5: a queue with x-overflow reject-publish nacks publishes beyond its cap', async () => {
    const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${port}`);
    const ch = await conn.createConfirmChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true, arguments: { 'x-overflow': 'reject-publish' } });
    const outcomes = await Promise.all(
      Array.from(
        { length: 110 },
        () =>
          new Promise<boolean>((resolve) => ch.sendToQueue(queue, Buffer.alloc(10 * 1024), {}, (err) => resolve(!err))),
      ),
    );
    expect(outcomes.filter(Boolean).length).toBe(102);
    expect(outcomes.slice(102).every((ok) => !ok)).toBe(true);
    await conn.close();
  });

  it('finding 5: all transient queues together stay under the process cap; publishes beyond it are nacked', async () => {
    const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${port}`);
    const ch = await conn.createConfirmChannel();
    const queues: string[] = [];
    for (let i = 0; i < 10; i++) queues.push((await ch.assertQueue('', { exclusive: true })).queue);
    let nacked = 0;
    await Promise.all(
      queues.flatMap((q) =>
        Array.from(
          { length: 100 },
          () =>
            new Promise<void>((resolve) =>
              ch.sendToQueue(q, Buffer.alloc(10 * 1024), {}, (err) => {
                if (err) nacked++;
                resolve();
              }),
            ),
        ),
      ),
    );
    // 10 × 1000 KiB asked, 8 MiB allowed.
    expect(server.broker.transientMemory.used).toBeLessThanOrEqual(bounds.transientTotalMaxBytes);
    expect(nacked).toBeGreaterThan(0);
    await conn.close();
    await tick(100);
    expect(server.broker.transientMemory.used).toBe(0);
  });

  it('finding 5: basic.qos 0 is capped to the prefetch ceiling of unacknowledged deliveries', async () => {
    const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${port}`);
    const ch = await conn.createChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    for (let i = 0; i < 200; i++) ch.sendToQueue(queue, Buffer.from(String(i)));
    const got: amqp.ConsumeMessage[] = [];
    await ch.prefetch(0);
    await ch.consume(queue, (m) => m && got.push(m));
    await tick(300);
    expect(got.length).toBe(bounds.maxPrefetch);
    ch.ack(got[got.length - 1]!, true);
    await tick(300);
    expect(got.length).toBe(2 * bounds.maxPrefetch);
    await conn.close();
  });

  it('finding 5: under memory pressure publishers get connection.blocked and are not read; consumers keep going; unblocked after', async () => {
    const pubConn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${port}`);
    const subConn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${port}`);
    const events: string[] = [];
    pubConn.on('blocked', (reason: string) => events.push(`blocked:${reason}`));
    pubConn.on('unblocked', () => events.push('unblocked'));
    subConn.on('blocked', () => events.push('sub-blocked'));
    const pub = await pubConn.createChannel();
    const sub = await subConn.createChannel();
    const { queue } = await sub.assertQueue(`blocked-${randomUUID()}`, { durable: false, autoDelete: true });
    const got: string[] = [];
    await sub.consume(queue, (m) => m && got.push(m.content.toString()), { noAck: true });
    pub.sendToQueue(queue, Buffer.from('before'));
    await tick(200);
    expect(got).toEqual(['before']);

    fakeRss = watermark + 1;
    await tick(200);
    pub.sendToQueue(queue, Buffer.from('during-1'));
    await tick(200);
    expect(events).toEqual(['blocked:low on memory']);
    pub.sendToQueue(queue, Buffer.from('during-2'));
    await tick(300);
    // The chunk that held the first publish was handled; the connection is not read after it.
    expect(got).toEqual(['before', 'during-1']);
    // The consumer's connection was not blocked: it did not publish.
    await sub.checkQueue(queue);

    fakeRss = 0;
    await tick(300);
    expect(events).toEqual(['blocked:low on memory', 'unblocked']);
    expect(got).toEqual(['before', 'during-1', 'during-2']);
    await pubConn.close();
    await subConn.close();
  });
});
