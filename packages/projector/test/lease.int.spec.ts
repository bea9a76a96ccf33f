import { createCommandHandler, createEventStore, type EventStore } from '@lightdom/eventstore';
import { createLogger } from '@lightdom/runtime';
import {
  createNatsTestEnv,
  createPgTestEnv,
  type NatsTestEnv,
  type PgTestEnv,
  type ServiceProcess,
  spawnService,
  testServers,
  uniqueId,
} from '@lightdom/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProjectorLease } from '../src/lease.js';

const logger = createLogger('lease-test', { level: 'silent' });
const lease = (name: string) =>
  createProjectorLease({ connectionString: testServers.databaseUrl, logger }, { name, retryMs: 100 });

describe('projector lease (Postgres advisory lock)', () => {
  it('lets one holder in; the standby takes over when the holder session dies', async () => {
    const name = uniqueId('lease');
    const a = lease(name);
    const b = lease(name);
    try {
      await a.acquire();
      expect(a.held()).toBe(true);
      const waiting = b.acquire();
      await new Promise((r) => setTimeout(r, 600));
      expect(b.held()).toBe(false);
      await expect(b.check()).rejects.toThrow(/standby/);

      // The holder's session ends the way a kill -9 ends it: the server side goes away.
      const admin = createPgClient();
      await admin.connect();
      await admin.query(
        `select pg_terminate_backend(pid) from pg_locks where locktype = 'advisory' and granted
           and objid = (hashtextextended($1, 0) & 4294967295)::oid
           and classid = ((hashtextextended($1, 0) >> 32) & 4294967295)::oid`,
        [name],
      );
      await admin.end();
      const reason = await a.lost;
      expect(reason.message).toBeTruthy();
      expect(a.held()).toBe(false);
      await expect(a.check()).rejects.toThrow(/lost/);
      await waiting;
      expect(b.held()).toBe(true);
      await expect(b.check()).resolves.toBeUndefined();
    } finally {
      await Promise.all([a.release(), b.release()]);
    }
  });

  it('hands over on release, and separate names do not block each other', async () => {
    const name = uniqueId('lease');
    const a = lease(name);
    const b = lease(name);
    const other = lease(`${name}-other`);
    try {
      await a.acquire();
      await other.acquire();
      const waiting = b.acquire();
      await a.release();
      await waiting;
      expect(b.held()).toBe(true);
      expect(other.held()).toBe(true);
    } finally {
      await Promise.all([a.release(), b.release(), other.release()]);
    }
  });
});

const createPgClient = () => new pg.Client({ connectionString: testServers.databaseUrl });

describe('two projector processes with PROJECTOR_LEASE=on', () => {
  let nats: NatsTestEnv;
  let pgEnv: PgTestEnv;
  let store: EventStore;
  beforeAll(async () => {
    [nats, pgEnv] = await Promise.all([createNatsTestEnv('lease'), createPgTestEnv('lease')]);
    store = createEventStore({ nc: nats.nc }, { stream: nats.stream, subjectPrefix: nats.subjectPrefix });
    await store.ensureStream();
  });
  afterAll(async () => {
    await Promise.all([nats?.cleanup(), pgEnv?.cleanup()]);
  });

  const env = () => ({
    NATS_URL: testServers.natsUrl,
    EVENTS_STREAM: nats.stream,
    EVENTS_SUBJECT_PREFIX: nats.subjectPrefix,
    DATABASE_URL: testServers.databaseUrl,
    DB_SCHEMA: pgEnv.schema,
    REDIS_URL: testServers.redisUrl,
    REDIS_KEY_PREFIX: `t:${nats.id}:`,
    REDIS_CHANNEL_PREFIX: `t:${nats.id}:`,
    PROJECTOR_DURABLE: `proj-${nats.id}`,
    PROJECTOR_LEASE: 'on',
    PROJECTOR_LEASE_RETRY_MS: '200',
    PORT: '0',
  });

  const checkpoint = async () => {
    const r = await pgEnv.pool.query<{ p: string | null }>(
      `select min(position) as p from "${pgEnv.schema}".projection_checkpoints`,
    );
    return Number(r.rows[0]?.p ?? 0);
  };

  it('the standby waits, then takes over after kill -9 of the active one and catches up', async () => {
    const handler = createCommandHandler({ store });
    const meta = { actor: 'lease-test', correlationId: 'c', causationId: 'c' };
    const create = (name: string) =>
      handler.handle({ type: 'CreateCampaign', data: { name, budget: { amount: 100, currency: 'EUR' } } }, meta);

    const active = spawnService('projector', env());
    let standby: ServiceProcess | undefined;
    try {
      // Started once the first one holds the lease, so which one is active is known.
      await active.waitForLine(/"projector ready"/, 60_000);
      standby = spawnService('projector', env());
      await standby.waitForLine(/standby: another projector holds the lease/, 60_000);
      await create('before');
      await expect.poll(checkpoint, { timeout: 20_000 }).toBe(await store.headPosition());
      // Still standing by: it never started projecting.
      expect(standby.output()).not.toMatch(/"projector ready"/);

      await active.kill('SIGKILL');
      const killedAt = Date.now();
      await standby.waitForLine(/"projector ready"/, 30_000);
      expect(Date.now() - killedAt).toBeLessThan(20_000);
      expect(standby.output()).toMatch(/projector lease acquired/);
      await create('after');
      await expect.poll(checkpoint, { timeout: 20_000 }).toBe(await store.headPosition());
      const rows = await pgEnv.pool.query(`select name from "${pgEnv.schema}".campaigns order by name`);
      expect(rows.rows.map((r) => r.name)).toEqual(['after', 'before']);
    } finally {
      await Promise.all([active.kill('SIGKILL'), standby?.kill('SIGTERM')]);
    }
  }, 120_000);
});
