import { isDeepStrictEqual } from 'node:util';
import type { StoredCommit } from '@lightdom/domain';
import { createCampaignsProjection, createProjector, migrate } from '@lightdom/projector';
import { createLogger } from '@lightdom/runtime';
import type { Redis } from 'ioredis';
import type { NatsConnection } from 'nats';
import type pg from 'pg';
import { impressionsPerMetrics } from '../lib/load.js';
import type { StackNames } from '../lib/services.js';
import { type CheckResult, check, firstOf } from './check.js';

type Row = Record<string, unknown>;

export interface ReadModelDeps {
  nc: NatsConnection;
  pool: pg.Pool;
  redis: Redis;
  names: StackNames;
  commits: StoredCommit[];
  /** Position of the newest commit. */
  head: number;
}

/** The live projector's checkpoint must reach the log head once the load stops. */
export async function caughtUp(deps: ReadModelDeps, timeoutMs = 30_000): Promise<CheckResult> {
  const started = Date.now();
  let at = 0;
  while (Date.now() - started < timeoutMs) {
    at = await lowest(deps.pool, deps.names.schema);
    if (at >= deps.head) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return check(
    'the projector caught up with the log head by itself (once the log stopped growing)',
    at === deps.head,
    `checkpoint ${at}, head ${deps.head}${at === deps.head ? ` (${Date.now() - started} ms after the log stopped growing)` : ''}`,
  );
}

/**
 * Replays the whole log from position 0 into a fresh schema with the projector's own code
 * (in this process, nothing killed) and compares every row and column with the table the
 * crashed-and-restarted projector built.
 */
export async function replayChecks(deps: ReadModelDeps): Promise<CheckResult[]> {
  const { pool, names } = deps;
  const replaySchema = `${names.schema}_replay`;
  await migrate(pool, replaySchema);
  const replay = createProjector(
    { nc: deps.nc, pool, logger: createLogger('replay', { level: 'silent' }) },
    {
      stream: names.stream,
      subjectPrefix: names.subjectPrefix,
      schema: replaySchema,
      durable: `replay-${names.projectorDurable}`,
      batchSize: 500,
      projections: [createCampaignsProjection()],
    },
  );
  await replay.start();
  try {
    await replay.waitFor(deps.head, 120_000);
  } finally {
    await replay.stop();
  }
  const live = await rows(pool, names.schema);
  const rebuilt = await rows(pool, replaySchema);
  const liveById = new Map(live.map((r) => [r.id as string, r]));
  const differing = rebuilt.filter((r) => !isDeepStrictEqual(r, liveById.get(r.id as string)));
  const extra = live.filter((r) => !rebuilt.some((x) => x.id === r.id));

  const metricsCommits = deps.commits.filter((c) => c.commandType === 'RecordCampaignMetrics').length;
  const impressions = live.reduce((sum, r) => sum + Number(r.impressions), 0);
  const replayed = rebuilt.reduce((sum, r) => sum + Number(r.impressions), 0);
  return [
    check(
      'the campaigns table equals a replay of the log from position 0 (every row, every column)',
      differing.length === 0 && extra.length === 0 && live.length > 0,
      differing.length === 0 && extra.length === 0
        ? `${live.length} campaigns identical`
        : `${differing.length} of ${rebuilt.length} rows differ${extra.length ? `, ${extra.length} rows only in the live table` : ''}: ${firstOf(differing, 3, (r) => diff(r, liveById.get(r.id as string)))}`,
      true,
    ),
    check(
      `impressions in the table = ${impressionsPerMetrics} × RecordCampaignMetrics commits in the log`,
      impressions === metricsCommits * impressionsPerMetrics,
      `${impressions} impressions, ${metricsCommits} metrics commits → expected ${metricsCommits * impressionsPerMetrics} (the replay has ${replayed})`,
      true,
    ),
  ];
}

/**
 * Redis hot views are a cache: after Redis lost its data a view comes back only when its
 * campaign changes again. But a view that exists must equal the table, and every campaign
 * changed after the projector wrote to Redis again must have one.
 */
export async function hotViewCheck(deps: ReadModelDeps, backAfter: number): Promise<CheckResult> {
  const live = await rows(deps.pool, deps.names.schema);
  const fields = ['status', 'impressions', 'clicks', 'version', 'position'] as const;
  const problems: string[] = [];
  let absent = 0;
  for (const r of live) {
    const view = await deps.redis.hgetall(`${deps.names.redisPrefix}campaign:${r.id}`);
    if (Object.keys(view).length === 0) {
      if (Number(r.position) > backAfter) problems.push(`${r.id}: missing though changed at ${r.position}`);
      else absent++;
      continue;
    }
    const wrong = fields.filter((f) => String(view[f]) !== String(r[f])).map((f) => `${f} ${view[f]} ≠ ${r[f]}`);
    if (Number(view.spend) !== Number(r.spend)) wrong.push(`spend ${view.spend} ≠ ${r.spend}`);
    if (wrong.length > 0) problems.push(`${r.id}: ${wrong.join(', ')}`);
  }
  return check(
    'the Redis hot views equal the campaigns table',
    problems.length === 0,
    problems.length === 0
      ? `${live.length - absent} hot views match${absent ? `; ${absent} not rewritten since Redis lost them (unchanged since)` : ''}`
      : `${problems.length}: ${firstOf(problems, 3, (p) => p)}`,
    true,
  );
}

async function rows(pool: pg.Pool, schema: string): Promise<Row[]> {
  return (await pool.query<Row>(`select * from "${schema}".campaigns order by id`)).rows;
}

async function lowest(pool: pg.Pool, schema: string): Promise<number> {
  try {
    const r = await pool.query<{ p: string | null }>(
      `select min(position) as p from "${schema}".projection_checkpoints`,
    );
    return Number(r.rows[0]?.p ?? 0);
  } catch {
    return -1;
  }
}

function diff(replayed: Row, live: Row | undefined): string {
  if (!live) return `${replayed.id} missing in the live table`;
  const cols = Object.keys(replayed).filter((k) => !isDeepStrictEqual(replayed[k], live[k]));
  return `${replayed.id}: ${cols.map((c) => `${c} live ${fmt(live[c])} vs replay ${fmt(replayed[c])}`).join(', ')}`;
}

const fmt = (v: unknown) => (v instanceof Date ? v.toISOString() : JSON.stringify(v));
