import { randomUUID } from 'node:crypto';
import { upcastEvent } from '@lightdom/domain';
import { createCommandHandler, createEventStore, type EventStore } from '@lightdom/eventstore';
import { createLogger, createTokenRegistry } from '@lightdom/runtime';
import { createNatsTestEnv, type NatsTestEnv } from '@lightdom/testkit';
import amqp, { type Channel, type ChannelModel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AmqpServer, createAmqpServer } from '../src/index.js';

/**
 * The AMQP rows of issue 8's auth matrix and its run rules, through amqplib: a missing or
 * wrong token refuses the connection (403 during the handshake), too little right closes
 * the channel with 403, and the stream's last sequence does not move.
 */

const logger = createLogger('amqp-auth', { level: 'silent' });
let nats: NatsTestEnv;
let store: EventStore;
let strict: AmqpServer;
let guestly: AmqpServer;
let port: number;
let guestPort: number;
const conns: ChannelModel[] = [];
const tokens = createTokenRegistry([
  { token: 'tok-reader', identity: { actor: 'rita', role: 'reader' } },
  { token: 'tok-operator', identity: { actor: 'olga', role: 'operator' } },
  // The same actor with more rights: what a rotated token may grant (update-secret).
  { token: 'tok-rita-operator', identity: { actor: 'rita', role: 'operator' } },
]);

beforeAll(async () => {
  nats = await createNatsTestEnv('amqpauth');
  store = createEventStore(
    { nc: nats.nc, logger },
    { stream: nats.stream, subjectPrefix: nats.subjectPrefix, publishTimeoutMs: 1000, upcast: upcastEvent },
  );
  await store.ensureStream();
  const commands = createCommandHandler({ store, logger });
  const gateway = (suffix: string, allowGuest: boolean) =>
    createAmqpServer(
      { nc: nats.nc, commands, store, logger },
      {
        host: '127.0.0.1',
        stream: `${nats.stream}_AMQP${suffix}`,
        subjectPrefix: `${nats.subjectPrefix}_amqp${suffix}`,
        topologyBucket: `${nats.kvBucket}_AMQP${suffix}`,
        tokens,
        allowGuest,
      },
    );
  strict = gateway('', false);
  guestly = gateway('G', true);
  port = await strict.start(0);
  guestPort = await guestly.start(0);
});
afterAll(async () => {
  for (const c of conns) await c.close().catch(() => undefined);
  await strict?.stop();
  await guestly?.stop();
  await nats?.cleanup();
});

const lastSeq = async () => (await nats.jsm.streams.info(nats.stream)).state.last_seq;

async function connect(user: string, password: string, p = port) {
  const c = await amqp.connect(`amqp://${user}:${password}@127.0.0.1:${p}`);
  c.on('error', () => undefined);
  conns.push(c);
  return c;
}

/** Publishes a command with a reply queue; resolves with the reply, or rejects with the channel's close. */
async function send(
  c: ChannelModel,
  command: unknown,
  options: { headers?: Record<string, unknown>; correlationId?: string } = {},
) {
  const ch: Channel = await c.createChannel();
  const closed = new Promise<never>((_, reject) => ch.on('error', reject));
  const { queue } = await ch.assertQueue('', { exclusive: true });
  const reply = new Promise<{ body: Record<string, unknown>; headers: Record<string, unknown> }>((resolve) =>
    ch.consume(queue, (m) => {
      if (m) resolve({ body: JSON.parse(m.content.toString()), headers: m.properties.headers ?? {} });
    }),
  );
  ch.publish('lightdom.commands', '', Buffer.from(JSON.stringify(command)), {
    replyTo: queue,
    messageId: randomUUID(),
    ...options,
  });
  return Promise.race([reply, closed]);
}

const campaign = { type: 'CreateCampaign', data: { name: 'amqp-auth', budget: { amount: 1, currency: 'EUR' } } };

describe('AMQP auth matrix (issue 8)', () => {
  it('no credentials (an empty password): the connection is refused with 403 ACCESS_REFUSED', async () => {
    const seq = await lastSeq();
    await expect(connect('someone', '')).rejects.toThrow(/403 \(ACCESS-REFUSED\)/);
    expect(await lastSeq()).toBe(seq);
  });

  it('a wrong token: the connection is refused with 403 ACCESS_REFUSED', async () => {
    await expect(connect('someone', 'tok-wrong')).rejects.toThrow(/403 \(ACCESS-REFUSED\)/);
  });

  it('guest/guest is refused unless AMQP_ALLOW_GUEST; then it is a reader', async () => {
    await expect(connect('guest', 'guest')).rejects.toThrow(/403 \(ACCESS-REFUSED\)/);
    const seq = await lastSeq();
    const guest = await connect('guest', 'guest', guestPort);
    await expect(send(guest, campaign)).rejects.toThrow(/403 \(ACCESS-REFUSED\).*guest \(role reader\)/);
    expect(await lastSeq()).toBe(seq);
  });

  it('a reader token sending a command: channel closed with 403 ACCESS_REFUSED, nothing appended', async () => {
    const seq = await lastSeq();
    const reader = await connect('any', 'tok-reader');
    await expect(send(reader, campaign)).rejects.toThrow(/403 \(ACCESS-REFUSED\).*may not send CreateCampaign/);
    expect(await lastSeq()).toBe(seq);
  });

  it('an operator token sending an internal command (CompleteWorkflowStep): channel 403, nothing appended', async () => {
    const seq = await lastSeq();
    const operator = await connect('any', 'tok-operator');
    const internal = { type: 'CompleteWorkflowStep', aggregateId: 'run-1', data: { stepId: 'wait', output: 1 } };
    await expect(send(operator, internal)).rejects.toThrow(/403 \(ACCESS-REFUSED\).*internal command/);
    expect(await lastSeq()).toBe(seq);
  });

  it("an operator's command runs as its token's actor; traceparent and correlation id reach the commit", async () => {
    const operator = await connect('svc-name-is-ignored', 'tok-operator');
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const reply = await send(operator, campaign, { headers: { traceparent }, correlationId: 'corr-amqp-1' });
    expect(reply.headers['lightdom-status']).toBe('ok');
    expect(Object.keys(reply.body).sort()).toEqual(['commitId', 'duplicate', 'events', 'id', 'position', 'version']);
    expect(reply.body.position).toBe(await lastSeq());
    const [commit] = await store.readAggregate('campaign', String(reply.body.id));
    expect(commit).toMatchObject({ actor: 'olga', correlationId: 'corr-amqp-1' });
    // The commit carries the caller's trace context in its `traceparent` header (as over HTTP).
    const stored = await nats.jsm.streams.getMessage(nats.stream, { seq: Number(reply.body.position) });
    expect(stored.header.get('traceparent')).toBe(traceparent);
  });
});

describe('AMQP run rules (issue 8): RequestWorkflowRun goes through the core', () => {
  it('refuses an unknown workflow, an unknown version and steps of its own; fills a known one', async () => {
    const operator = await connect('any', 'tok-operator');
    const defined = await send(operator, {
      type: 'DefineWorkflow',
      data: { name: 'wait', steps: [{ id: 'wait', type: 'delay', input: { ms: 600_000 } }] },
    });
    const workflowId = String(defined.body.id);
    const seq = await lastSeq();
    const run = (data: unknown) => send(operator, { type: 'RequestWorkflowRun', data });
    const unknown = await run({ workflowId: 'no-such-workflow', input: {} });
    expect(unknown.body).toMatchObject({ code: 'NOT_FOUND' });
    expect(unknown.headers['lightdom-reply-code']).toBe(404);
    const version = await run({ workflowId, definitionVersion: 99, input: {} });
    expect(version.body).toMatchObject({ code: 'NOT_FOUND', errors: [{ field: 'data.definitionVersion' }] });
    const steps = await run({ workflowId, steps: [{ id: 'x', type: 'delay', input: { ms: 1 } }], input: {} });
    expect(steps.body).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ field: 'data.steps' }] });
    expect(await lastSeq()).toBe(seq);

    const ok = await run({ workflowId, input: { who: 'amqp' } });
    const [commit] = await store.readAggregate('workflowRun', String(ok.body.id));
    const requested = commit?.events[0]?.data as { steps: { id: string }[]; requestedBy: unknown };
    expect(requested.steps.map((s) => s.id)).toEqual(['wait']);
    expect(requested.requestedBy).toEqual({ actor: 'olga', role: 'operator' });
  });
});

describe('connection.update-secret (token rotation) through the identity core', () => {
  /** The connection's close, if it closes within a short while. */
  const closing = (c: ChannelModel) => new Promise<Error>((resolve) => c.once('error', resolve));

  it('a new token of the same actor is accepted and what it grants applies at once', async () => {
    const c = await connect('svc', 'tok-reader');
    await expect(send(c, campaign)).rejects.toThrow(/403/);
    await c.updateSecret(Buffer.from('tok-rita-operator'), 'rotation');
    const reply = await send(c, campaign);
    expect(reply.headers['lightdom-status']).toBe('ok');
    // And back: the reader token takes the right away again.
    await c.updateSecret(Buffer.from('tok-reader'), 'rotation');
    await expect(send(c, campaign)).rejects.toThrow(/403/);
  });

  it('an unknown token, or one of another actor, closes the connection with 530 and changes nothing', async () => {
    for (const secret of ['tok-nobody', 'tok-operator']) {
      const c = await connect('svc', 'tok-reader');
      const err = closing(c);
      // amqplib never settles update-secret when the server closes instead of answering.
      c.updateSecret(Buffer.from(secret), 'rotation').catch(() => undefined);
      expect((await err).message).toContain(
        '530 (NOT-ALLOWED) with message "NOT_ALLOWED - New secret was refused by one of the backends"',
      );
    }
  });
});
