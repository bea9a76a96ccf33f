import type pg from 'pg';
import { quoteIdent } from './tables.js';

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
  {
    version: 3,
    name: 'workflows, runs and steps, AI tasks, campaign metrics, audit checkpoints',
    // Money sums and counters are unbounded numeric: a forged commit cannot overflow them.
    sql: `
      create table $schema.workflows (
        id text primary key,
        name text not null,
        description text not null,
        status text not null,
        current_version integer not null,
        deprecated_reason text,
        version integer not null,
        position bigint not null,
        created_at timestamptz not null,
        updated_at timestamptz not null
      );
      create table $schema.workflow_versions (
        workflow_id text not null,
        definition_version integer not null,
        steps jsonb not null,
        step_count integer not null,
        defined_at timestamptz not null,
        position bigint not null,
        primary key (workflow_id, definition_version)
      );
      create table $schema.workflow_runs (
        id text primary key,
        workflow_id text not null,
        definition_version integer not null,
        status text not null,
        input jsonb not null,
        result jsonb,
        error text,
        failed_step_id text,
        cancel_reason text,
        started_at timestamptz,
        finished_at timestamptz,
        version integer not null,
        position bigint not null,
        created_at timestamptz not null,
        updated_at timestamptz not null
      );
      create index workflow_runs_workflow on $schema.workflow_runs (workflow_id, id);
      create index workflow_runs_status on $schema.workflow_runs (status, id);
      create table $schema.workflow_run_steps (
        run_id text not null,
        step_id text not null,
        ordinal integer not null,
        type text,
        status text not null,
        attempt integer not null,
        started_at timestamptz,
        finished_at timestamptz,
        deadline_at timestamptz,
        retry_at timestamptz,
        error text,
        output_summary text,
        position bigint not null,
        primary key (run_id, step_id)
      );
      create table $schema.ai_tasks (
        id text primary key,
        status text not null,
        model text not null,
        prompt_summary text not null,
        output text,
        reasoning text,
        prompt_tokens bigint not null,
        completion_tokens bigint not null,
        duration_ms bigint,
        attempts integer not null,
        max_attempts integer not null,
        worker_id text,
        error text,
        workflow_run_id text,
        step_id text,
        started_at timestamptz,
        finished_at timestamptz,
        version integer not null,
        position bigint not null,
        created_at timestamptz not null,
        updated_at timestamptz not null
      );
      create index ai_tasks_status on $schema.ai_tasks (status, id);
      create index ai_tasks_model on $schema.ai_tasks (model, id);
      create table $schema.campaign_metrics (
        campaign_id text not null,
        bucket text not null,
        bucket_start timestamptz not null,
        impressions numeric not null,
        clicks numeric not null,
        conversions numeric not null,
        spend numeric not null,
        position bigint not null,
        primary key (campaign_id, bucket, bucket_start)
      );
      create table $schema.audit_checkpoints (
        id text primary key,
        status text not null,
        from_position bigint not null,
        to_position bigint not null,
        merkle_root text not null,
        commit_count bigint not null,
        chain_id bigint,
        transaction_hash text,
        block_number bigint,
        anchored_at timestamptz not null,
        confirmed_at timestamptz,
        version integer not null,
        position bigint not null
      );
    `,
  },
  {
    version: 4,
    name: 'run sources, parents and pause reasons',
    // Where a run came from (n8n, a schedule, a parent run) and why it is paused (issue 14).
    sql: `
      alter table $schema.workflow_runs add column source jsonb;
      alter table $schema.workflow_runs add column parent_run_id text;
      alter table $schema.workflow_runs add column pause_reason text;
    `,
  },
  {
    version: 5,
    name: 'schedules',
    sql: `
      create table $schema.schedules (
        id text primary key,
        workflow_id text not null,
        definition_version integer,
        status text not null,
        cron text,
        timezone text not null,
        at timestamptz,
        input jsonb not null,
        created_by text,
        last_slot timestamptz,
        last_run_id text,
        fired_count bigint not null,
        missed_slots bigint not null,
        version integer not null,
        position bigint not null,
        created_at timestamptz not null,
        updated_at timestamptz not null
      );
      create index schedules_workflow on $schema.schedules (workflow_id, id);
    `,
  },
  {
    version: 6,
    name: 'child runs by parent',
    // GET /api/runs?parentRunId= (the dashboard's parent ↔ child links).
    sql: `
      create index workflow_runs_parent on $schema.workflow_runs (parent_run_id, id) where parent_run_id is not null;
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
