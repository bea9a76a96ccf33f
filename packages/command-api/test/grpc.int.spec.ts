import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import {
  type CallOptions,
  type ClientReadableStream,
  credentials,
  type GrpcObject,
  loadPackageDefinition,
  Metadata,
  type ServiceClientConstructor,
  type ServiceError,
  status as Status,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { type CommandResult, type LightdomError, upcastEvent } from '@lightdom/domain';
import {
  createCommandHandler,
  createEventStore,
  createKvIdempotencyStore,
  type EventStore,
} from '@lightdom/eventstore';
import { createCampaignsProjection, createProjector, migrate } from '@lightdom/projector';
import { createLogger, createMetricsRegistry, createTokenRegistry } from '@lightdom/runtime';
import { createNatsTestEnv, createPgTestEnv, type NatsTestEnv, type PgTestEnv } from '@lightdom/testkit';
import pg from 'pg';
import type { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createCampaignQueries,
  createGrpcServer,
  createLightdomClients,
  createPositionWaiter,
  type GrpcServer,
  type LightdomClients,
  lightdomErrorOf,
  type PositionWaiter,
  type ServiceClient,
} from '../src/index.js';

const logger = createLogger('grpc-test', { level: 'silent' });
let nats: NatsTestEnv;
let pgEnv: PgTestEnv;
let store: EventStore;
let positions: PositionWaiter;
let projector: ReturnType<typeof createProjector>;
let registry: Registry;
let server: GrpcServer;
let address: string;
let c: LightdomClients;
let anon: LightdomClients;

beforeAll(async () => {
  [nats, pgEnv] = await Promise.all([createNatsTestEnv('grpc'), createPgTestEnv('grpc')]);
  await migrate(pgEnv.pool, pgEnv.schema);
  store = createEventStore(
    { nc: nats.nc, logger },
    {
      stream: nats.stream,
      subjectPrefix: nats.subjectPrefix,
      publishTimeoutMs: 1000,
      readTimeoutMs: 1500,
      upcast: upcastEvent,
    },
  );
  await store.ensureStream();
  const idempotency = await createKvIdempotencyStore(nats.nc.jetstream(), { bucket: nats.kvBucket, ttlMs: 60_000 });
  positions = createPositionWaiter({ pool: pgEnv.pool, databaseUrl: pgEnv.databaseUrl, schema: pgEnv.schema, logger });
  projector = createProjector(
    { nc: nats.nc, pool: pgEnv.pool, logger },
    {
      stream: nats.stream,
      subjectPrefix: nats.subjectPrefix,
      schema: pgEnv.schema,
      durable: `p-${nats.id}`,
      projections: [createCampaignsProjection()],
    },
  );
  await projector.start();
  registry = createMetricsRegistry('command-api');
  server = createGrpcServer(
    {
      commands: createCommandHandler({ store, idempotency, logger }),
      store,
      campaigns: createCampaignQueries(pgEnv.pool, pgEnv.schema),
      positions,
      logger,
      registry,
      checks: { nats: () => nats.nc.flush(), postgres: () => pgEnv.pool.query('select 1') },
    },
    {
      host: '127.0.0.1',
      tokens: createTokenRegistry([{ token: 'tok', identity: { actor: 'svc', role: 'admin' } }]),
      maxWaitMs: 2000,
    },
  );
  address = `127.0.0.1:${await server.start(0)}`;
  c = createLightdomClients(address, { token: 'tok' });
  anon = createLightdomClients(address);
});

afterAll(async () => {
  c?.close();
  anon?.close();
  await server?.stop();
  await projector?.stop();
  await positions?.close();
  await Promise.all([nats?.cleanup(), pgEnv?.cleanup()]);
});

type Rpc = (
  req: unknown,
  md: Metadata,
  opts: CallOptions,
  cb: (err: ServiceError | null, res: unknown) => void,
) => void;

function call<T>(client: ServiceClient, method: string, req: unknown, md = new Metadata(), opts: CallOptions = {}) {
  return new Promise<T>((resolve, reject) =>
    (client[method] as Rpc).call(client, req, md, opts, (err, res) => (err ? reject(err) : resolve(res as T))),
  );
}

async function failure(p: Promise<unknown>): Promise<{ code: Status; error: LightdomError; raw: ServiceError }> {
  try {
    await p;
  } catch (err) {
    const raw = err as ServiceError;
    return { code: raw.code, error: lightdomErrorOf(raw), raw };
  }
  throw new Error('the call succeeded');
}

interface EventMsg {
  position: number;
  index: number;
  version: number;
  type: string;
  aggregateId: string;
  data: string;
  actor: string;
  correlationId: string;
}

/** A Subscribe stream whose events a test takes in order. */
function subscribe(req: Record<string, unknown>) {
  const stream = (c.events.Subscribe as (r: unknown) => ClientReadableStream<EventMsg>)(req);
  const queue: EventMsg[] = [];
  let wake: (() => void) | undefined;
  stream.on('data', (e: EventMsg) => {
    queue.push(e);
    wake?.();
  });
  const ended = new Promise<ServiceError>((resolve) => stream.on('error', resolve));
  const headers = new Promise<Metadata>((resolve) => stream.once('metadata', resolve));
  async function take(n: number, ms = 5000): Promise<EventMsg[]> {
    const deadline = Date.now() + ms;
    while (queue.length < n) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`got ${queue.length} of ${n} events`);
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, left);
      });
    }
    return queue.splice(0, n);
  }
  return { stream, take, headers, ended, queue };
}

const submit = (req: Record<string, unknown>, md?: Metadata) =>
  call<CommandResult>(c.commands, 'Submit', { ...req, data: JSON.stringify(req.data ?? {}) }, md);

const createCampaign = (name: string, amount = 100) =>
  submit({ type: 'CreateCampaign', data: { name, budget: { amount, currency: 'EUR' } } });

describe('CommandService.Submit', () => {
  it('creates a campaign, with the caller and correlation id on its event', async () => {
    const md = new Metadata();
    md.set('x-correlation-id', 'corr-grpc-1');
    const result = await submit(
      { type: 'CreateCampaign', data: { name: 'grpc-1', budget: { amount: 10.5, currency: 'EUR' } } },
      md,
    );
    expect(result).toMatchObject({ version: 1, duplicate: false, events: ['CampaignCreated'] });
    expect(result.position).toBeGreaterThan(0);
    const [commit] = await store.readAggregate('campaign', result.id);
    expect(commit).toMatchObject({ actor: 'svc', correlationId: 'corr-grpc-1', position: result.position });
    expect(commit?.events[0]?.data).toMatchObject({ budget: { amount: 10.5, currency: 'EUR' } });
  });

  it('returns the first result for a retried idempotency key', async () => {
    const req = {
      type: 'CreateCampaign',
      idempotencyKey: 'grpc-idem',
      data: { name: 'i', budget: { amount: 1, currency: 'EUR' } },
    };
    const first = await submit(req);
    expect(await submit(req)).toMatchObject({ id: first.id, position: first.position, duplicate: true });
  });

  it('answers INVALID_ARGUMENT naming the bad field', async () => {
    const bad = await failure(
      submit({ type: 'CreateCampaign', data: { name: 'x', budget: { amount: 'lots', currency: 'EUR' } } }),
    );
    expect(bad.code).toBe(Status.INVALID_ARGUMENT);
    expect(bad.error).toMatchObject({ code: 'VALIDATION_FAILED', retryable: false });
    expect(bad.error.issues?.map((i) => i.field)).toContain('data.budget.amount');
    expect(bad.raw.metadata.get('lightdom-retryable')).toEqual(['false']);

    const notJson = await failure(call(c.commands, 'Submit', { type: 'CreateCampaign', data: '{oops' }));
    expect(notJson.code).toBe(Status.INVALID_ARGUMENT);
    expect(notJson.error.issues).toEqual([{ field: 'data', message: expect.stringContaining('JSON object') }]);

    const unknown = await failure(submit({ type: 'MakeCoffee' }));
    expect(unknown).toMatchObject({ code: Status.INVALID_ARGUMENT, error: { code: 'UNKNOWN_COMMAND' } });
  });

  it('answers FAILED_PRECONDITION for a lifecycle violation and ABORTED for a version mismatch', async () => {
    const { id } = await createCampaign('grpc-lifecycle');
    const resume = await failure(submit({ type: 'ResumeCampaign', aggregateId: id }));
    expect(resume).toMatchObject({ code: Status.FAILED_PRECONDITION, error: { code: 'INVALID_TRANSITION' } });
    const stale = await failure(submit({ type: 'LaunchCampaign', aggregateId: id, expectedVersion: 0 }));
    expect(stale).toMatchObject({ code: Status.ABORTED, error: { code: 'VERSION_MISMATCH', retryable: false } });
    expect(stale.error.details).toMatchObject({ expectedVersion: 0, currentVersion: 1 });
    await expect(submit({ type: 'LaunchCampaign', aggregateId: id, expectedVersion: 1 })).resolves.toMatchObject({
      version: 2,
    });
  });

  it('refuses a call without a valid token, and serves health without one', async () => {
    const denied = await failure(call(anon.commands, 'Submit', { type: 'CreateCampaign', data: '{}' }));
    expect(denied).toMatchObject({ code: Status.UNAUTHENTICATED, error: { code: 'UNAUTHORIZED' } });
    const md = new Metadata();
    md.set('authorization', 'Bearer wrong');
    const wrong = await failure(call(anon.events, 'Read', {}, md));
    expect(wrong.code).toBe(Status.UNAUTHENTICATED);
    await expect(call(anon.health, 'Check', { service: '' })).resolves.toEqual({ status: 'SERVING' });
  });
});

describe('EventService', () => {
  it('Subscribe streams history, then live events, and resumes without gap or duplicate', async () => {
    const created = await createCampaign('grpc-sub', 10);
    const filter = { aggregateType: 'campaign', aggregateId: created.id };
    const first = subscribe({ after: created.position - 1, ...filter });
    expect((await first.headers).get('lightdom-after')).toEqual([String(created.position - 1)]);
    const [history] = await first.take(1);
    expect(history).toMatchObject({ type: 'CampaignCreated', position: created.position, version: 1, actor: 'svc' });
    expect(JSON.parse(history!.data)).toMatchObject({ name: 'grpc-sub' });

    await submit({ type: 'LaunchCampaign', aggregateId: created.id });
    // Spending the whole budget: one commit with three events.
    const metrics = await submit({ type: 'RecordCampaignMetrics', aggregateId: created.id, data: { spend: 10 } });
    expect(metrics.events).toHaveLength(3);
    const live = await first.take(2); // Launched, and the first event of the metrics commit
    expect(live.map((e) => e.type)).toEqual(['CampaignLaunched', 'CampaignMetricsRecorded']);
    first.stream.cancel();
    expect((await first.ended).code).toBe(Status.CANCELLED);

    const last = live.at(-1)!;
    const second = subscribe({ after: last.position, afterIndex: last.index, ...filter });
    const rest = await second.take(2);
    const all = [history!, ...live, ...rest];
    expect(all.map((e) => e.type)).toEqual([
      'CampaignCreated',
      'CampaignLaunched',
      'CampaignMetricsRecorded',
      'CampaignBudgetExhausted',
      'CampaignPaused',
    ]);
    expect(all.map((e) => e.version)).toEqual([1, 2, 3, 4, 5]);
    await expect(second.take(1, 300)).rejects.toThrow('got 0 of 1');
    second.stream.cancel();
    // The server saw the cancellations and let go of both subscriptions.
    await expect
      .poll(async () => (await registry.getSingleMetric('lightdom_grpc_calls_total')?.get())?.values)
      .toContainEqual(expect.objectContaining({ labels: { method: 'Subscribe', code: 'CANCELLED' }, value: 2 }));
  });

  it('Subscribe without a position starts at the head and filters by type', async () => {
    const sub = subscribe({ aggregateType: 'campaign', types: ['CampaignRenamed'] });
    const head = Number((await sub.headers).get('lightdom-after')[0]);
    const { id, position } = await createCampaign('grpc-head');
    expect(position).toBeGreaterThan(head);
    await submit({ type: 'RenameCampaign', aggregateId: id, data: { name: 'grpc-head-2' } });
    const [renamed] = await sub.take(1);
    expect(renamed).toMatchObject({ type: 'CampaignRenamed', aggregateId: id });
    sub.stream.cancel();
  });

  it('Subscribe refuses a bad filter', async () => {
    const sub = subscribe({ aggregateId: 'x' });
    const err = await sub.ended;
    expect(err.code).toBe(Status.INVALID_ARGUMENT);
    expect(lightdomErrorOf(err).issues?.[0]?.field).toBe('aggregateId');
  });

  it('Read pages through the log by commit', async () => {
    const start = (await createCampaign('grpc-read-0')).position - 1;
    await createCampaign('grpc-read-1');
    await createCampaign('grpc-read-2');
    type Page = { events: EventMsg[]; nextAfter: number; hasMore: boolean };
    const p1 = await call<Page>(c.events, 'Read', { after: start, limit: 2, aggregateType: 'campaign' });
    expect(p1.events.map((e) => JSON.parse(e.data).name)).toEqual(['grpc-read-0', 'grpc-read-1']);
    expect(p1).toMatchObject({ hasMore: true, nextAfter: p1.events[1]!.position });
    const p2 = await call<Page>(c.events, 'Read', { after: p1.nextAfter, limit: 2, type: 'CampaignCreated' });
    expect(p2.events.map((e) => JSON.parse(e.data).name)).toEqual(['grpc-read-2']);
    expect(p2.hasMore).toBe(false);
    const bad = await failure(call(c.events, 'Read', { limit: 5000 }));
    expect(bad.error.issues?.[0]?.field).toBe('limit');
  });
});

describe('QueryService', () => {
  it('GetCampaign with min_position answers as soon as the read model has the write', async () => {
    const { id, position } = await createCampaign('grpc-query', 42);
    const started = Date.now();
    const res = await call<{ campaign: Record<string, unknown>; readModelPosition: number; stale: boolean }>(
      c.queries,
      'GetCampaign',
      { id, minPosition: position },
    );
    expect(Date.now() - started).toBeLessThan(1500);
    expect(res.campaign).toMatchObject({ id, name: 'grpc-query', status: 'draft', budget: { amount: 42 }, version: 1 });
    expect(res.readModelPosition).toBeGreaterThanOrEqual(position);
    expect(res.stale).toBe(false);

    const list = await call<{ items: { id: string }[]; nextCursor: string }>(c.queries, 'ListCampaigns', {
      status: 'draft',
      limit: 500,
      minPosition: position,
    });
    expect(list.items.map((i) => i.id)).toContain(id);

    const missing = await failure(call(c.queries, 'GetCampaign', { id: 'no-such-campaign' }));
    expect(missing).toMatchObject({ code: Status.NOT_FOUND, error: { code: 'NOT_FOUND' } });
  });

  it('answers DEADLINE_EXCEEDED (STALE_READ) before the call deadline when the read model lags', async () => {
    const deadline = Date.now() + 800;
    const stale = await failure(
      call(c.queries, 'GetCampaign', { id: 'x', minPosition: 1e12 }, new Metadata(), { deadline }),
    );
    expect(stale).toMatchObject({ code: Status.DEADLINE_EXCEEDED, error: { code: 'STALE_READ', retryable: true } });
    const allowed = await call<{ items: unknown[]; stale: boolean }>(
      c.queries,
      'ListCampaigns',
      {
        minPosition: 1e12,
        allowStale: true,
        limit: 1,
      },
      new Metadata(),
      { deadline: Date.now() + 800 },
    );
    expect(allowed.stale).toBe(true);
  });
});

describe('WorkflowService.ExecuteWorkflow', () => {
  const steps = (url: string) => [{ id: 'notify', type: 'http.request', input: { url } }];

  it('requests a run of a defined workflow with its definition snapshot', async () => {
    const wf = await submit({
      type: 'DefineWorkflow',
      data: { name: 'grpc-wf', steps: steps('https://example.test/v1') },
    });
    await submit({ type: 'ReviseWorkflow', aggregateId: wf.id, data: { steps: steps('https://example.test/v2') } });
    const run = await call<CommandResult>(c.workflows, 'ExecuteWorkflow', {
      workflowId: wf.id,
      input: JSON.stringify({ campaignId: 'c1' }),
    });
    expect(run.events).toEqual(['WorkflowRunRequested']);
    const [requested] = await store.readAggregate('workflowRun', run.id);
    expect(requested?.events[0]?.data).toMatchObject({
      workflowId: wf.id,
      definitionVersion: 2,
      steps: [{ id: 'notify', input: { url: 'https://example.test/v2' } }],
      input: { campaignId: 'c1' },
    });

    const pinned = await call<CommandResult>(c.workflows, 'ExecuteWorkflow', {
      workflowId: wf.id,
      definitionVersion: 1,
    });
    const [v1] = await store.readAggregate('workflowRun', pinned.id);
    expect(v1?.events[0]?.data).toMatchObject({
      definitionVersion: 1,
      steps: [{ input: { url: 'https://example.test/v1' } }],
    });

    const future = await failure(call(c.workflows, 'ExecuteWorkflow', { workflowId: wf.id, definitionVersion: 3 }));
    expect(future.code).toBe(Status.NOT_FOUND);

    await submit({ type: 'DeprecateWorkflow', aggregateId: wf.id });
    const deprecated = await failure(call(c.workflows, 'ExecuteWorkflow', { workflowId: wf.id }));
    expect(deprecated).toMatchObject({ code: Status.FAILED_PRECONDITION, error: { code: 'INVALID_TRANSITION' } });
  });

  it('SignalRun sends SignalWorkflowRun through the core; a name no step waits for is INVALID_ARGUMENT', async () => {
    const wf = await submit({
      type: 'DefineWorkflow',
      data: { name: 'grpc-signal', steps: [{ id: 'ok', type: 'wait.signal', input: { name: 'approval' } }] },
    });
    const run = await call<CommandResult>(c.workflows, 'ExecuteWorkflow', { workflowId: wf.id });
    const signalled = await call<CommandResult>(c.workflows, 'SignalRun', {
      runId: run.id,
      name: 'approval',
      payload: JSON.stringify({ approved: true }),
    });
    expect(signalled.events).toEqual(['WorkflowSignalReceived']);
    const commits = await store.readAggregate('workflowRun', run.id);
    expect(commits.at(-1)?.events[0]?.data).toEqual({ name: 'approval', payload: { approved: true } });

    const wrong = await failure(call(c.workflows, 'SignalRun', { runId: run.id, name: 'other', payload: '' }));
    expect(wrong.code).toBe(Status.INVALID_ARGUMENT);
    expect(wrong.error.issues?.[0]?.field).toBe('data.name');
    const badPayload = await failure(
      call(c.workflows, 'SignalRun', { runId: run.id, name: 'approval', payload: '[1]' }),
    );
    expect(badPayload.code).toBe(Status.INVALID_ARGUMENT);
    const unauthenticated = await failure(call(anon.workflows, 'SignalRun', { runId: run.id, name: 'approval' }));
    expect(unauthenticated.code).toBe(Status.UNAUTHENTICATED);
  });

  it('answers NOT_FOUND for a workflow that was never defined', async () => {
    const missing = await failure(call(c.workflows, 'ExecuteWorkflow', { workflowId: 'no-such-workflow' }));
    expect(missing).toMatchObject({ code: Status.NOT_FOUND, error: { code: 'NOT_FOUND' } });
  });
});

describe('health, reflection and shutdown', () => {
  it('reports SERVING for the server and each service', async () => {
    for (const service of ['', 'lightdom.v1.CommandService', 'lightdom.v1.QueryService']) {
      await expect(call(c.health, 'Check', { service })).resolves.toEqual({ status: 'SERVING' });
    }
  });

  it('lists and describes the services through reflection', async () => {
    const require = createRequire(import.meta.url);
    const protoDir = join(dirname(require.resolve('@grpc/reflection')), '../proto');
    const pkg = loadPackageDefinition(
      loadSync('grpc/reflection/v1alpha/reflection.proto', { includeDirs: [protoDir], oneofs: true }),
    );
    const Reflection = ((pkg.grpc as GrpcObject).reflection as GrpcObject).v1alpha as GrpcObject;
    const client = new (Reflection.ServerReflection as ServiceClientConstructor)(address, credentials.createInsecure());
    const stream = (
      client.ServerReflectionInfo as () => NodeJS.EventEmitter & { write(m: unknown): void; end(): void }
    )();
    const answers: Record<string, unknown>[] = [];
    const done = new Promise((resolve, reject) => {
      stream.on('data', (m: Record<string, unknown>) => answers.push(m));
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    stream.write({ listServices: '' });
    stream.write({ fileContainingSymbol: 'lightdom.v1.CommandService' });
    stream.end();
    await done;
    client.close();
    const services = (answers[0]!.listServicesResponse as { service: { name: string }[] }).service.map((s) => s.name);
    expect(services).toEqual(
      expect.arrayContaining([
        'lightdom.v1.CommandService',
        'lightdom.v1.EventService',
        'lightdom.v1.QueryService',
        'lightdom.v1.WorkflowService',
        'grpc.health.v1.Health',
      ]),
    );
    expect(
      (answers[1]!.fileDescriptorResponse as { fileDescriptorProto: unknown[] }).fileDescriptorProto.length,
    ).toBeGreaterThan(0);
  });

  it('reports NOT_SERVING while Postgres does not answer, and ends open streams with UNAVAILABLE on stop', async () => {
    const deadPool = new pg.Pool({
      connectionString: 'postgres://postgres@127.0.0.1:1/none',
      connectionTimeoutMillis: 500,
    });
    deadPool.on('error', () => undefined);
    const other = createGrpcServer(
      {
        commands: createCommandHandler({ store, logger }),
        store,
        campaigns: createCampaignQueries(pgEnv.pool, pgEnv.schema),
        positions,
        logger,
        checks: { nats: () => nats.nc.flush(), postgres: () => deadPool.query('select 1') },
      },
      { host: '127.0.0.1', tokens: createTokenRegistry([], false), shutdownTimeoutMs: 2000 },
    );
    const port = await other.start(0);
    const clients = createLightdomClients(`127.0.0.1:${port}`);
    try {
      await expect(call(clients.health, 'Check', { service: '' })).resolves.toEqual({ status: 'NOT_SERVING' });
      const stream = (clients.events.Subscribe as (r: unknown) => ClientReadableStream<unknown>)({});
      const ended = new Promise<ServiceError>((resolve) => stream.on('error', resolve));
      stream.on('data', () => undefined);
      await new Promise((resolve) => stream.once('metadata', resolve));
      const started = Date.now();
      await other.stop();
      const err = await ended;
      expect(err.code).toBe(Status.UNAVAILABLE);
      expect(lightdomErrorOf(err)).toMatchObject({ code: 'UNAVAILABLE', retryable: true });
      expect(Date.now() - started).toBeLessThan(1500);
    } finally {
      clients.close();
      await other.stop();
      await deadPool.end();
    }
  });
});
