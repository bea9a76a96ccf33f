import type pg from 'pg';
import { qualified, readModelTables as t } from '../schema/tables.js';
import { decodeCursor, iso, type Page, pageOf, whereBuilder } from './paging.js';
import { readQuery } from './readQuery.js';

type Row = Record<string, unknown>;

/** An AI task as the API shows it. Lists leave out `output` and `reasoning` (null there): read the task for them. */
export interface AiTaskView {
  taskId: string;
  /** requested, started, completed, failed or cancelled. */
  status: string;
  model: string;
  /** The prompt (or the last message), cut at 500 characters. */
  promptSummary: string;
  output: string | null;
  /** The model's reasoning, kept apart from the output. */
  reasoning: string | null;
  tokens: { prompt: number; completion: number };
  durationMs: number | null;
  /** Attempts started so far, and the most allowed. */
  attempts: number;
  maxAttempts: number;
  workerId: string | null;
  error: string | null;
  workflowRunId: string | null;
  stepId: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  updatedAt: string;
  version: number;
  position: number;
}

export const toAiTaskView = (r: Row): AiTaskView => ({
  taskId: r.id as string,
  status: r.status as string,
  model: r.model as string,
  promptSummary: r.prompt_summary as string,
  output: (r.output as string | null) ?? null,
  reasoning: (r.reasoning as string | null) ?? null,
  tokens: { prompt: Number(r.prompt_tokens), completion: Number(r.completion_tokens) },
  durationMs: r.duration_ms === null || r.duration_ms === undefined ? null : Number(r.duration_ms),
  attempts: r.attempts as number,
  maxAttempts: r.max_attempts as number,
  workerId: (r.worker_id as string | null) ?? null,
  error: (r.error as string | null) ?? null,
  workflowRunId: (r.workflow_run_id as string | null) ?? null,
  stepId: (r.step_id as string | null) ?? null,
  createdAt: iso(r.created_at) as string,
  startedAt: iso(r.started_at),
  finishedAt: iso(r.finished_at),
  updatedAt: iso(r.updated_at) as string,
  version: r.version as number,
  position: Number(r.position),
});

export interface ListAiTasksQuery {
  status?: string;
  model?: string;
  limit: number;
  cursor?: string;
}

export function createAiTaskQueries(pool: pg.Pool, schema: string) {
  const tasks = qualified(schema, t.aiTasks);
  // Every column but the two long texts.
  const listColumns =
    'id, status, model, prompt_summary, null as output, null as reasoning, prompt_tokens, completion_tokens, duration_ms, ' +
    'attempts, max_attempts, worker_id, error, workflow_run_id, step_id, created_at, started_at, finished_at, updated_at, version, position';
  return {
    async get(id: string): Promise<AiTaskView | null> {
      const { rows } = await readQuery(pool, `select * from ${tasks} where id = $1`, [id]);
      return rows[0] ? toAiTaskView(rows[0]) : null;
    },
    async list(q: ListAiTasksQuery): Promise<Page<AiTaskView>> {
      const w = whereBuilder();
      if (q.status) w.add((p) => `status = ${p}`, q.status);
      if (q.model) w.add((p) => `model = ${p}`, q.model);
      if (q.cursor) w.add((p) => `id > ${p}`, decodeCursor(q.cursor));
      const { rows } = await readQuery(
        pool,
        `select ${listColumns} from ${tasks} ${w.sql()} order by id ${w.limit(q.limit)}`,
        w.params,
      );
      return pageOf(rows, q.limit, toAiTaskView, (r) => r.id as string);
    },
  };
}

export type AiTaskQueries = ReturnType<typeof createAiTaskQueries>;
