import { isDeepStrictEqual } from 'node:util';
import type { StoredCommit } from '@lightdom/domain';
import { createProjector } from '@lightdom/projector';
import { createReadModelProjections, migrate, readModelTables } from '@lightdom/readmodel';
import { createLogger } from '@lightdom/runtime';
import type { NatsConnection } from 'nats';
import type pg from 'pg';
import { type CheckResult, check, firstOf } from '../checks/check.js';
import type { StackNames } from '../lib/services.js';

/** The commit's event types; a failure the task will retry (`willRetry`) is not an end, so it is left out. */
const eventTypes = (c: StoredCommit) =>
  c.events
    .filter((e) => !(e.type === 'AiTaskFailed' && (e.data as { willRetry?: boolean }).willRetry === true))
    .map((e) => e.type);

/**
 * Work the two executors and two AI workers competed for: every requested run and AI
 * task reached exactly one end in the log, and the good one (the load's runs are one
 * delay step; the fake Ollama always answers).
 */
export function workChecks(commits: StoredCommit[]): CheckResult[] {
  const ends = (type: string, endTypes: string[]) => {
    const byId = new Map<string, string[]>();
    for (const c of commits) {
      if (c.aggregateType !== type) continue;
      const list = byId.get(c.aggregateId) ?? [];
      list.push(
        ...eventTypes(c)
          .filter((t) => endTypes.includes(t) || t.endsWith('Requested'))
          .map((t) => (t.endsWith('Requested') ? `${t}@${c.position}` : t)),
      );
      byId.set(c.aggregateId, list);
    }
    return byId;
  };
  const verdict = (what: string, byId: Map<string, string[]>, good: string) => {
    const wrong = [...byId].filter(([, ts]) => {
      const finished = ts.filter((t) => !t.includes('Requested'));
      return finished.length !== 1 || finished[0] !== good;
    });
    return check(
      `every ${what} requested finished exactly once (${good})`,
      wrong.length === 0 && byId.size > 0,
      wrong.length === 0
        ? `${byId.size} ${what}s, each with one ${good}`
        : `${wrong.length} of ${byId.size}: ${firstOf(wrong, 4, ([id, ts]) => `${id}: ${ts.join(', ') || 'no events'}`)}`,
    );
  };
  return [
    verdict(
      'workflow run',
      ends('workflowRun', ['WorkflowRunSucceeded', 'WorkflowRunFailed', 'WorkflowRunCancelled']),
      'WorkflowRunSucceeded',
    ),
    verdict('AI task', ends('aiTask', ['AiTaskCompleted', 'AiTaskFailed', 'AiTaskCancelled']), 'AiTaskCompleted'),
  ];
}

type Row = Record<string, unknown>;

/**
 * Every read-model table the killed-and-taken-over projectors built equals the same table
 * built by a fresh projector in this process from position 0, row for row.
 */
export async function allReadModelsReplayCheck(
  deps: { nc: NatsConnection; pool: pg.Pool; names: StackNames },
  head: number,
): Promise<CheckResult> {
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
      projections: createReadModelProjections(),
    },
  );
  await replay.start();
  try {
    await replay.waitFor(head, 120_000);
  } finally {
    await replay.stop();
  }
  const tables = Object.values(readModelTables).filter((t) => t !== readModelTables.checkpoints);
  const problems: string[] = [];
  const sizes: string[] = [];
  for (const table of tables) {
    const [live, rebuilt] = await Promise.all([rows(pool, names.schema, table), rows(pool, replaySchema, table)]);
    sizes.push(`${table} ${live.length}`);
    if (live.length !== rebuilt.length) {
      problems.push(`${table}: ${live.length} live rows, ${rebuilt.length} replayed`);
      continue;
    }
    const differing = live.findIndex((r, i) => !isDeepStrictEqual(r, rebuilt[i]));
    if (differing !== -1) {
      const l = live[differing]!;
      const r = rebuilt[differing]!;
      const cols = Object.keys(r).filter((k) => !isDeepStrictEqual(l[k], r[k]));
      problems.push(
        `${table} row ${differing}: ${cols.map((c) => `${c} ${fmt(l[c])} vs replay ${fmt(r[c])}`).join(', ')}`,
      );
    }
  }
  const nonEmpty = ['campaigns', 'workflow_runs', 'ai_tasks'].every((t) => !sizes.includes(`${t} 0`));
  return check(
    'every read-model table equals a replay of the log from position 0 (every row, every column)',
    problems.length === 0 && nonEmpty,
    problems.length === 0 ? `identical: ${sizes.join(', ')}` : firstOf(problems, 4, (p) => p),
    true,
  );
}

async function rows(pool: pg.Pool, schema: string, table: string): Promise<Row[]> {
  // Every column in order, so rows compare position by position whatever the key is.
  return (await pool.query<Row>(`select * from "${schema}"."${table}" order by 1, 2`)).rows;
}

const fmt = (v: unknown) => (v instanceof Date ? v.toISOString() : JSON.stringify(v));
