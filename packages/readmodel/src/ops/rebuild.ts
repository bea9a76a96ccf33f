import { type AuditIo, createProgress } from '@lightdom/audit';
import type { StoredCommit } from '@lightdom/domain';
import type { NatsConnection } from 'nats';
import type pg from 'pg';
import { type ProjectionSpec, projectionSpec } from '../projections/catalog.js';
import type { Projection } from '../projections/projection.js';
import { oldSuffix, qualified, quoteIdent, readModelTables, rebuildSuffix, suffixedTables } from '../schema/tables.js';
import { type LogEntry, openLogReader } from './logReader.js';

export interface RebuildOptions {
  stream: string;
  schema: string;
  /** Projections to rebuild together (one pass over the log). */
  names: readonly string[];
  /** Drop the swapped-out tables at once instead of keeping them until the next rebuild. */
  dropOld?: boolean;
  /** Commits applied per transaction. Default 500. */
  batchSize?: number;
  /** Where the progress line goes; none when absent. */
  io?: AuditIo;
}

export interface RebuildResult {
  names: string[];
  /** Commits read from the log (the whole log up to the swap). */
  commits: number;
  /** Position the new tables reflect at the swap. */
  position: number;
  seconds: number;
  /** Commits per second. */
  rate: number;
  /** The swapped-out tables, still there unless `dropOld`. */
  oldTables: string[];
}

export class RebuildError extends Error {}

// Connection trouble, locks, resources, shutdown: not the commit's fault (as in the projector).
const transient = (err: unknown) => /^(08|40|53|55|57|58|XX)/.test(String((err as { code?: unknown })?.code ?? ''));

const tablesOf = (specs: ProjectionSpec[]) => specs.flatMap((s) => s.tables.map((t) => readModelTables[t]));

/**
 * Builds the named projections from position 0 into `<table>__rebuild` tables beside the
 * live ones while the projector keeps running, then swaps them in: in one transaction
 * that holds the projections' checkpoint rows (so the projector's next batch waits), the
 * new tables catch up to the live checkpoint, the live tables are renamed `<table>__old`
 * and the new ones take their names. Reads queue for that instant and then read the new
 * tables; the projector's next batch writes them. The old tables stay until the next
 * rebuild (or go at once with `dropOld`).
 */
export async function rebuildProjections(
  deps: { nc: NatsConnection; pool: pg.Pool },
  opts: RebuildOptions,
): Promise<RebuildResult> {
  const specs = opts.names.map((n) => {
    const spec = projectionSpec(n);
    if (!spec) throw new RebuildError(`No projection named ${n}`);
    return spec;
  });
  const { pool } = deps;
  const s = quoteIdent(opts.schema);
  const q = (table: string) => qualified(opts.schema, table);
  const batchSize = opts.batchSize ?? 500;
  const live = tablesOf(specs);
  const names = specs.map((sp) => sp.name);

  // Leftovers of an interrupted rebuild, and the tables the previous rebuild swapped out.
  for (const t of live) {
    await pool.query(`drop table if exists ${q(t + rebuildSuffix)}`);
    await pool.query(`drop table if exists ${q(t + oldSuffix)}`);
    await pool.query(`create table ${q(t + rebuildSuffix)} (like ${q(t)} including all)`);
  }
  const projections: Projection[] = specs.map((sp) => sp.create(suffixedTables(sp.tables, rebuildSuffix)));
  const skips = await pool.query<{ projection: string; position: string }>(
    `select projection, position from ${s}.${quoteIdent(readModelTables.skips)} where projection = any($1)`,
    [names],
  );
  const skipped = new Set(skips.rows.map((r) => `${r.projection}@${r.position}`));

  /** Applies entries with each projection; a commit that fails is passed over only where an operator decided so. */
  async function apply(client: pg.PoolClient, entries: LogEntry[]) {
    const commits = entries.flatMap((e) => (e.commit ? [e.commit] : []));
    for (const p of projections) {
      await client.query('savepoint rebuild_batch');
      try {
        await p.apply(client, opts.schema, commits);
        await client.query('release savepoint rebuild_batch');
        continue;
      } catch (err) {
        await client.query('rollback to savepoint rebuild_batch');
        if (transient(err)) throw err;
      }
      for (const c of commits) await applyOne(client, p, c);
    }
  }
  async function applyOne(client: pg.PoolClient, p: Projection, c: StoredCommit) {
    await client.query('savepoint rebuild_commit');
    try {
      await p.apply(client, opts.schema, [c]);
      await client.query('release savepoint rebuild_commit');
    } catch (err) {
      await client.query('rollback to savepoint rebuild_commit');
      if (transient(err) || !skipped.has(`${p.name}@${c.position}`)) {
        throw new RebuildError(
          `${p.name} cannot apply the commit at position ${c.position}: ${(err as Error).message}` +
            ' (the live projection stalls there too; see lightdom projections skip)',
        );
      }
    }
  }
  async function inTransaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await pool.connect();
    try {
      await client.query('begin');
      const r = await work(client);
      await client.query('commit');
      return r;
    } catch (err) {
      await client.query('rollback').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  const started = performance.now();
  const reader = await openLogReader(deps.nc, opts.stream, 0, batchSize);
  let position = 0;
  let commits = 0;
  let head = await reader.head();
  const elapsed = () => Math.max((performance.now() - started) / 1000, 1e-3);
  const eta = () => {
    const rate = commits / elapsed();
    return rate > 0 && head > position ? ` ETA ${Math.ceil((head - position) / rate)}s` : '';
  };
  const label = `projections rebuild ${names.join(',')}`;
  const progress = opts.io
    ? createProgress(opts.io, {
        get label() {
          return `${label}${eta()}`;
        },
        get head() {
          return head;
        },
        intervalMs: 250,
        everyCommits: 5000,
      })
    : undefined;
  try {
    // Bulk: batch after batch in transactions of their own, until the log's head.
    for (;;) {
      const batch = await reader.next();
      if (batch.length === 0) break;
      await inTransaction((client) => apply(client, batch));
      position = batch.at(-1)!.position;
      commits += batch.length;
      if (batch.at(-1)!.pending === 0) head = await reader.head();
      progress?.update(commits, position);
    }
    progress?.done();
    // Swap: catch up to the live checkpoint under its lock, then rename.
    const final = await inTransaction(async (client) => {
      await client.query(
        `insert into ${s}.${quoteIdent(readModelTables.checkpoints)} (name, position)
         select unnest($1::text[]), 0 on conflict do nothing`,
        [names],
      );
      const cps = await client.query<{ position: string }>(
        `select position from ${s}.${quoteIdent(readModelTables.checkpoints)} where name = any($1) order by name for update`,
        [names],
      );
      const liveAt = Math.max(...cps.rows.map((r) => Number(r.position)));
      while (position < liveAt) {
        const batch = (await reader.next()).filter((e) => e.position <= liveAt);
        if (batch.length === 0) break;
        await apply(client, batch);
        position = batch.at(-1)!.position;
        commits += batch.length;
      }
      if (position < liveAt)
        throw new RebuildError(`the log ends at ${position}, before the live checkpoint ${liveAt}`);
      for (const t of live) {
        await client.query(`alter table ${q(t)} rename to ${quoteIdent(t + oldSuffix)}`);
        await client.query(`alter table ${q(t + rebuildSuffix)} rename to ${quoteIdent(t)}`);
        if (opts.dropOld) await client.query(`drop table ${q(t + oldSuffix)}`);
      }
      await client.query(
        `update ${s}.${quoteIdent(readModelTables.checkpoints)} set position = $2, updated_at = now() where name = any($1)`,
        [names, position],
      );
      await client.query('select pg_notify($1, $2)', [
        'lightdom_projection',
        JSON.stringify({ schema: opts.schema, position }),
      ]);
      return position;
    });
    const seconds = elapsed();
    return {
      names,
      commits,
      position: final,
      seconds,
      rate: Math.round(commits / seconds),
      oldTables: opts.dropOld ? [] : live.map((t) => t + oldSuffix),
    };
  } finally {
    reader.stop();
  }
}
