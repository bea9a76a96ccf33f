import { randomUUID } from 'node:crypto';
import { connect as tcpConnect } from 'node:net';
import { type RecordedEvent, upcastEvent } from '@lightdom/domain';
import { type CommandHandler, createCommandHandler, createEventStore, type EventStore } from '@lightdom/eventstore';
import { createLogger, createMetricsRegistry, createTokenRegistry } from '@lightdom/runtime';
import { createNatsTestEnv, type NatsTestEnv } from '@lightdom/testkit';
import amqp, { type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AmqpServer, createAmqpServer, type LightdomAmqpOptions } from '../src/index.js';

const logger = createLogger('amqp-test', { level: 'silent' });
let nats: NatsTestEnv;
let store: EventStore;
let commands: CommandHandler;
let server: AmqpServer;
let port: number;
let conn: ChannelModel;
const registry = createMetricsRegistry('command-api');
const servers: AmqpServer[] = [];
/** An operator token: the main connection sends commands with it; guest is allowed (a reader). */
const tokens = createTokenRegistry([
  { token: 'tok-op', identity: { actor: 'amqp-operator', role: 'operator' } },
  { token: 'tok-1', identity: { actor: 'svc-amqp', role: 'operator' } },
]);

function gateway(options: Partial<LightdomAmqpOptions> = {}) {
  const s = createAmqpServer(
    { nc: nats.nc, commands, store, logger, registry },
    {
      host: '127.0.0.1',
      stream: `${nats.stream}_AMQP`,
      subjectPrefix: `${nats.subjectPrefix}_amqp`,
      topologyBucket: `${nats.kvBucket}_AMQP`,
      tokens,
      allowGuest: true,
      ...options,
    },
  );
  servers.push(s);
  return s;
}

beforeAll(async () => {
  nats = await createNatsTestEnv('amqp');
  store = createEventStore(
    { nc: nats.nc, logger },
    { stream: nats.stream, subjectPrefix: nats.subjectPrefix, publishTimeoutMs: 1000, upcast: upcastEvent },
  );
  await store.ensureStream();
  commands = createCommandHandler({ store, logger });
  server = gateway();
  port = await server.start(0);
  conn = await amqp.connect(`amqp://any:tok-op@127.0.0.1:${port}`);
});

afterAll(async () => {
  await conn?.close().catch(() => undefined);
  for (const s of servers) await s.stop();
  await nats?.jsm.streams.delete(`${nats.stream}_AMQP`).catch(() => undefined);
  await nats?.cleanup();
});

/** The next `n` messages of a queue (no-ack), then the consumer is cancelled. */
const take = (ch: Channel, queue: string, n: number) =>
  new Promise<ConsumeMessage[]>((resolve) => {
    const got: ConsumeMessage[] = [];
    const tag = `t-${randomUUID()}`;
    ch.consume(
      queue,
      (m) => {
        if (!m || got.length >= n) return;
        got.push(m);
        if (got.length === n) {
          ch.cancel(tag).catch(() => undefined);
          resolve(got);
        }
      },
      { noAck: true, consumerTag: tag },
    );
  });
const next = async (ch: Channel, queue: string) => (await take(ch, queue, 1))[0]!;

const createCampaign = (name: string) => ({
  type: 'CreateCampaign',
  data: { name, budget: { amount: 1000, currency: 'EUR' } },
});

describe('AMQP gateway: connection', () => {
  it('completes the handshake and announces its capabilities', () => {
    const props = conn.connection.serverProperties as Record<string, unknown>;
    expect(props.product).toBe('LightDom AMQP gateway');
    expect(props.capabilities).toMatchObject({ publisher_confirms: true, 'basic.nack': true, direct_reply_to: true });
  });

  it('refuses a wrong password with 403 ACCESS_REFUSED', async () => {
    await expect(amqp.connect(`amqp://guest:wrong@127.0.0.1:${port}`)).rejects.toThrow(/ACCESS_REFUSED|403/);
  });

  it('takes a token as the password and, without AMQP_ALLOW_GUEST, refuses guest', async () => {
    const s = gateway({ allowGuest: false, subjectPrefix: `${nats.subjectPrefix}_amqptok` });
    const p = await s.start(0);
    await expect(amqp.connect(`amqp://guest:guest@127.0.0.1:${p}`)).rejects.toThrow(/ACCESS_REFUSED|403/);
    const c = await amqp.connect(`amqp://any:tok-1@127.0.0.1:${p}`);
    const ch = await c.createChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(queue, 'lightdom.events', 'campaign.CampaignCreated');
    const created = await commands.handle(createCampaign('by token'), {
      actor: 'x',
      correlationId: 'c',
      causationId: 'c',
    });
    // The actor of AMQP commands is the token's: run one through lightdom.commands.
    const reply = await ch.assertQueue('', { exclusive: true });
    ch.publish('lightdom.commands', '', Buffer.from(JSON.stringify(createCampaign('token actor'))), {
      replyTo: reply.queue,
    });
    const result = JSON.parse((await next(ch, reply.queue)).content.toString()) as { id: string };
    const events = await take(ch, queue, 2);
    const ids = events.map((m) => (JSON.parse(m.content.toString()) as RecordedEvent).aggregateId);
    expect(ids).toContain(created.id);
    const mine = events
      .map((m) => JSON.parse(m.content.toString()) as RecordedEvent)
      .find((e) => e.aggregateId === result.id);
    expect(mine?.actor).toBe('svc-amqp');
    await c.close();
  });

  it('answers another protocol header with its own and closes, and starts 0-9-1 with connection.start', async () => {
    const exchange = (header: string) =>
      new Promise<Buffer>((resolve, reject) => {
        const socket = tcpConnect(port, '127.0.0.1');
        const chunks: Buffer[] = [];
        socket.on('data', (d) => {
          chunks.push(d);
          if (header.endsWith('\x09\x01')) socket.destroy();
        });
        socket.on('close', () => resolve(Buffer.concat(chunks)));
        socket.on('error', reject);
        socket.write(Buffer.from(header, 'latin1'));
      });
    expect((await exchange('AMQP\x01\x01\x00\x0a')).toString('latin1')).toBe('AMQP\x00\x00\x09\x01');
    const start = await exchange('AMQP\x00\x00\x09\x01');
    expect([start[0], start.readUInt16BE(7), start.readUInt16BE(9)]).toEqual([1, 10, 10]);
  });

  it('keeps an idle connection alive with heartbeats', async () => {
    const c = await amqp.connect(`amqp://guest:guest@127.0.0.1:${port}?heartbeat=1`);
    let closedEarly = false;
    c.on('close', () => {
      closedEarly = true;
    });
    await new Promise((r) => setTimeout(r, 2500));
    expect(closedEarly).toBe(false);
    const ch = await c.createChannel();
    await ch.checkExchange('lightdom.events');
    await c.close();
  });

  it('rejects an unknown virtual host with 530 NOT_ALLOWED', async () => {
    await expect(amqp.connect(`amqp://guest:guest@127.0.0.1:${port}/other`)).rejects.toThrow(
      /NOT_ALLOWED|530|ConnectionClose/,
    );
  });
});

describe('AMQP gateway: limits', () => {
  it('refuses a message above the size limit with 406, as RabbitMQ does above its max size', async () => {
    const ch = await conn.createChannel();
    const err = new Promise<Error>((resolve) => ch.once('error', resolve));
    ch.sendToQueue('any', Buffer.alloc(1_100_000));
    expect((await err).message).toMatch(
      /PRECONDITION_FAILED - message size 1100000 is larger than configured max size \d+/,
    );
  });
});

describe('AMQP gateway: lightdom.commands', () => {
  it('runs a command published with reply_to and returns its CommandResult with the correlation id', async () => {
    const ch = await conn.createChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    const correlationId = randomUUID();
    ch.publish('lightdom.commands', 'CreateCampaign', Buffer.from(JSON.stringify(createCampaign('Spring'))), {
      replyTo: queue,
      correlationId,
      contentType: 'application/json',
    });
    const reply = await next(ch, queue);
    expect(reply.properties.correlationId).toBe(correlationId);
    expect(reply.properties.headers).toMatchObject({ 'lightdom-status': 'ok' });
    const result = JSON.parse(reply.content.toString()) as { id: string; version: number; position: number };
    expect(result).toMatchObject({ version: 1, duplicate: false, events: ['CampaignCreated'] });
    expect(result.position).toBeGreaterThan(0);
    await ch.close();
  });

  it('returns a validation error naming the field for a bad command', async () => {
    const ch = await conn.createChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    ch.publish(
      'lightdom.commands',
      '',
      Buffer.from(JSON.stringify({ type: 'CreateCampaign', data: { name: 'No budget' } })),
      { replyTo: queue, correlationId: 'bad-1' },
    );
    const reply = await next(ch, queue);
    expect(reply.properties.type).toBe('Error');
    expect(reply.properties.correlationId).toBe('bad-1');
    expect(reply.properties.headers).toMatchObject({ 'lightdom-status': 'error', 'lightdom-reply-code': 406 });
    const body = JSON.parse(reply.content.toString()) as { code: string; errors: { field: string }[] };
    expect(body.code).toBe('VALIDATION_FAILED');
    expect(body.errors.map((e) => e.field)).toContain('data.budget');
    await ch.close();
  });

  it('answers through the direct reply-to pseudo queue', async () => {
    const ch = await conn.createChannel();
    const reply = next(ch, 'amq.rabbitmq.reply-to');
    await new Promise((r) => setTimeout(r, 50));
    ch.publish('lightdom.commands', '', Buffer.from('not json'), {
      replyTo: 'amq.rabbitmq.reply-to',
      correlationId: 'rt-1',
    });
    const m = await reply;
    expect(m.properties.correlationId).toBe('rt-1');
    expect(JSON.parse(m.content.toString())).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' });
    await ch.close();
  });
});

describe('AMQP gateway: metrics', () => {
  it('counts connections, published and delivered messages and command outcomes', async () => {
    const text = await registry.metrics();
    expect(text).toMatch(/^lightdom_amqp_connections(\{[^}]*\})? [1-9]/m);
    expect(text).toMatch(/^lightdom_amqp_published_total(\{[^}]*\})? [1-9]/m);
    expect(text).toMatch(/^lightdom_amqp_delivered_total(\{[^}]*\})? [1-9]/m);
    expect(text).toMatch(/^lightdom_amqp_commands_total\{outcome="VALIDATION_FAILED"[^}]*\} 1$/m);
    expect(text).toMatch(/^lightdom_amqp_commands_total\{outcome="ok"[^}]*\} [1-9]/m);
  });
});

describe('AMQP gateway: lightdom.events', () => {
  it('delivers events committed after the binding, by routing key, with their position', async () => {
    const before = await commands.handle(createCampaign('before'), {
      actor: 't',
      correlationId: 'b',
      causationId: 'b',
    });
    const ch = await conn.createChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(queue, 'lightdom.events', 'campaign.CampaignCreated');
    const other = (await ch.assertQueue('', { exclusive: true })).queue;
    await ch.bindQueue(other, 'lightdom.events', 'workflow.#');
    const after = await commands.handle(createCampaign('after'), { actor: 't', correlationId: 'a', causationId: 'a' });
    const m = await next(ch, queue);
    const event = JSON.parse(m.content.toString()) as RecordedEvent;
    expect(event).toMatchObject({ type: 'CampaignCreated', aggregateId: after.id, position: after.position });
    expect(event.aggregateId).not.toBe(before.id);
    expect(m.fields).toMatchObject({ exchange: 'lightdom.events', routingKey: 'campaign.CampaignCreated' });
    expect(m.properties.headers).toMatchObject({ 'lightdom-position': after.position, 'lightdom-index': 0 });
    expect((await ch.checkQueue(other)).messageCount).toBe(0);
    await ch.close();
  });

  it('matches # and * patterns and delivers an event once per queue however many bindings match', async () => {
    const ch = await conn.createChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(queue, 'lightdom.events', 'campaign.#');
    await ch.bindQueue(queue, 'lightdom.events', '*.CampaignCreated');
    const created = await commands.handle(createCampaign('patterns'), {
      actor: 't',
      correlationId: 'p',
      causationId: 'p',
    });
    const [m] = await take(ch, queue, 1);
    expect(JSON.parse(m!.content.toString())).toMatchObject({ aggregateId: created.id, type: 'CampaignCreated' });
    await new Promise((r) => setTimeout(r, 100));
    expect((await ch.checkQueue(queue)).messageCount).toBe(0);
    await ch.close();
  });

  it('refuses publishes to lightdom.events with 403', async () => {
    const ch = await conn.createChannel();
    const err = new Promise<Error>((resolve) => ch.once('error', resolve));
    ch.publish('lightdom.events', 'campaign.CampaignCreated', Buffer.from('{}'));
    expect((await err).message).toContain('403');
  });
});

describe('AMQP gateway: durability', () => {
  it('keeps durable queues, bindings and unacked messages in JetStream across a restart', async () => {
    const names = {
      stream: `${nats.stream}_AMQPD`,
      subjectPrefix: `${nats.subjectPrefix}_amqpd`,
      topologyBucket: `${nats.kvBucket}_AMQPD`,
    };
    const first = gateway(names);
    const p1 = await first.start(0);
    const c1 = await amqp.connect(`amqp://guest:guest@127.0.0.1:${p1}`);
    const ch = await c1.createConfirmChannel();
    await ch.assertExchange('jobs', 'direct', { durable: true });
    await ch.assertQueue('workflow-tasks', { durable: true });
    await ch.bindQueue('workflow-tasks', 'jobs', 'task');
    for (const n of ['a', 'b', 'c', 'd', 'e'])
      ch.publish('jobs', 'task', Buffer.from(n), { persistent: true, messageId: n });
    await ch.waitForConfirms();
    const taken = [];
    for (let i = 0; i < 5; i++) {
      const m = await ch.get('workflow-tasks');
      if (!m) throw new Error('get-empty');
      taken.push(m);
    }
    // Acks out of order; b and d stay unacked and must come back.
    for (const i of [2, 4, 0]) ch.ack(taken[i]!);
    // Closing the channel first flushes its acks: amqplib may write a connection.close ahead of them.
    await ch.close();
    await c1.close();
    await first.stop();
    // Durable queues are shared by the gateways: their messages live in the work-queue stream.
    // JetStream applies acks on its own time (an ack is a publish with no reply): poll.
    await expect
      .poll(async () => (await nats.jsm.streams.info(`${names.stream}_WQ`)).state.messages, { timeout: 10_000 })
      .toBe(2);

    const second = gateway(names);
    const p2 = await second.start(0);
    const c2 = await amqp.connect(`amqp://guest:guest@127.0.0.1:${p2}`);
    const ch2 = await c2.createConfirmChannel();
    expect((await ch2.checkQueue('workflow-tasks')).messageCount).toBe(2);
    ch2.publish('jobs', 'task', Buffer.from('f'));
    await ch2.waitForConfirms();
    const got: string[] = [];
    for (let i = 0; i < 3; i++) {
      const m = await ch2.get('workflow-tasks', { noAck: true });
      if (m) got.push(`${m.content.toString()}:${m.properties.messageId ?? ''}`);
    }
    expect(got).toEqual(['b:b', 'd:d', 'f:']);
    await ch2.deleteQueue('workflow-tasks');
    await ch2.deleteExchange('jobs');
    await c2.close();
    await nats.jsm.streams.delete(names.stream).catch(() => undefined);
  });
});

// After the metrics test, which counts this file's earlier command outcomes exactly.
describe('AMQP gateway: signals', () => {
  it('carries SignalWorkflowRun to a run (issue 14), the same envelope as every edge', async () => {
    const ch = await conn.createChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    const send = async (command: unknown) => {
      ch.publish('lightdom.commands', '', Buffer.from(JSON.stringify(command)), {
        replyTo: queue,
        correlationId: randomUUID(),
      });
      const reply = await next(ch, queue);
      return { type: reply.properties.type, body: JSON.parse(reply.content.toString()) };
    };
    const steps = [{ id: 'ok', type: 'wait.signal', input: { name: 'approval' } }];
    const wf = await send({ type: 'DefineWorkflow', data: { name: 'amqp-signal', steps } });
    const run = await send({ type: 'RequestWorkflowRun', data: { workflowId: wf.body.id } });
    const signal = {
      type: 'SignalWorkflowRun',
      aggregateId: run.body.id,
      data: { name: 'approval', payload: { by: 'amqp' } },
    };
    expect((await send(signal)).body).toMatchObject({ events: ['WorkflowSignalReceived'] });
    const refused = await send({ ...signal, data: { name: 'nope' } });
    expect(refused.type).toBe('Error');
    expect(refused.body.errors.map((e: { field: string }) => e.field)).toEqual(['data.name']);
    await ch.close();
  });
});
