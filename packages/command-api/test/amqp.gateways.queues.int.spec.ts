import { randomUUID } from 'node:crypto';
import type { NatsTestEnv } from '@lightdom/testkit';
import type { Channel, ConsumeMessage } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewaySet, until } from './fixtures/gatewaySet.js';

/**
 * Durable queues with the arguments that once kept a queue whole on each gateway, across
 * several gateway processes on one AMQP_STREAM (docs/amqp.md, "Several gateways on one
 * stream"): `x-single-active-consumer` through a lease per queue, with a `kill -9` of the
 * active consumer's gateway.
 */
// Short, so a takeover after kill -9 comes within seconds; long enough for a loaded machine's beats.
const ACK_WAIT_MS = 3000;
const set = gatewaySet('amqpgwq', ACK_WAIT_MS);
const { gateways, ports, open } = set;
let nats: NatsTestEnv;
let names: { stream: string; prefix: string; bucket: string };

async function channel(gw: number) {
  const ch = await (await open(ports[gw]!)).createChannel();
  ch.on('error', () => undefined);
  return ch;
}

async function publish(gw: number, queue: string, ids: string[]) {
  const ch = await (await open(ports[gw]!)).createConfirmChannel();
  for (const id of ids) ch.sendToQueue(queue, Buffer.from(id), { persistent: true, messageId: id });
  await ch.waitForConfirms();
}

const ids = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `m-${from + i}`);

/** A consumer recording each delivery: its message id and whether it came marked redelivered. */
function recorder() {
  const got: { id: string; redelivered: boolean; m: ConsumeMessage }[] = [];
  return {
    got,
    on: (m: ConsumeMessage | null) => {
      if (m) got.push({ id: String(m.properties.messageId), redelivered: m.fields.redelivered, m });
    },
  };
}

/** The JetStream consumer of a shared queue, found by its subject. */
async function consumerOf(queue: string) {
  const subject = `${names.prefix}.w.${Buffer.from(queue).toString('base64url')}`;
  const list = await nats.jsm.consumers.list(`${names.stream}_WQ`).next();
  return list.find((c) => c.config.filter_subject === subject);
}

const sacQueue = async (ch: Channel, queue: string) =>
  ch.assertQueue(queue, { durable: true, arguments: { 'x-single-active-consumer': true } });

beforeAll(async () => {
  await set.setUp(3);
  ({ nats, names } = set);
}, 90_000);
afterAll(() => set.tearDown());

/** A durable queue with `x-message-ttl` dead-lettering to a durable fanout exchange and its queue. */
async function ttlQueue(ch: Channel, ttl: number) {
  const id = randomUUID();
  const dlx = `ttl-dlx-${id}`;
  const source = `ttl-src-${id}`;
  const dead = `ttl-dead-${id}`;
  await ch.assertExchange(dlx, 'fanout', { durable: true });
  await ch.assertQueue(dead, { durable: true });
  await ch.bindQueue(dead, dlx, '');
  await ch.assertQueue(source, {
    durable: true,
    arguments: { 'x-message-ttl': ttl, 'x-dead-letter-exchange': dlx },
  });
  for (const q of [source, dead]) await known(q);
  return { source, dead };
}

/** Waits until every gateway knows a queue declared on one of them (the topology watch). */
async function known(queue: string) {
  for (let gw = 0; gw < gateways.length; gw++) {
    await until(`queue ${queue} on gateway ${gw}`, async () => {
      const probe = await (await open(ports[gw]!)).createChannel();
      probe.on('error', () => undefined);
      await probe.checkQueue(queue);
      await probe.close();
      return true;
    });
  }
}

/** Collects a queue's messages on one gateway, acking each. */
async function drainer(gw: number, queue: string) {
  const ch = await channel(gw);
  const got: ConsumeMessage[] = [];
  await ch.consume(queue, (m) => {
    if (!m) return;
    got.push(m);
    ch.ack(m);
  });
  return got;
}

const deathOf = (m: ConsumeMessage) => m.properties.headers?.['x-death']?.[0];

describe('AMQP: x-message-ttl across gateways', () => {
  it('expires messages no gateway consumes and dead-letters each once, with x-death, whichever gateway they were published on', async () => {
    const ch = await channel(0);
    const { source, dead } = await ttlQueue(ch, 500);
    const deadOn2 = await drainer(2, dead);
    await publish(1, source, ids(0, 20));
    await publish(2, source, ids(20, 40));
    await until('40 dead-lettered messages', async () => (deadOn2.length >= 40 ? true : undefined)).catch(
      async (err) => {
        const counts = [];
        for (const gw of [0, 1, 2]) counts.push((await (await channel(gw)).checkQueue(source)).messageCount);
        throw new Error(
          `${(err as Error).message}: ${deadOn2.length} dead-lettered; source count by gateway ${counts.join('/')}; consumer ${JSON.stringify(await consumerOf(source))}\n${gateways.map((g) => g.output().slice(-1500)).join('\n')}`,
        );
      },
    );
    // Three gateways sweep the queue: time for a second copy to show up, if one were coming.
    await new Promise((r) => setTimeout(r, 1500));
    expect(deadOn2.map((m) => String(m.properties.messageId)).sort()).toEqual(ids(0, 40).sort());
    for (const m of deadOn2) {
      const death = deathOf(m);
      expect(death?.reason).toBe('expired');
      expect(death?.queue).toBe(source);
      expect(Number(death?.count)).toBe(1);
      expect(m.properties.headers?.['x-first-death-reason']).toBe('expired');
    }
    for (const gw of [0, 1, 2]) expect((await (await channel(gw)).checkQueue(source)).messageCount).toBe(0);
  }, 60_000);

  it('expires the messages waiting behind a busy consumer on another gateway; the one it holds stays', async () => {
    const ch = await channel(0);
    const { source, dead } = await ttlQueue(ch, 800);
    const deadOn1 = await drainer(1, dead);
    const busy = await channel(2);
    await busy.prefetch(1);
    const held: ConsumeMessage[] = [];
    // Never acks: the first message stays with it, the others wait in the queue and expire.
    await busy.consume(source, (m) => {
      if (m) held.push(m);
    });
    await publish(0, source, ids(0, 30));
    await until('29 dead-lettered messages', async () => (deadOn1.length >= 29 ? true : undefined));
    await new Promise((r) => setTimeout(r, 1500));
    expect(held.map((m) => String(m.properties.messageId))).toEqual(['m-0']);
    expect(deadOn1.map((m) => String(m.properties.messageId)).sort()).toEqual(ids(1, 30).sort());
    expect(deadOn1.every((m) => deathOf(m)?.reason === 'expired')).toBe(true);
  }, 60_000);
});

/** Publishes each id with confirms and says, per id, whether the gateway took it (ack) or refused it (nack). */
async function publishOutcomes(gw: number, queue: string, list: string[], body: (id: string) => Buffer) {
  const ch = await (await open(ports[gw]!)).createConfirmChannel();
  ch.on('error', () => undefined);
  const outcomes = await Promise.all(
    list.map(
      (id) =>
        new Promise<[string, boolean]>((resolve) =>
          ch.sendToQueue(queue, body(id), { persistent: true, messageId: id }, (err) => resolve([id, !err])),
        ),
    ),
  );
  return outcomes;
}

describe('AMQP: x-max-length / x-max-length-bytes with reject-publish across gateways', () => {
  it('takes exactly the limit from publishers on two gateways and nacks the rest; room made by acks is taken again', async () => {
    const ch = await channel(0);
    const byCount = `bounded-n-${randomUUID()}`;
    const byBytes = `bounded-b-${randomUUID()}`;
    await ch.assertQueue(byCount, { durable: true, arguments: { 'x-max-length': 10, 'x-overflow': 'reject-publish' } });
    await ch.assertQueue(byBytes, {
      durable: true,
      arguments: { 'x-max-length-bytes': 50, 'x-overflow': 'reject-publish' },
    });
    await known(byCount);
    await known(byBytes);
    const tenBytes = (id: string) => Buffer.from(id.padEnd(10, '.'));
    const outcomes = await Promise.all([
      publishOutcomes(1, byCount, ids(0, 15), tenBytes),
      publishOutcomes(2, byCount, ids(15, 30), tenBytes),
      publishOutcomes(1, byBytes, ids(0, 8), tenBytes),
      publishOutcomes(2, byBytes, ids(8, 16), tenBytes),
    ]);
    const taken = (list: [string, boolean][][]) =>
      list
        .flat()
        .filter(([, ok]) => ok)
        .map(([id]) => id);
    const countTaken = taken(outcomes.slice(0, 2));
    const bytesTaken = taken(outcomes.slice(2));
    expect(countTaken.length).toBe(10);
    expect(bytesTaken.length).toBe(5);
    for (const gw of [0, 1, 2]) {
      const probe = await channel(gw);
      expect((await probe.checkQueue(byCount)).messageCount).toBe(10);
      expect((await probe.checkQueue(byBytes)).messageCount).toBe(5);
    }
    // The queue holds exactly the messages that were confirmed.
    const got: string[] = [];
    for (let m = await ch.get(byCount); m; m = await ch.get(byCount)) {
      got.push(String(m.properties.messageId));
      ch.ack(m);
    }
    expect(got.sort()).toEqual([...countTaken].sort());
    // Acked on gateway 0: gateway 1 has room again.
    const again = await until('room again after the acks', async () => {
      const [[, ok]] = (await publishOutcomes(1, byCount, ['again'], tenBytes)) as [[string, boolean]];
      return ok ? true : undefined;
    });
    expect(again).toBe(true);
  }, 60_000);
});

describe('AMQP: x-max-length / x-max-length-bytes with drop-head across gateways', () => {
  it('keeps the newest messages published on two gateways and dead-letters each older one once (maxlen)', async () => {
    const ch = await channel(0);
    const id = randomUUID();
    const dlx = `dh-dlx-${id}`;
    const dead = `dh-dead-${id}`;
    const byCount = `dh-n-${id}`;
    const byBytes = `dh-b-${id}`;
    await ch.assertExchange(dlx, 'fanout', { durable: true });
    await ch.assertQueue(dead, { durable: true });
    await ch.bindQueue(dead, dlx, '');
    await ch.assertQueue(byCount, { durable: true, arguments: { 'x-max-length': 5, 'x-dead-letter-exchange': dlx } });
    await ch.assertQueue(byBytes, {
      durable: true,
      arguments: { 'x-max-length-bytes': 30, 'x-dead-letter-exchange': dlx },
    });
    for (const q of [dead, byCount, byBytes]) await known(q);
    const deadOn2 = await drainer(2, dead);
    const tenBytes = (m: string) => Buffer.from(m.padEnd(10, '.'));
    for (const q of [byCount, byBytes]) {
      await publishOutcomes(1, q, ids(0, 10), tenBytes);
      await publishOutcomes(2, q, ids(10, 20), tenBytes);
    }
    const deadFrom = (q: string) => deadOn2.filter((m) => deathOf(m)?.queue === q);
    await until('15 + 17 dead-lettered', async () =>
      deadFrom(byCount).length >= 15 && deadFrom(byBytes).length >= 17 ? true : undefined,
    );
    // Time for a second trim to drop more than it should, if one were coming.
    await new Promise((r) => setTimeout(r, 1500));
    const deadIds = (q: string) =>
      deadFrom(q)
        .map((m) => String(m.properties.messageId))
        .sort();
    expect(deadIds(byCount)).toEqual(ids(0, 15).sort());
    expect(deadIds(byBytes)).toEqual(ids(0, 17).sort());
    expect(deadOn2.every((m) => deathOf(m)?.reason === 'maxlen')).toBe(true);
    for (const gw of [0, 1, 2]) {
      const probe = await channel(gw);
      expect((await probe.checkQueue(byCount)).messageCount).toBe(5);
      expect((await probe.checkQueue(byBytes)).messageCount).toBe(3);
    }
    const left: string[] = [];
    for (let m = await ch.get(byCount, { noAck: true }); m; m = await ch.get(byCount, { noAck: true })) {
      left.push(String(m.properties.messageId));
    }
    expect(left).toEqual(ids(15, 20));
  }, 60_000);
});

/** Whether a queue exists on a gateway (a passive declare there), as true / false. */
async function exists(gw: number, queue: string) {
  const probe = await (await open(ports[gw]!)).createChannel();
  probe.on('error', () => undefined);
  try {
    await probe.checkQueue(queue);
    await probe.close();
    return true;
  } catch (err) {
    if (/404/.test(String(err))) return false;
    throw err;
  }
}

/**
 * Waits until a queue is deleted for all gateways (its key gone from the topology bucket, read
 * without a passive declare, which would count as a use), then sees a 404 on each gateway.
 */
async function expired(queue: string, on = [0, 1, 2]) {
  const kv = await nats.nc.jetstream().views.kv(names.bucket);
  const key = `q.${Buffer.from(queue).toString('base64url')}`;
  await until('the queue deleted in the bucket', async () => {
    const e = await kv.get(key);
    return e === null || e.operation !== 'PUT' ? true : undefined;
  });
  for (const gw of on) {
    await until(`the queue gone on gateway ${gw}`, async () => ((await exists(gw, queue)) ? undefined : true));
  }
}

describe('AMQP: x-expires across gateways', () => {
  it('a consumer on another gateway keeps the queue; once it leaves, the queue expires on every gateway', async () => {
    const queue = `expires-${randomUUID()}`;
    const ch = await channel(0);
    await ch.assertQueue(queue, { durable: true, arguments: { 'x-expires': 1500 } });
    await known(queue);
    const consumerCh = await channel(1);
    const { consumerTag } = await consumerCh.consume(queue, () => undefined, { noAck: true });
    // Well past x-expires (counted from the declare) with the consumer on gateway 1 only.
    await new Promise((r) => setTimeout(r, 4000));
    for (const gw of [0, 1, 2]) expect(await exists(gw, queue), `queue on gateway ${gw}`).toBe(true);

    await consumerCh.cancel(consumerTag);
    await expired(queue);
  }, 60_000);

  it('basic.get on another gateway keeps the queue in use', async () => {
    const queue = `expires-get-${randomUUID()}`;
    const ch = await channel(0);
    await ch.assertQueue(queue, { durable: true, arguments: { 'x-expires': 1500 } });
    await known(queue);
    const getter = await channel(2);
    // Reads on gateway 2 every 300 ms for 4 s: gateway 0, which sees no use of its own, keeps the queue.
    const end = Date.now() + 4000;
    while (Date.now() < end) {
      await getter.get(queue, { noAck: true });
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(await exists(0, queue)).toBe(true);
    await expired(queue);
  }, 60_000);
});

describe('AMQP: x-single-active-consumer across gateways', () => {
  it('gives one consumer everything; when it cancels, a consumer on another gateway takes over', async () => {
    const queue = `sac-cancel-${randomUUID()}`;
    const chA = await channel(1);
    const chB = await channel(2);
    await sacQueue(chA, queue);
    await sacQueue(chB, queue);
    const a = recorder();
    const b = recorder();
    const { consumerTag: tagA } = await chA.consume(queue, a.on, { noAck: true });
    await publish(2, queue, ids(0, 1));
    await until('the first message on A', async () => (a.got.length === 1 ? true : undefined));
    await chB.consume(queue, b.on, { noAck: true });
    // Published on B's gateway: it still goes to A, the active consumer.
    await publish(2, queue, ids(1, 50));
    await until('50 messages on A', async () => (a.got.length === 50 ? true : undefined));
    expect(b.got).toEqual([]);

    await chA.cancel(tagA);
    await publish(1, queue, ids(50, 80));
    await until('30 messages on B', async () => (b.got.length === 30 ? true : undefined));
    expect(a.got.map((g) => g.id)).toEqual(ids(0, 50));
    expect(b.got.map((g) => g.id)).toEqual(ids(50, 80));
  }, 60_000);

  it('after kill -9 of the active consumer’s gateway, a consumer on another gateway gets every unacked message, each acked once overall', async () => {
    const queue = `sac-kill-${randomUUID()}`;
    const chA = await channel(0);
    const chB = await channel(1);
    await sacQueue(chA, queue);
    await known(queue);
    await chA.prefetch(10);
    await chB.prefetch(10);
    const a = recorder();
    const b = recorder();
    const acked: string[] = [];
    // A acks the first 50 and then holds what it gets, unacked, until its gateway dies.
    await chA.consume(queue, (m) => {
      a.on(m);
      if (m && a.got.length <= 50) {
        acked.push(String(m.properties.messageId));
        chA.ack(m);
      }
    });
    await publish(1, queue, ids(0, 1));
    await until('the first message on A', async () => (a.got.length === 1 ? true : undefined));
    await chB.consume(queue, (m) => {
      b.on(m);
      if (m) {
        acked.push(String(m.properties.messageId));
        chB.ack(m);
      }
    });
    await publish(1, queue, ids(1, 200));
    await until('A holding 10 unacked after 50 acked', async () => (a.got.length === 60 ? true : undefined));
    // A's acks have reached JetStream: 150 messages left, some held by A's gateway.
    await until('the 50 acks at JetStream', async () => {
      const info = await consumerOf(queue);
      return info && info.num_ack_pending >= 10 && info.num_pending + info.num_ack_pending === 150 ? true : undefined;
    });
    expect(b.got).toEqual([]);

    await gateways[0]!.kill('SIGKILL');
    await until('B has the 150 messages A did not ack', async () => (b.got.length >= 150 ? true : undefined), 60_000);
    // Time for a duplicate to show up, if one were coming (ack_wait passed twice).
    await new Promise((r) => setTimeout(r, 2 * ACK_WAIT_MS));
    expect(a.got.map((g) => g.id)).toEqual(ids(0, 60));
    expect([...b.got.map((g) => g.id)].sort()).toEqual(ids(50, 200).sort());
    // Those A held unacked come back marked redelivered (and so may the few its gateway had pulled ahead).
    for (const g of b.got) if (Number(g.id.slice(2)) < 60) expect(g.redelivered, g.id).toBe(true);
    // In order: the takeover waits until JetStream has the dead gateway's deliveries due again.
    expect(b.got.map((g) => g.id)).toEqual(ids(50, 200));
    // Acked exactly once in the whole set of gateways.
    expect(acked.length).toBe(200);
    expect(new Set(acked).size).toBe(200);
    await until('the queue empty at JetStream', async () => {
      const info = await consumerOf(queue);
      return info?.num_ack_pending === 0 && info.num_pending === 0 ? true : undefined;
    });
  }, 120_000);
});

describe('AMQP: the coordination of a gateway killed with kill -9 is taken over', () => {
  it('x-expires: its consumer keeps the queue only until its presence goes stale; drop-head: another gateway becomes the keeper', async () => {
    // A fourth gateway of its own, to kill.
    const port = await set.spawn('amqp-gateway-q3');
    const extra = gateways.at(-1)!;
    const ch = await (await open(port)).createChannel();
    ch.on('error', () => undefined);
    const id = randomUUID();
    const idle = `kill-expires-${id}`;
    const bounded = `kill-dh-${id}`;
    await ch.assertQueue(idle, { durable: true, arguments: { 'x-expires': 1000 } });
    await ch.assertQueue(bounded, { durable: true, arguments: { 'x-max-length': 3 } });
    for (const gw of [1, 2]) {
      for (const q of [idle, bounded]) {
        await until(`${q} on gateway ${gw}`, async () => ((await exists(gw, q)) ? true : undefined));
      }
    }
    await ch.consume(idle, () => undefined, { noAck: true });
    // Published through the extra gateway, which so becomes the drop-head keeper.
    const pub = await (await open(port)).createConfirmChannel();
    for (const m of ids(0, 5)) pub.sendToQueue(bounded, Buffer.from(m), { persistent: true, messageId: m });
    await pub.waitForConfirms();
    await until('the extra gateway trimmed to 3', async () =>
      (await consumerOf(bounded))?.num_pending === 3 ? true : undefined,
    );
    // Past x-expires: the consumer on the extra gateway keeps the queue.
    await new Promise((r) => setTimeout(r, 2000));
    expect(await exists(1, idle)).toBe(true);

    await extra.kill('SIGKILL');
    // The dead gateway's presence goes stale after the ack wait, then x-expires runs out.
    await expired(idle, [1, 2]);
    // Appends through gateway 1 are trimmed once gateway 1 or 2 has taken the keeper lease over.
    await publish(1, bounded, ids(5, 10));
    await until(
      'the queue trimmed to 3 by a surviving gateway',
      async () => ((await consumerOf(bounded))?.num_pending === 3 ? true : undefined),
      30_000,
    );
    const left: string[] = [];
    const get = await channel(1);
    for (let m = await get.get(bounded, { noAck: true }); m; m = await get.get(bounded, { noAck: true })) {
      left.push(String(m.properties.messageId));
    }
    expect(left).toEqual(ids(7, 10));
  }, 120_000);
});
