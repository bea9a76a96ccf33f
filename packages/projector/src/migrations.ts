import type pg from 'pg';
import { quoteIdent } from './db.js';

/** Ordered, append-only list of schema changes; `$schema` is replaced by the quoted schema. */
const migrations: { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'checkpoints and campaigns',
    sql: `
      create table $schema.projection_checkpoints (
        name text primary key,
        position bigint not null default 0,
        updated_at timestamptz not null default now()
      );
      create table $schema.campaigns (
        id text primary key,
        name text not null,
        description text not null,
        status text not null,
        channels jsonb not null,
        budget_amount numeric(16, 2) not null,
        budget_currency text not null,
        owner text,
        schedule jsonb,
        launched_at timestamptz,
        spend numeric(16, 2) not null,
        impressions bigint not null,
        clicks bigint not null,
        conversions bigint not null,
        version integer not null,
        position bigint not null,
        created_at timestamptz not null,
        updated_at timestamptz not null
      );
      create index campaigns_status_id on $schema.campaigns (status, id);
      create index campaigns_updated on $schema.campaigns (updated_at desc, id);
    `,
  },
  {
    version: 2,
    name: 'skipped commits',
    // What each projection passed over on an operator's decision, beside its checkpoint.
    sql: `
      create table $schema.projection_skips (
        projection text not null,
        position bigint not null,
        error text not null,
        reason text not null,
        actor text not null,
        decision_position bigint not null,
        skipped_at timestamptz not null default now(),
        primary key (projection, position)
      );
    `,
  },
];

/**
 * Brings a schema up to date. An advisory lock keeps two starting instances from
 * migrating at once; each migration runs in its own transaction.
 */
export async function migrate(pool: pg.Pool, schema: string): Promise<number[]> {
  const s = quoteIdent(schema);
  const client = await pool.connect();
  const applied: number[] = [];
  try {
    await client.query('select pg_advisory_lock(hashtext($1))', [`lightdom-migrate:${schema}`]);
    await client.query(`create schema if not exists ${s}`);
    await client.query(
      `create table if not exists ${s}.schema_migrations (version integer primary key, name text not null, applied_at timestamptz not null default now())`,
    );
    const done = new Set(
      (await client.query<{ version: number }>(`select version from ${s}.schema_migrations`)).rows.map(
        (r) => r.version,
      ),
    );
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      await client.query('begin');
      try {
        await client.query(m.sql.replaceAll('$schema', s));
        await client.query(`insert into ${s}.schema_migrations (version, name) values ($1, $2)`, [m.version, m.name]);
        await client.query('commit');
        applied.push(m.version);
      } catch (err) {
        await client.query('rollback');
        throw err;
      }
    }
    return applied;
  } finally {
    await client
      .query('select pg_advisory_unlock(hashtext($1))', [`lightdom-migrate:${schema}`])
      .catch(() => undefined);
    client.release();
  }
}
