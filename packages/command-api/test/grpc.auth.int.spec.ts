import { Metadata, type ServiceError, status as Status } from '@grpc/grpc-js';
import { upcastEvent } from '@lightdom/domain';
import { createCommandHandler, createEventStore, type EventStore } from '@lightdom/eventstore';
import { createLogger, createTokenRegistry } from '@lightdom/runtime';
import { createNatsTestEnv, createPgTestEnv, type NatsTestEnv, type PgTestEnv } from '@lightdom/testkit';
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

/**
 * The gRPC rows of issue 8's auth matrix and its run rules, through a real @grpc/grpc-js
 * client: each refusal carries its status, and the stream's last sequence does not move.
 */

const logger = createLogger('grpc-auth', { level: 'silent' });
let nats: NatsTestEnv;
let pgEnv: PgTestEnv;
let store: EventStore;
let positions: PositionWaiter;
let server: GrpcServer;
let address: string;
const clients: LightdomClients[] = [];

beforeAll(async () => {
  [nats, pgEnv] = await Promise.all([createNatsTestEnv('grpcauth'), createPgTestEnv('grpcauth')]);
  store = createEventStore(
    { nc: nats.nc, logger },
    { stream: nats.stream, subjectPrefix: nats.subjectPrefix, publishTimeoutMs: 1000, upcast: upcastEvent },
  );
  await store.ensureStream();
  positions = createPositionWaiter({ pool: pgEnv.pool, databaseUrl: pgEnv.databaseUrl, schema: pgEnv.schema, logger });
  server = createGrpcServer(
    {
      commands: createCommandHandler({ store, logger }),
      store,
      campaigns: createCampaignQueries(pgEnv.pool, pgEnv.schema),
      positions,
      logger,
      checks: {},
    },
    {
      host: '127.0.0.1',
      tokens: createTokenRegistry([
        { token: 'tok-reader', identity: { actor: 'rita', role: 'reader' } },
        { token: 'tok-operator', identity: { actor: 'olga', role: 'operator' } },
      ]),
      maxWaitMs: 1000,
    },
  );
  address = `127.0.0.1:${await server.start(0)}`;
});
afterAll(async () => {
  for (const c of clients) c.close();
  await server?.stop();
  await positions?.close();
  await Promise.all([nats?.cleanup(), pgEnv?.cleanup()]);
});

const lastSeq = async () => (await nats.jsm.streams.info(nats.stream)).state.last_seq;

function client(token?: string): LightdomClients {
  const c = createLightdomClients(address, token ? { token } : {});
  clients.push(c);
  return c;
}

function call<T>(service: ServiceClient, method: string, request: unknown): Promise<T> {
  return new Promise((resolve, reject) =>
    (service[method] as (r: unknown, m: Metadata, cb: (e: ServiceError | null, r: unknown) => void) => void)(
      request,
      new Metadata(),
      (err, res) => (err ? reject(err) : resolve(res as T)),
    ),
  );
}

const submit = (c: LightdomClients, type: string, data: unknown, aggregateId?: string) =>
  call<{ id: string; position: number }>(c.commands, 'Submit', {
    type,
    data: JSON.stringify(data),
    ...(aggregateId ? { aggregateId } : {}),
  });

const refusal = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected the call to be refused');
    },
    (err: ServiceError) => err,
  );

const campaign = { name: 'grpc-auth', budget: { amount: 1, currency: 'EUR' } };

describe('gRPC auth matrix (issue 8)', () => {
  it('no credentials: UNAUTHENTICATED, and nothing is appended', async () => {
    const seq = await lastSeq();
    const err = await refusal(submit(client(), 'CreateCampaign', campaign));
    expect(err.code).toBe(Status.UNAUTHENTICATED);
    expect(lightdomErrorOf(err)?.code).toBe('UNAUTHORIZED');
    expect((await refusal(call(client().events, 'Read', { after: 0, limit: 1 }))).code).toBe(Status.UNAUTHENTICATED);
    expect(await lastSeq()).toBe(seq);
  });

  it('a wrong token: UNAUTHENTICATED, and nothing is appended', async () => {
    const seq = await lastSeq();
    const err = await refusal(submit(client('tok-wrong'), 'CreateCampaign', campaign));
    expect(err.code).toBe(Status.UNAUTHENTICATED);
    expect(await lastSeq()).toBe(seq);
  });

  it('a reader token sending a command: PERMISSION_DENIED, and nothing is appended; it may read', async () => {
    const seq = await lastSeq();
    const reader = client('tok-reader');
    const err = await refusal(submit(reader, 'CreateCampaign', campaign));
    expect(err.code).toBe(Status.PERMISSION_DENIED);
    expect(lightdomErrorOf(err)?.code).toBe('FORBIDDEN');
    expect(await lastSeq()).toBe(seq);
    await expect(call(reader.events, 'Read', { after: 0, limit: 1 })).resolves.toMatchObject({ hasMore: false });
  });

  it('an operator token sending an internal command (CompleteWorkflowStep): PERMISSION_DENIED, nothing appended', async () => {
    const seq = await lastSeq();
    const err = await refusal(
      submit(client('tok-operator'), 'CompleteWorkflowStep', { stepId: 'wait', output: 1 }, 'run-1'),
    );
    expect(err.code).toBe(Status.PERMISSION_DENIED);
    expect(err.details).toMatch(/internal command/);
    expect(await lastSeq()).toBe(seq);
  });

  it('an operator token sends a public command; the commit records its actor and the answer has position', async () => {
    const r = await submit(client('tok-operator'), 'CreateCampaign', campaign);
    expect(Number(r.position)).toBe(await lastSeq());
    const [commit] = await store.readAggregate('campaign', r.id);
    expect(commit?.actor).toBe('olga');
  });
});

describe('gRPC run rules (issue 8): ExecuteWorkflow and Submit go through the core', () => {
  const operator = () => client('tok-operator');
  const execute = (request: Record<string, unknown>) =>
    call<{ id: string }>(operator().workflows, 'ExecuteWorkflow', { input: '{}', idempotencyKey: '', ...request });

  it('refuses an unknown workflow, an unknown version and a run with steps of its own; runs a known one', async () => {
    const defined = await submit(operator(), 'DefineWorkflow', {
      name: 'wait',
      steps: [{ id: 'wait', type: 'delay', input: { ms: 600_000 } }],
    });
    const seq = await lastSeq();
    const unknown = await refusal(execute({ workflowId: 'no-such-workflow' }));
    expect(unknown.code).toBe(Status.NOT_FOUND);
    const version = await refusal(execute({ workflowId: defined.id, definitionVersion: 99 }));
    expect(version.code).toBe(Status.NOT_FOUND);
    expect(version.details).toMatch(/definition version 99/);
    const ownSteps = await refusal(
      submit(operator(), 'RequestWorkflowRun', {
        workflowId: defined.id,
        steps: [{ id: 'x', type: 'delay', input: { ms: 1 } }],
        input: {},
      }),
    );
    expect(ownSteps.code).toBe(Status.INVALID_ARGUMENT);
    expect(JSON.stringify(lightdomErrorOf(ownSteps)?.issues)).toContain('data.steps');
    const submitted = await refusal(submit(operator(), 'RequestWorkflowRun', { workflowId: 'no-such', input: {} }));
    expect(submitted.code).toBe(Status.NOT_FOUND);
    expect(await lastSeq()).toBe(seq);

    const run = await execute({ workflowId: defined.id });
    const [commit] = await store.readAggregate('workflowRun', run.id);
    const requested = commit?.events[0]?.data as { steps: { id: string }[]; requestedBy: unknown };
    expect(requested.steps.map((s) => s.id)).toEqual(['wait']);
    expect(requested.requestedBy).toEqual({ actor: 'olga', role: 'operator' });
  });
});
