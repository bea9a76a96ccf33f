import { type CallOptions, Metadata, type ServiceError, status as Status } from '@grpc/grpc-js';
import {
  type AmqpServer,
  createAmqpServer,
  createCampaignQueries,
  createGrpcServer,
  createLightdomClients,
  createPositionWaiter,
  type GrpcServer,
  type LightdomClients,
  lightdomErrorOf,
  type PositionWaiter,
  type ServiceClient,
} from '@lightdom/command-api';
import { textMessages, upcastEvent } from '@lightdom/domain';
import { createCommandHandler, createEventStore, type EventStore } from '@lightdom/eventstore';
import { createLogger, createMetricsRegistry, createTokenRegistry } from '@lightdom/runtime';
import { createNatsTestEnv, createPgTestEnv, type NatsTestEnv, type PgTestEnv } from '@lightdom/testkit';
import amqp, { type ChannelModel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { buildTestApp } from '../../packages/command-api/test/harness.js';

/**
 * Finding 1 (a lone surrogate or NUL accepted at the edge, then freezing the read model)
 * and the free-form part of finding 8 (JSON nested ~2,500 deep answered 500), reproduced
 * exactly on every protocol that takes commands, against a stack with tokens configured.
 * Each refusal names the field, moves nothing in the log, and the server keeps serving.
 */

const logger = createLogger('hostile-text', { level: 'silent' });
const token = 'tok-text';
let nats: NatsTestEnv;
let pgEnv: PgTestEnv;
let store: EventStore;
let http: Awaited<ReturnType<typeof buildTestApp>>;
let base: string;
let positions: PositionWaiter;
let grpcServer: GrpcServer;
let grpc: LightdomClients;
let amqpServer: AmqpServer;
let amqpConn: ChannelModel;

beforeAll(async () => {
  [nats, pgEnv] = await Promise.all([createNatsTestEnv('texthostile'), createPgTestEnv('texthostile')]);
  http = await buildTestApp(nats, pgEnv, { tokens: `${token}:hostile:operator` });
  base = await http.app.listen({ host: '127.0.0.1', port: 0 });
  store = createEventStore(
    { nc: nats.nc, logger },
    { stream: nats.stream, subjectPrefix: nats.subjectPrefix, publishTimeoutMs: 1000, upcast: upcastEvent },
  );
  const commands = createCommandHandler({ store, logger });
  positions = createPositionWaiter({ pool: pgEnv.pool, databaseUrl: pgEnv.databaseUrl, schema: pgEnv.schema, logger });
  grpcServer = createGrpcServer(
    {
      commands,
      store,
      campaigns: createCampaignQueries(pgEnv.pool, pgEnv.schema),
      positions,
      logger,
      registry: createMetricsRegistry('command-api'),
      checks: { nats: () => nats.nc.flush() },
    },
    {
      host: '127.0.0.1',
      tokens: createTokenRegistry([{ token, identity: { actor: 'hostile', role: 'admin' } }]),
      maxWaitMs: 1000,
    },
  );
  grpc = createLightdomClients(`127.0.0.1:${await grpcServer.start(0)}`, { token });
  amqpServer = createAmqpServer(
    { nc: nats.nc, commands, store, logger, registry: createMetricsRegistry('command-api') },
    {
      host: '127.0.0.1',
      stream: `${nats.stream}_AMQP`,
      subjectPrefix: `${nats.subjectPrefix}_amqp`,
      topologyBucket: `${nats.kvBucket}_AMQP`,
      tokens: createTokenRegistry([{ token, identity: { actor: 'hostile', role: 'admin' } }]),
    },
  );
  amqpConn = await amqp.connect(`amqp://any:${token}@127.0.0.1:${await amqpServer.start(0)}`);
});

afterAll(async () => {
  await amqpConn?.close().catch(() => undefined);
  await amqpServer?.stop();
  grpc?.close();
  await grpcServer?.stop();
  await positions?.close();
  await http?.close();
  await Promise.all([nats?.cleanup(), pgEnv?.cleanup()]);
});

/** A hostile client writes JSON text itself: `\ud800` and `\u0000` as escapes, as on the wire. */
const campaignJson = (nameEscape: string) => `{"name":"a${nameEscape}b","budget":{"amount":100,"currency":"EUR"}}`;

const post = (path: string, body: string) =>
  fetch(`${base}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body,
  });

/** Runs `refuse`, then proves the log did not move and a normal command still works on `works`. */
async function refusedAndServing(refuse: () => Promise<void>, works: () => Promise<void>) {
  const head = await store.headPosition();
  await refuse();
  expect(await store.headPosition()).toBe(head);
  await works();
  expect(await store.headPosition()).toBe(head + 1);
}

const createOverHttp = async () => {
  const ok = await post('/api/campaigns', campaignJson('-'));
  expect(ok.status).toBe(201);
};

const problemOf = async (res: Response) => (await res.json()) as { errors?: { field: string; message: string }[] };

/** `[[…]]` nested `depth` deep, as JSON text. */
const deepJson = (depth: number) => `${'['.repeat(depth)}1${']'.repeat(depth)}`;

describe('finding 1 over REST', () => {
  it('finding 1: POST /api/campaigns with name "a\\ud800b" is 400 naming data.name; the log is unmoved', async () => {
    await refusedAndServing(async () => {
      const res = await post('/api/campaigns', campaignJson('\\ud800'));
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await res.json()).toMatchObject({
        code: 'VALIDATION_FAILED',
        errors: [{ field: 'data.name', message: textMessages.loneSurrogate }],
      });
    }, createOverHttp);
  });

  it('finding 1: NUL in a name or in an idempotency key is 400 naming the field', async () => {
    await refusedAndServing(async () => {
      const nul = await post('/api/campaigns', campaignJson('\\u0000'));
      expect(nul.status).toBe(400);
      expect((await problemOf(nul)).errors).toEqual([{ field: 'data.name', message: textMessages.nul }]);
      const key = await post(
        '/api/commands',
        `{"type":"CreateCampaign","idempotencyKey":"k\\u0000","data":${campaignJson('-')}}`,
      );
      expect(key.status).toBe(400);
      expect((await problemOf(key)).errors).toEqual([{ field: 'idempotencyKey', message: textMessages.nul }]);
    }, createOverHttp);
  });

  it('finding 8: JSON nested 2,500 deep in RequestWorkflowRun input and RequestAiTask options is 400, not 500', async () => {
    await refusedAndServing(async () => {
      const run = await post(
        '/api/commands',
        // No steps: a run's steps come from its definition (issue 8), and the input is checked first.
        `{"type":"RequestWorkflowRun","data":{"workflowId":"w1","definitionVersion":1,` +
          `"input":{"x":${deepJson(2500)}}}}`,
      );
      expect(run.status).toBe(400);
      expect((await problemOf(run)).errors).toEqual([
        // The core's run-request schema names the value inside the input that is too deep.
        { field: 'data.input.x', message: expect.stringMatching(/must not nest arrays and objects deeper than/) },
      ]);
      const ai = await post(
        '/api/commands',
        `{"type":"RequestAiTask","data":{"model":"m","prompt":"p","options":{"stop":${deepJson(2500)}}}}`,
      );
      expect(ai.status).toBe(400);
      expect((await problemOf(ai)).errors?.[0]?.field).toBe('data.options');
      const step = await post(
        '/api/commands',
        `{"type":"DefineWorkflow","data":{"name":"w","steps":[{"id":"a","type":"delay","input":{"x":${deepJson(40)}}}]}}`,
      );
      expect(step.status).toBe(400);
      expect((await problemOf(step)).errors?.[0]).toMatchObject({
        field: 'data.steps.0.input.x',
        message: /deeper than 32/,
      });
    }, createOverHttp);
  });
});

describe('finding 1 over WebSocket', () => {
  it('finding 1: a command frame with a lone surrogate or NUL gets an error frame naming the field', async () => {
    const ws = new WebSocket(`${base.replace('http', 'ws')}/ws?token=${token}`);
    const frames: { op: string; id?: string; error?: { code: string; errors?: { field: string }[] } }[] = [];
    ws.on('message', (raw) => frames.push(JSON.parse(raw.toString())));
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const answer = async (id: string) => {
      await expect.poll(() => frames.some((f) => f.id === id), { timeout: 5000 }).toBe(true);
      return frames.find((f) => f.id === id)!;
    };
    try {
      await refusedAndServing(
        async () => {
          ws.send(`{"op":"command","id":"s","command":{"type":"CreateCampaign","data":${campaignJson('\\ud800')}}}`);
          ws.send(`{"op":"command","id":"n","command":{"type":"CreateCampaign","data":${campaignJson('\\u0000')}}}`);
          for (const id of ['s', 'n']) {
            const f = await answer(id);
            expect(f.op).toBe('error');
            expect(f.error?.code).toBe('VALIDATION_FAILED');
            expect(f.error?.errors?.map((e) => e.field)).toEqual(['data.name']);
          }
        },
        async () => {
          ws.send(`{"op":"command","id":"ok","command":{"type":"CreateCampaign","data":${campaignJson('-')}}}`);
          expect((await answer('ok')).op).toBe('ack');
        },
      );
    } finally {
      ws.close();
    }
  });
});

type Rpc = (
  req: unknown,
  md: Metadata,
  opts: CallOptions,
  cb: (err: ServiceError | null, res: unknown) => void,
) => void;
const submit = (data: string) =>
  new Promise<unknown>((resolve, reject) =>
    (grpc.commands.Submit as Rpc).call(
      grpc.commands as ServiceClient,
      { type: 'CreateCampaign', data },
      new Metadata(),
      {},
      (err, res) => (err ? reject(err) : resolve(res)),
    ),
  );

describe('finding 1 over gRPC', () => {
  it('finding 1: Submit with data holding \\u0000 is INVALID_ARGUMENT naming the field', async () => {
    await refusedAndServing(
      async () => {
        for (const nameEscape of ['\\u0000', '\\ud800']) {
          const err = (await submit(campaignJson(nameEscape)).then(
            () => null,
            (e: ServiceError) => e,
          )) as ServiceError;
          expect(err?.code).toBe(Status.INVALID_ARGUMENT);
          const lightdom = lightdomErrorOf(err);
          expect(lightdom.code).toBe('VALIDATION_FAILED');
          expect(lightdom.issues).toEqual([
            { field: 'data.name', message: nameEscape === '\\u0000' ? textMessages.nul : textMessages.loneSurrogate },
          ]);
        }
      },
      async () => {
        await expect(submit(campaignJson('-'))).resolves.toMatchObject({ version: 1 });
      },
    );
  });
});

describe('finding 1 over AMQP lightdom.commands', () => {
  it('finding 1: a published command with a lone surrogate or NUL gets an error reply naming the field', async () => {
    const ch = await amqpConn.createChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    const replies: amqp.ConsumeMessage[] = [];
    await ch.consume(queue, (m) => m && replies.push(m), { noAck: true });
    const reply = async (correlationId: string) => {
      await expect.poll(() => replies.some((m) => m.properties.correlationId === correlationId)).toBe(true);
      return replies.find((m) => m.properties.correlationId === correlationId)!;
    };
    const publish = (correlationId: string, nameEscape: string) =>
      ch.publish('lightdom.commands', '', Buffer.from(`{"type":"CreateCampaign","data":${campaignJson(nameEscape)}}`), {
        replyTo: queue,
        correlationId,
      });
    try {
      await refusedAndServing(
        async () => {
          publish('surrogate', '\\ud800');
          publish('nul', '\\u0000');
          for (const [id, field] of [
            ['surrogate', 'data.name'],
            ['nul', 'data.name'],
          ]) {
            const m = await reply(id!);
            expect(m.properties.headers).toMatchObject({ 'lightdom-status': 'error', 'lightdom-reply-code': 406 });
            const body = JSON.parse(m.content.toString()) as { code: string; errors: { field: string }[] };
            expect(body.code).toBe('VALIDATION_FAILED');
            expect(body.errors.map((e) => e.field)).toEqual([field]);
          }
        },
        async () => {
          publish('ok', '-');
          expect((await reply('ok')).properties.headers).toMatchObject({ 'lightdom-status': 'ok' });
        },
      );
      // A correlation id that is not a trace id (here with NUL) is replaced by a fresh one
      // before it reaches the commit (docs/api.md), so the command itself is accepted.
      publish('corr\u0000', '-');
      expect((await reply('corr\u0000')).properties.headers).toMatchObject({ 'lightdom-status': 'ok' });
    } finally {
      await ch.close();
    }
  });
});
