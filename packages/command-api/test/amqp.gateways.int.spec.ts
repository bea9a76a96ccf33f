import { randomUUID } from 'node:crypto';
import { type RecordedEvent, upcastEvent } from '@lightdom/domain';
import { createCommandHandler, createEventStore } from '@lightdom/eventstore';
import { createLogger } from '@lightdom/runtime';
import type { NatsTestEnv } from '@lightdom/testkit';
import amqp, { type ConsumeMessage } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAmqpServer } from '../src/index.js';
import { gatewaySet, until } from './fixtures/gatewaySet.js';

/**
 * Several gateways on one AMQP_STREAM (docs/amqp.md, "Several gateways"): three gateway
 * processes share durable queues through one JetStream consumer per queue, see each
 * other's topology through the KV bucket, and survive a `kill -9` of one of them.
 */
const logger = createLogger('amqp-gateways-test', { level: 'silent' });
// Long enough that a survivor stalled by a loaded CI machine is not taken for dead (its "working" heartbeats go every third).
const ACK_WAIT_MS = 5000;
const set = gatewaySet('amqpgw', ACK_WAIT_MS);
const { gateways, ports, open } = set;
let nats: NatsTestEnv;
let names: { stream: string; prefix: string; bucket: string };

beforeAll(async () => {
  await set.setUp(3);
  ({ nats, names } = set);
}, 90_000);
afterAll(() => set.tearDown());

describe('AMQP: three gateways on one stream', () => {
  it('shares a durable queue and, after kill -9 of one gateway under load, every confirmed message is acked exactly once by the survivors or the dead one', async () => {
    const queue = `shared-${randomUUID()}`;
    const total = 3000;
    /** Every ack a consumer sent: message id, gateway, and whether it came marked redelivered. */
    const acks: { id: string; gw: number; redelivered: boolean }[] = [];
    for (let gw = 0; gw < 3; gw++) {
      for (let k = 0; k < 2; k++) {
        const c = await open(ports[gw]!);
        const ch = await c.createChannel();
        ch.on('error', () => undefined);
        await ch.assertQueue(queue, { durable: true });
        await ch.prefetch(25);
        await ch.consume(queue, (m: ConsumeMessage | null) => {
          if (!m) return;
          acks.push({ id: String(m.properties.messageId), gw, redelivered: m.fields.redelivered });
          setImmediate(() => {
            try {
              ch.ack(m);
            } catch {
              // The gateway is gone: the ack never reaches it, JetStream redelivers.
            }
          });
        });
      }
    }
    // Two publishers with confirms, on the gateways that live.
    const confirmed = new Set<string>();
    const publish = async (gw: number, from: number, count: number) => {
      const c = await open(ports[gw]!);
      const ch = await c.createConfirmChannel();
      for (let i = from; i < from + count; i += 50) {
        const batch: string[] = [];
        for (let j = i; j < Math.min(i + 50, from + count); j++) {
          const id = `m-${j}`;
          batch.push(id);
          ch.sendToQueue(queue, Buffer.from(id), { persistent: true, messageId: id });
        }
        await ch.waitForConfirms();
        for (const id of batch) confirmed.add(id);
      }
    };
    const publishing = Promise.all([publish(0, 0, total / 2), publish(1, total / 2, total / 2)]);
    // kill -9 the third gateway mid-load, while its consumers hold unacked deliveries.
    await until('a third of the messages confirmed and consumed on gateway 2', async () =>
      confirmed.size > total / 3 && acks.some((a) => a.gw === 2) ? true : undefined,
    );
    await gateways[2]!.kill('SIGKILL');
    const deadAcks = acks.filter((a) => a.gw === 2).length;
    await publishing;
    expect(confirmed.size).toBe(total);

    await until(
      'every confirmed message acked',
      async () => (confirmed.size === new Set(acks.map((a) => a.id)).size ? true : undefined),
      40_000,
    ).catch(async (err) => {
      const got = new Set(acks.map((a) => a.id));
      const missing = [...confirmed].filter((id) => !got.has(id));
      const consumers = await nats.jsm.consumers.list(`${names.stream}_WQ`).next();
      throw new Error(
        `${(err as Error).message}: ${missing.length} missing (${missing.slice(0, 5).join(', ')}); acks by gateway ${[0, 1, 2].map((g) => acks.filter((a) => a.gw === g).length).join('/')}; redelivered ${acks.filter((a) => a.redelivered).length}; stream ${JSON.stringify((await nats.jsm.streams.info(`${names.stream}_WQ`)).state)}; consumers ${JSON.stringify(consumers.map((c) => ({ p: c.num_pending, a: c.num_ack_pending, r: c.num_redelivered, w: c.num_waiting, f: c.ack_floor, d: c.delivered })))}\n${gateways.map((g) => g.output().slice(-1500)).join('\n')}`,
      );
    });
    // Nothing more comes once the dead gateway's deliveries are back (ack_wait passed twice).
    await new Promise((r) => setTimeout(r, 2 * ACK_WAIT_MS));
    const byId = new Map<string, typeof acks>();
    for (const a of acks) byId.set(a.id, [...(byId.get(a.id) ?? []), a]);
    expect([...byId.keys()].sort()).toEqual([...confirmed].sort());
    for (const [id, list] of byId) {
      const survivors = list.filter((a) => a.gw !== 2);
      // Exactly once across the survivors, or once on the dead gateway (its ack may have been lost).
      expect(survivors.length, `acks of ${id} on the survivors`).toBeLessThanOrEqual(1);
      if (list.length > 1) {
        // A second delivery only after the first went to the gateway that died, marked redelivered.
        expect(list[0]!.gw).toBe(2);
        expect(list.slice(1).every((a) => a.redelivered && a.gw !== 2)).toBe(true);
      }
    }
    expect(deadAcks).toBeGreaterThan(0);
    // The survivors shared the load: both had consumers that took messages.
    expect(acks.some((a) => a.gw === 0) && acks.some((a) => a.gw === 1)).toBe(true);
    const check = await (await open(ports[0]!)).createChannel();
    expect((await check.checkQueue(queue)).messageCount).toBe(0);
  }, 90_000);

  it('shows a topology change made on gateway A on gateway B', async () => {
    const a = await (await open(ports[0]!)).createChannel();
    const bConn = await open(ports[1]!);
    const b = await bConn.createConfirmChannel();
    const exchange = `topo-x-${randomUUID()}`;
    const queue = `topo-q-${randomUUID()}`;
    await a.assertExchange(exchange, 'topic', { durable: true });
    await a.assertQueue(queue, { durable: true });
    await a.bindQueue(queue, exchange, 'orders.*');

    // B routes through the binding A made: a message published on B reaches the queue.
    await until('the binding routing on B', async () => {
      b.publish(exchange, 'orders.created', Buffer.from('x'), { persistent: true });
      await b.waitForConfirms();
      const probe = await bConn.createChannel();
      const n = (await probe.checkQueue(queue)).messageCount;
      await probe.close();
      return n > 0 ? true : undefined;
    });
    const got = await until('a message of the queue on B', async () => {
      const m = await b.get(queue, { noAck: true });
      return m ? m : undefined;
    });
    expect(got.fields.routingKey).toBe('orders.created');
    await b.purgeQueue(queue);

    // Unbind on A: B stops routing there (a mandatory publish comes back).
    await a.unbindQueue(queue, exchange, 'orders.*');
    await until('the unbind seen on B', async () => {
      const returned = new Promise<boolean>((resolve) => {
        b.once('return', () => resolve(true));
        setTimeout(() => resolve(false), 300);
      });
      b.publish(exchange, 'orders.created', Buffer.from('y'), { mandatory: true });
      return (await returned) ? true : undefined;
    });

    // Deletes on A: B answers 404 for the queue and the exchange.
    await a.deleteQueue(queue);
    await a.deleteExchange(exchange);
    const gone = async (check: (c: amqp.Channel) => Promise<unknown>) => {
      const probe = await bConn.createChannel();
      probe.on('error', () => undefined);
      try {
        await check(probe);
        await probe.close();
        return undefined;
      } catch (err) {
        return /404/.test(String(err)) ? true : undefined;
      }
    };
    await until('the queue delete seen on B', () => gone((c) => c.checkQueue(queue)));
    await until('the exchange delete seen on B', () => gone((c) => c.checkExchange(exchange)));
  }, 60_000);
});

describe('AMQP: lightdom.events bindings keep their position', () => {
  it('delivers events committed while no gateway ran, once, with two gateways running', async () => {
    const store = createEventStore(
      { nc: nats.nc, logger },
      { stream: nats.stream, subjectPrefix: nats.subjectPrefix, publishTimeoutMs: 2000, upcast: upcastEvent },
    );
    await store.ensureStream();
    const commands = createCommandHandler({ store, logger });
    const ev = { stream: `${nats.stream}_EVQ`, prefix: `${nats.subjectPrefix}_evq`, bucket: `${nats.kvBucket}_EVQ` };
    const gateway = () =>
      createAmqpServer(
        { nc: nats.nc, commands, store, logger },
        {
          host: '127.0.0.1',
          stream: ev.stream,
          subjectPrefix: ev.prefix,
          topologyBucket: ev.bucket,
          allowGuest: true,
          sharedAckWaitMs: ACK_WAIT_MS,
        },
      );
    const meta = (k: string) => ({ actor: 't', correlationId: k, causationId: k });
    const create = (name: string) =>
      commands.handle(
        { type: 'CreateCampaign', data: { name, budget: { amount: 1000, currency: 'EUR' } } },
        meta(name),
      );
    const queue = `events-${randomUUID()}`;

    const first = gateway();
    const p1 = await first.start(0);
    const c1 = await amqp.connect(`amqp://guest:guest@127.0.0.1:${p1}`);
    const ch1 = await c1.createChannel();
    await create('before the binding');
    await ch1.assertQueue(queue, { durable: true });
    await ch1.bindQueue(queue, 'lightdom.events', 'campaign.#');
    const whileUp = await create('while the gateway runs');
    await until('the first event stored', async () =>
      (await ch1.checkQueue(queue)).messageCount >= 1 ? true : undefined,
    );
    await c1.close();
    await first.stop();

    // No gateway runs: these commits are only in the log.
    const down1 = await create('while no gateway ran, 1');
    const down2 = await create('while no gateway ran, 2');

    // Two gateways start on the stream; each follows the log, the queue stores each event once.
    const second = gateway();
    const third = gateway();
    const p2 = await second.start(0);
    await third.start(0);
    const after = await create('after the restart');
    const c2 = await amqp.connect(`amqp://guest:guest@127.0.0.1:${p2}`);
    const ch2 = await c2.createChannel();
    const seen: string[] = [];
    await ch2.consume(
      queue,
      (m) => {
        if (m) seen.push((JSON.parse(m.content.toString()) as RecordedEvent).aggregateId);
      },
      { noAck: true },
    );
    const expected = [whileUp.id, down1.id, down2.id, after.id];
    await until('the four events', async () => (seen.length >= expected.length ? true : undefined));
    // Time for a duplicate to show up, if the second gateway had stored one.
    await new Promise((r) => setTimeout(r, 1500));
    expect(seen).toEqual(expected);
    await c2.close();
    await second.stop();
    await third.stop();
  }, 60_000);
});
