import { spawn } from 'node:child_process';
import {
  createNatsTestEnv,
  createPgTestEnv,
  type NatsTestEnv,
  type PgTestEnv,
  repoRoot,
  sourceNodeFlags,
  testServers,
} from '@lightdom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReadModelQueries, qualified, readModelTables } from '../src/index.js';
import { domainRound, handlerFor, startProjector } from './support.js';

let nats: NatsTestEnv;
let pgEnv: PgTestEnv;

beforeAll(async () => {
  [nats, pgEnv] = await Promise.all([createNatsTestEnv('rmrebuild'), createPgTestEnv('rmrebuild')]);
});
afterAll(async () => Promise.all([nats?.cleanup(), pgEnv?.cleanup()]));

const cliEnv = () => ({
  NATS_URL: testServers.natsUrl,
  EVENTS_STREAM: nats.stream,
  EVENTS_SUBJECT_PREFIX: nats.subjectPrefix,
  DATABASE_URL: testServers.databaseUrl,
  DB_SCHEMA: pgEnv.schema,
});

describe('lightdom projections rebuild', () => {
  it('rebuilds campaigns beside the live table and swaps it in while reads keep answering', {
    timeout: 90_000,
  }, async () => {
    const { store, commands } = handlerFor(nats);
    await store.ensureStream();
    const projector = await startProjector(
      { nc: nats.nc, pool: pgEnv.pool },
      { stream: nats.stream, subjectPrefix: nats.subjectPrefix, schema: pgEnv.schema, durable: `p-${nats.id}` },
    );
    try {
      let last = 0;
      for (let i = 0; i < 40; i++) last = await domainRound(commands, i);
      await projector.waitFor(last, 30_000);
      const table = qualified(pgEnv.schema, readModelTables.campaigns);
      const before = (await pgEnv.pool.query(`select * from ${table} order by id`)).rows;
      const reads = createReadModelQueries({ pool: pgEnv.pool, schema: pgEnv.schema });

      // Reads in a loop for as long as the rebuild runs: none may fail or come back empty.
      let reading = true;
      let answers = 0;
      const failures: string[] = [];
      const loop = (async () => {
        while (reading) {
          try {
            const page = await reads.campaigns.list({ limit: 500 });
            if (page.items.length !== before.length) failures.push(`${page.items.length} campaigns`);
            answers++;
          } catch (err) {
            failures.push(String(err));
          }
        }
      })();
      const run = (args: string[]) =>
        new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
          const child = spawn(process.execPath, [...sourceNodeFlags, 'packages/events/src/cli/lightdom.ts', ...args], {
            cwd: repoRoot,
            env: { ...process.env, ...cliEnv() },
          });
          let out = '';
          let err = '';
          child.stdout.on('data', (d) => {
            out += d;
          });
          child.stderr.on('data', (d) => {
            err += d;
          });
          child.on('exit', (code) => resolve({ code, out, err }));
        });
      const rebuilt = await run(['projections', 'rebuild', 'campaigns', '--batch', '50']);
      reading = false;
      await loop;
      expect(rebuilt.code, rebuilt.err).toBe(0);
      expect(rebuilt.out).toMatch(
        /campaigns rebuilt from \d+ commits .* swapped in at position \d+; old tables kept: campaigns__old/,
      );
      expect(failures).toEqual([]);
      expect(answers).toBeGreaterThan(5);

      const after = (await pgEnv.pool.query(`select * from ${table} order by id`)).rows;
      const old = (await pgEnv.pool.query(`select * from ${qualified(pgEnv.schema, 'campaigns__old')} order by id`))
        .rows;
      expect(after).toEqual(old);
      expect(after).toEqual(before);

      // The running projector goes on writing the new table.
      const more = await domainRound(commands, 99);
      await projector.waitFor(more, 20_000);
      const now = (await pgEnv.pool.query(`select count(*)::int n from ${table}`)).rows[0].n;
      expect(now).toBe(before.length + 1);

      const status = await run(['projections', 'status', '--json', '--sample-ms', '0']);
      expect(status.code, status.err).toBe(0);
      const rows = JSON.parse(status.out) as { name: string; lag: number; position: number; head: number }[];
      expect(rows.find((r) => r.name === 'campaigns')).toMatchObject({ lag: 0, position: more, head: more });
      expect(rows.map((r) => r.name)).toEqual(
        expect.arrayContaining(['campaigns', 'workflow_runs', 'ai_tasks', 'workflows', 'campaign_metrics']),
      );
    } finally {
      await projector.stop();
    }
  });
});
