import http2 from 'node:http2';
import { connect as tcpConnect } from 'node:net';
import {
  Client,
  type ClientReadableStream,
  credentials,
  Metadata,
  type ServiceError,
  status as Status,
} from '@grpc/grpc-js';
import {
  createCampaignQueries,
  createGrpcServer,
  createLightdomClients,
  createPositionWaiter,
  type GrpcServer,
  type LightdomClients,
  lightdomErrorOf,
} from '@lightdom/command-api';
import { createCommandHandler, createEventStore, type EventStore } from '@lightdom/eventstore';
import { createLogger, createTokenRegistry } from '@lightdom/runtime';
import { createNatsTestEnv, createPgTestEnv, type NatsTestEnv, type PgTestEnv } from '@lightdom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Finding 7 (gRPC port) and finding 8 (gRPC numbers). Bounds set to seconds so the test
 * can measure them: a silent peer is cut by the unanswered keepalive ping, an idle
 * HTTP/2 session by max_connection_idle, and every connection by max_connection_age plus
 * its grace (±10 % jitter), even one carrying a Subscribe stream.
 */
const bounds = {
  keepaliveTimeMs: 1000,
  keepaliveTimeoutMs: 1000,
  maxConnectionIdleMs: 3000,
  maxConnectionAgeMs: 10_000,
  maxConnectionAgeGraceMs: 1000,
  maxConcurrentStreams: 4,
  maxMessageBytes: 64 * 1024,
  maxSendMessageBytes: 1_048_576,
};

const logger = createLogger('feed-grpc-hostile', { level: 'silent' });
let nats: NatsTestEnv;
let pgEnv: PgTestEnv;
let store: EventStore;
let server: GrpcServer;
let port: number;
let c: LightdomClients;
let closePositions: () => Promise<void>;

beforeAll(async () => {
  [nats, pgEnv] = await Promise.all([createNatsTestEnv('feedgrpc'), createPgTestEnv('feedgrpc')]);
  store = createEventStore(
    { nc: nats.nc, logger },
    { stream: nats.stream, subjectPrefix: nats.subjectPrefix, publishTimeoutMs: 1000, readTimeoutMs: 1500 },
  );
  await store.ensureStream();
  const positions = createPositionWaiter({
    pool: pgEnv.pool,
    databaseUrl: pgEnv.databaseUrl,
    schema: pgEnv.schema,
    logger,
  });
  closePositions = () => positions.close();
  server = createGrpcServer(
    {
      commands: createCommandHandler({ store, logger }),
      store,
      campaigns: createCampaignQueries(pgEnv.pool, pgEnv.schema),
      positions,
      logger,
      checks: {},
    },
    // AUTH=off: these streams test flow control, not credentials.
    { host: '127.0.0.1', tokens: createTokenRegistry([], false), ...bounds },
  );
  port = await server.start(0);
  c = createLightdomClients(`127.0.0.1:${port}`);
});

afterAll(async () => {
  c?.close();
  await server?.stop();
  await closePositions?.();
  await Promise.all([nats?.cleanup(), pgEnv?.cleanup()]);
});

type Rpc = (req: unknown, md: Metadata, cb: (err: ServiceError | null, res: unknown) => void) => void;
const call = <T>(client: Client, method: string, req: unknown) =>
  new Promise<T>((resolve, reject) =>
    ((client as unknown as Record<string, Rpc>)[method] as Rpc).call(client, req, new Metadata(), (err, res) =>
      err ? reject(err) : resolve(res as T),
    ),
  );

async function failure(p: Promise<unknown>): Promise<ServiceError> {
  try {
    await p;
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error('the call succeeded');
}

/** A protobuf varint; a negative number is sent as its 64-bit two's complement, as int64 casts do. */
function varint(n: bigint): Buffer {
  let v = n < 0n ? (1n << 64n) + n : n;
  const out: number[] = [];
  do {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v > 0n ? byte | 0x80 : byte);
  } while (v > 0n);
  return Buffer.from(out);
}
/** A request whose field 1 (`after` in ReadRequest and SubscribeRequest) holds `n`, encoded by hand. */
const afterField = (n: bigint) => Buffer.concat([Buffer.from([0x08]), varint(n)]);

/** Raw calls: bytes in, bytes out, so a test can send what a generated client would refuse to. */
const raw = () => new Client(`127.0.0.1:${port}`, credentials.createInsecure());
const rawUnary = (client: Client, path: string, body: Buffer) =>
  new Promise<Buffer>((resolve, reject) =>
    client.makeUnaryRequest(
      path,
      (b: Buffer) => b,
      (b: Buffer) => b,
      body,
      (err, res) => (err ? reject(err) : resolve(res as Buffer)),
    ),
  );
function rawStream(client: Client, path: string, body: Buffer) {
  const stream = client.makeServerStreamRequest(
    path,
    (b: Buffer) => b,
    (b: Buffer) => b,
    body,
  );
  stream.on('data', () => undefined);
  return new Promise<ServiceError>((resolve) => stream.on('error', resolve));
}

const expectInvalidAfter = (err: ServiceError) => {
  expect(err.code).toBe(Status.INVALID_ARGUMENT);
  expect(lightdomErrorOf(err)).toMatchObject({ code: 'VALIDATION_FAILED' });
  expect(lightdomErrorOf(err).issues?.map((i) => i.field)).toEqual(['after']);
};

const lastSeq = async () => (await nats.jsm.streams.info(nats.stream)).state.last_seq;

/** Resolves with the ms until `emitter` emits `event`, or rejects after `max` ms. */
function timeUntil(emitter: NodeJS.EventEmitter, event: string, max: number): Promise<number> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${max} ms`)), max);
    emitter.once(event, () => {
      clearTimeout(timer);
      resolve(Date.now() - started);
    });
  });
}

describe('finding 7: slow and idle gRPC connections are cut', () => {
  it('finding 7: a silent TCP connection, an idle HTTP/2 session and an old connection with an open stream are cut within the configured bounds', async () => {
    // 1. TCP only, never an HTTP/2 preface: the server's keepalive ping goes unanswered.
    const silent = tcpConnect(port, '127.0.0.1');
    silent.on('error', () => undefined);
    silent.on('data', () => undefined);
    const silentClosed = timeUntil(silent, 'close', 15_000);
    // 2. A real HTTP/2 client (it answers pings) that never opens a stream.
    const idle = http2.connect(`http://127.0.0.1:${port}`);
    idle.on('error', () => undefined);
    const settings = new Promise<http2.Settings>((resolve) => idle.once('remoteSettings', resolve));
    const idleClosed = timeUntil(idle, 'close', 15_000);
    // 3. A connection busy with a Subscribe stream: never idle, cut by its age.
    const busy = createLightdomClients(`127.0.0.1:${port}`);
    const stream = (busy.events.Subscribe as (r: unknown) => ClientReadableStream<unknown>)({});
    stream.on('data', () => undefined);
    const started = Date.now();
    const streamEnded = new Promise<{ err: ServiceError; ms: number }>((resolve) =>
      stream.on('error', (err: ServiceError) => resolve({ err, ms: Date.now() - started })),
    );
    try {
      expect((await settings).maxConcurrentStreams).toBe(bounds.maxConcurrentStreams);
      const [silentMs, idleMs, ended] = await Promise.all([silentClosed, idleClosed, streamEnded]);
      const timeout = bounds.keepaliveTimeMs + bounds.keepaliveTimeoutMs;
      expect(silentMs).toBeGreaterThanOrEqual(timeout - 200);
      expect(silentMs).toBeLessThan(Math.min(bounds.maxConnectionIdleMs, bounds.maxConnectionAgeMs * 0.9) + 1000);
      expect(idleMs).toBeGreaterThanOrEqual(bounds.maxConnectionIdleMs - 200);
      // grpc-js checks idleness when its timer fires and, if the timer fired a hair early
      // (Date.now() short of the bound), re-arms it for a whole period: the cut comes after one
      // or two periods. Plus slack for a loaded machine, still before the age bound (9 s at the earliest).
      expect(idleMs).toBeLessThan(2 * bounds.maxConnectionIdleMs + 1500);
      // Age ±10 %, then the grace for the open stream.
      expect(ended.ms).toBeGreaterThanOrEqual(bounds.maxConnectionAgeMs * 0.9 - 200);
      expect(ended.ms).toBeLessThan(bounds.maxConnectionAgeMs * 1.1 + bounds.maxConnectionAgeGraceMs + 1500);
      expect(ended.err.code).toBe(Status.UNAVAILABLE);
      console.info(
        `finding 7 (gRPC): silent TCP cut after ${silentMs} ms, idle HTTP/2 after ${idleMs} ms, ` +
          `busy connection after ${ended.ms} ms`,
      );
    } finally {
      silent.destroy();
      idle.destroy();
      stream.cancel();
      busy.close();
    }
    // The server still serves.
    await expect(call(c.events, 'Read', { after: 0 })).resolves.toMatchObject({ hasMore: false });
  });

  it('finding 7: a request over the message size bound is refused with RESOURCE_EXHAUSTED', async () => {
    const err = await failure(call(c.events, 'Read', { after: 0, type: 'x'.repeat(bounds.maxMessageBytes + 1) }));
    expect(err.code).toBe(Status.RESOURCE_EXHAUSTED);
    await expect(call(c.events, 'Read', { after: 0 })).resolves.toMatchObject({ events: [] });
  });
});

describe('finding 8: numeric gRPC fields are range-checked', () => {
  it('finding 8: Read and Subscribe with after 1e30 or -1 answer INVALID_ARGUMENT naming after', async () => {
    const before = await lastSeq();
    // The generated client saturates 1e30 to 2^64-1; a client casting int64 -1 sends the same bits.
    expectInvalidAfter(await failure(call(c.events, 'Read', { after: 1e30 })));
    const sub = (c.events.Subscribe as (r: unknown) => ClientReadableStream<unknown>)({ after: 1e30 });
    sub.on('data', () => undefined);
    expectInvalidAfter(await new Promise<ServiceError>((resolve) => sub.on('error', resolve)));
    const client = raw();
    try {
      for (const n of [-1n, (1n << 64n) - 1n, 2n ** 53n]) {
        expectInvalidAfter(await failure(rawUnary(client, '/lightdom.v1.EventService/Read', afterField(n))));
        expectInvalidAfter(await rawStream(client, '/lightdom.v1.EventService/Subscribe', afterField(n)));
      }
      // The largest safe position is valid (nothing is there yet).
      await expect(
        rawUnary(client, '/lightdom.v1.EventService/Read', afterField(2n ** 53n - 1n)),
      ).resolves.toBeInstanceOf(Buffer);
    } finally {
      client.close();
    }
    expect(await lastSeq()).toBe(before);
    // Still serving: a command, a read and a subscription work.
    const made = await call<{ position: number }>(c.commands, 'Submit', {
      type: 'CreateCampaign',
      data: JSON.stringify({ name: 'after-hostile', budget: { amount: 5, currency: 'EUR' } }),
    });
    const page = await call<{ events: { position: number }[] }>(c.events, 'Read', { after: made.position - 1 });
    expect(page.events.map((e) => e.position)).toEqual([made.position]);
    const live = (c.events.Subscribe as (r: unknown) => ClientReadableStream<{ position: number }>)({
      after: made.position - 1,
    });
    const first = await new Promise<{ position: number }>((resolve) => live.once('data', resolve));
    live.on('error', () => undefined);
    live.cancel();
    expect(first.position).toBe(made.position);
  });

  it('finding 8: GetCampaign min_position past 2^53-1 answers INVALID_ARGUMENT naming minPosition', async () => {
    const err = await failure(call(c.queries, 'GetCampaign', { id: 'abc', minPosition: 1e30 }));
    expect(err.code).toBe(Status.INVALID_ARGUMENT);
    expect(lightdomErrorOf(err).issues?.map((i) => i.field)).toEqual(['minPosition']);
  });
});
