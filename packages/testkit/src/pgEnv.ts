import pg from 'pg';
import { testServers, uniqueId } from './servers.js';

export interface PgTestEnv {
  pool: pg.Pool;
  schema: string;
  databaseUrl: string;
  cleanup(): Promise<void>;
}

/** A Postgres pool and a schema of its own, dropped afterwards. */
export async function createPgTestEnv(label: string): Promise<PgTestEnv> {
  const schema = `t_${uniqueId(label)}`;
  const pool = new pg.Pool({ connectionString: testServers.databaseUrl, max: 5 });
  try {
    await pool.query(`create schema "${schema}"`);
  } catch (err) {
    await pool.end();
    throw new Error(`PostgreSQL at ${testServers.databaseUrl} is not usable: ${(err as Error).message}`);
  }
  return {
    pool,
    schema,
    databaseUrl: testServers.databaseUrl,
    async cleanup() {
      await pool.query(`drop schema if exists "${schema}" cascade`).catch(() => undefined);
      await pool.end();
    },
  };
}
