import type pg from 'pg';
import { qualified, readModelTables as t } from '../schema/tables.js';
import { decodeCursor, iso, type Page, pageOf, whereBuilder } from './paging.js';
import { readQuery } from './readQuery.js';

type Row = Record<string, unknown>;

export interface RunStepView {
  stepId: string;
  type: string | null;
  /** pending, running, retryScheduled, succeeded, failed or skipped. */
  status: string;
  /** Attempts started so far. */
  attempt: number;
  startedAt: string | null;
  finishedAt: string | null;
  deadlineAt: string | null;
  retryAt: string | null;
  error: string | null;
  /** The output's JSON, cut at 500 characters with `…`; null until the step succeeded. */
  outputSummary: string | null;
  position: number;
}

/** A workflow run as the API shows it; `steps` only on a single read. */
export interface RunView {
  runId: string;
  workflowId: string;
  definitionVersion: number;
  /** requested, started, paused, succeeded, failed or cancelled. */
  status: string;
  /** Where the run came from, e.g. `{kind: "n8n", ref}` or `{kind: "schedule", ref: "<schedule>@<slot>"}`; null when not said. */
  source: unknown;
  /** The run whose `workflow.run` step started this one. */
  parentRunId: string | null;
  pauseReason: string | null;
  input: unknown;
  /** The outputs of the final steps, by step id, once the run succeeded. */
  result: unknown;
  error: string | null;
  failedStepId: string | null;
  cancelReason: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  version: number;
  position: number;
  createdAt: string;
  updatedAt: string;
  steps?: RunStepView[];
}

export const toRunView = (r: Row): RunView => ({
  runId: r.id as string,
  workflowId: r.workflow_id as string,
  definitionVersion: r.definition_version as number,
  status: r.status as string,
  source: r.source ?? null,
  parentRunId: (r.parent_run_id as string | null) ?? null,
  pauseReason: (r.pause_reason as string | null) ?? null,
  input: r.input,
  result: r.result ?? null,
  error: (r.error as string | null) ?? null,
  failedStepId: (r.failed_step_id as string | null) ?? null,
  cancelReason: (r.cancel_reason as string | null) ?? null,
  startedAt: iso(r.started_at),
  finishedAt: iso(r.finished_at),
  version: r.version as number,
  position: Number(r.position),
  createdAt: iso(r.created_at) as string,
  updatedAt: iso(r.updated_at) as string,
});

export const toRunStepView = (r: Row): RunStepView => ({
  stepId: r.step_id as string,
  type: (r.type as string | null) ?? null,
  status: r.status as string,
  attempt: r.attempt as number,
  startedAt: iso(r.started_at),
  finishedAt: iso(r.finished_at),
  deadlineAt: iso(r.deadline_at),
  retryAt: iso(r.retry_at),
  error: (r.error as string | null) ?? null,
  outputSummary: (r.output_summary as string | null) ?? null,
  position: Number(r.position),
});

export interface ListRunsQuery {
  workflowId?: string;
  status?: string;
  /** Only the child runs that this run's `workflow.run` steps started. */
  parentRunId?: string;
  limit: number;
  cursor?: string;
}

export function createRunQueries(pool: pg.Pool, schema: string) {
  const runs = qualified(schema, t.workflowRuns);
  const steps = qualified(schema, t.workflowRunSteps);
  return {
    /** The run with its steps in definition order. */
    async get(id: string): Promise<RunView | null> {
      const { rows } = await readQuery(pool, `select * from ${runs} where id = $1`, [id]);
      if (!rows[0]) return null;
      const s = await readQuery(pool, `select * from ${steps} where run_id = $1 order by ordinal, step_id`, [id]);
      return { ...toRunView(rows[0]), steps: s.rows.map(toRunStepView) };
    },
    async list(q: ListRunsQuery): Promise<Page<RunView>> {
      const w = whereBuilder();
      if (q.workflowId) w.add((p) => `workflow_id = ${p}`, q.workflowId);
      if (q.status) w.add((p) => `status = ${p}`, q.status);
      if (q.parentRunId) w.add((p) => `parent_run_id = ${p}`, q.parentRunId);
      if (q.cursor) w.add((p) => `id > ${p}`, decodeCursor(q.cursor));
      const { rows } = await readQuery(
        pool,
        `select * from ${runs} ${w.sql()} order by id ${w.limit(q.limit)}`,
        w.params,
      );
      return pageOf(rows, q.limit, toRunView, (r) => r.id as string);
    },
  };
}

export type RunQueries = ReturnType<typeof createRunQueries>;
