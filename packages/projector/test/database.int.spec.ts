import { testServers, uniqueId } from '@lightdom/testkit';
import pg from 'pg';
import { expect, it } from 'vitest';
import { ensureDatabase, migrate } from '../src/index.js';

it('creates its database when missing, and migrates it once', async () => {
  const name = `t_${uniqueId('db')}`;
  const url = new URL(testServers.databaseUrl);
  url.pathname = `/${name}`;
  const admin = new pg.Client({ connectionString: testServers.databaseUrl });
  // `drop database … with (force)` ends every session on it: a late one is not a test failure.
  admin.on('error', () => undefined);
  await admin.connect();
  try {
    await ensureDatabase(url.toString());
    await ensureDatabase(url.toString()); // a second start finds it
    const { rows } = await admin.query('select 1 from pg_database where datname = $1', [name]);
    expect(rows).toHaveLength(1);
    const pool = new pg.Pool({ connectionString: url.toString() });
    pool.on('error', () => undefined);
    try {
      const applied = await migrate(pool, 'public');
      expect(applied[0]).toBe(1);
      expect(applied).toEqual(applied.map((_, i) => i + 1)); // every migration, in order
      expect(applied.length).toBeGreaterThanOrEqual(5);
      expect(await migrate(pool, 'public')).toEqual([]);
      const t = await pool.query(`select to_regclass('public.campaigns') as t`);
      expect(t.rows[0].t).toBe('campaigns');
    } finally {
      await pool.end();
    }
  } finally {
    await admin.query(`drop database if exists "${name}" with (force)`);
    await admin.end();
  }
});
