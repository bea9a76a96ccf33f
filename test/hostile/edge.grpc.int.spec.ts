import { Metadata, type ServiceError, status as Status } from '@grpc/grpc-js';
import {
  createCampaignQueries,
  createGrpcServer,
  createLightdomClients,
  createPositionWaiter,
  type GrpcServer,
  type LightdomClients,
  lightdomErrorOf,
  type PositionWaiter,
} from '@lightdom/command-api';
import { type CommandResult, upcastEvent } from '@lightdom/domain';
import { createCommandHandler, createEventStore, type EventStore } from '@lightdom/eventstore';
import { createLogger, createTokenRegistry } from '@lightdom/runtime';
import { createNatsTestEnv, createPgTestEnv, type NatsTestEnv, type PgTestEnv } from '@lightdom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const logger = createLogger('grpc-edge', { level: 'silent' });
let nats: NatsTestEnv;
let pgEnv: PgTestEnv;
let store: EventStore;
let positions: PositionWaiter;
let server: GrpcServer;
let clients: LightdomClients;

beforeAll(async () => {
  [nats, pgEnv] = await Promise.all([createNatsTestEnv('edgegrpc'), createPgTestEnv('edgegrpc')]);
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
      tokens: createTokenRegistry([{ token: 'tok', identity: { actor: 'svc', role: 'admin' } }]),
      maxWaitMs: 1000,
    },
  );
  clients = createLightdomClients(`127.0.0.1:${await server.start(0)}`, { token: 'tok' });
});
afterAll(async () => {
  clients?.close();
  await server?.stop();
  await positions?.close();
  await Promise.all([nats?.cleanup(), pgEnv?.cleanup()]);
});

const lastSeq = async () => (await nats.jsm.streams.info(nats.stream)).state.last_seq;

function submit(type: string, data: unknown, md = new Metadata()): Promise<CommandResult> {
  return new Promise((resolve, reject) =>
    (clients.commands.Submit as (r: unknown, m: Metadata, cb: (e: ServiceError | null, r: unknown) => void) => void)(
      { type, data: JSON.stringify(data) },
      md,
      (err, res) => (err ? reject(err) : resolve(res as CommandResult)),
    ),
  );
}
const campaign = { name: 'grpc-edge', budget: { amount: 1, currency: 'EUR' } };

describe('finding 8 (gRPC): prototype names are unknown command types', () => {
  it('finding 8: Submit with type constructor, __proto__, toString or hasOwnProperty answers INVALID_ARGUMENT naming type', async () => {
    const seq = await lastSeq();
    for (const type of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      const err = (await submit(type, {}).then(
        () => {
          throw new Error(`${type} was accepted`);
        },
        (e: ServiceError) => e,
      )) as ServiceError;
      expect(err.code, type).toBe(Status.INVALID_ARGUMENT);
      const e = lightdomErrorOf(err);
      expect(e.code).toBe('UNKNOWN_COMMAND');
      expect(e.issues?.map((i) => i.field)).toEqual(['type']);
    }
    expect(await lastSeq()).toBe(seq);
    await expect(submit('CreateCampaign', campaign)).resolves.toMatchObject({ position: seq + 1 });
  });
});

describe('finding 10 (gRPC): correlation ids are bounded in the core', () => {
  it('finding 10: a 10 KB x-correlation-id is not stored in the commit as given', async () => {
    const md = new Metadata();
    md.set('x-correlation-id', 'c'.repeat(10 * 1024));
    const result = await submit('CreateCampaign', campaign, md);
    const [commit] = await store.readAll({ after: result.position - 1, limit: 1 });
    expect(commit?.correlationId).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
    expect(commit?.correlationId).not.toContain('cccc');
  });
});
