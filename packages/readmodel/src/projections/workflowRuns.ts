import type { StoredCommit } from '@lightdom/domain';
import type pg from 'pg';
import { liveTables, type TableNames } from '../schema/tables.js';
import { storableJson } from '../storable.js';
import { commitTime, dataOf, eventsOf, idOf, int4, json, text, textOr, time, typeOf } from './coerce.js';
import type { Projection, ProjectionChange } from './projection.js';
import { type Row, rowsBy, upsertRows } from './upsert.js';

/** Characters of a step's output kept in `output_summary` (its JSON, cut with `…`). */
export const outputSummaryChars = 500;

const summary = (output: unknown): string => {
  const s = storableJson(output === undefined ? null : output);
  return s.length > outputSummaryChars ? `${s.slice(0, outputSummaryChars - 1)}\u2026` : s;
};

function newStep(runId: string, stepId: string, ordinal: number, type: string | null, position: number): Row {
  return {
    run_id: runId,
    step_id: stepId,
    ordinal,
    type,
    status: 'pending',
    attempt: 0,
    started_at: null,
    finished_at: null,
    deadline_at: null,
    retry_at: null,
    error: null,
    output_summary: null,
    position,
  };
}

/**
 * `workflow_runs` (state, input, result, error, times) and `workflow_run_steps` (one row
 * per step of the run's definition snapshot: state, attempt, times, error, a bounded
 * summary of its output).
 */
export function createWorkflowRunsProjection(tables: TableNames = liveTables): Projection {
  return {
    name: 'workflow_runs',
    aggregateTypes: ['workflowRun'],
    async apply(client: pg.PoolClient, schema: string, commits: StoredCommit[]): Promise<ProjectionChange[]> {
      const relevant = commits.filter((c) => c.aggregateType === 'workflowRun');
      if (relevant.length === 0) return [];
      const ids = [...new Set(relevant.map(idOf))];
      const runs = new Map(
        (await rowsBy(client, schema, tables.workflowRuns, 'id', ids)).map((r) => [r.id as string, r]),
      );
      const steps = new Map<string, Map<string, Row>>();
      for (const s of await rowsBy(client, schema, tables.workflowRunSteps, 'run_id', ids)) {
        const of = steps.get(s.run_id as string) ?? new Map<string, Row>();
        of.set(s.step_id as string, s);
        steps.set(s.run_id as string, of);
      }
      const changedRuns = new Map<string, Row>();
      const changedSteps = new Map<string, Row>();
      for (const commit of relevant) {
        const id = idOf(commit);
        const at = commitTime(commit);
        const run: Row = runs.get(id) ?? {
          id,
          workflow_id: '',
          definition_version: 0,
          status: 'requested',
          input: {},
          result: null,
          error: null,
          failed_step_id: null,
          cancel_reason: null,
          source: null,
          parent_run_id: null,
          pause_reason: null,
          started_at: null,
          finished_at: null,
          version: 0,
          position: 0,
          created_at: at,
          updated_at: at,
        };
        const runSteps = steps.get(id) ?? new Map<string, Row>();
        steps.set(id, runSteps);
        const step = (stepId: unknown): Row => {
          const sid = textOr(stepId, '', 64);
          let s = runSteps.get(sid);
          if (!s) {
            s = newStep(id, sid, runSteps.size, null, commit.position);
            runSteps.set(sid, s);
          }
          s.position = commit.position;
          changedSteps.set(`${id}|${sid}`, s);
          return s;
        };
        for (const event of eventsOf(commit)) {
          const d = dataOf(event);
          switch (typeOf(event)) {
            case 'WorkflowRunRequested': {
              run.workflow_id = textOr(d.workflowId, '', 100);
              run.definition_version = int4(d.definitionVersion);
              run.input = json(d.input ?? {});
              run.status = 'requested';
              run.source = d.source === undefined ? null : json(d.source);
              run.parent_run_id = text((d.parent as { runId?: unknown } | null | undefined)?.runId, 100);
              const defined = Array.isArray(d.steps) ? d.steps : [];
              for (const def of defined) {
                const s = step((def as { id?: unknown } | null)?.id);
                s.type = text((def as { type?: unknown } | null)?.type, 64);
              }
              break;
            }
            case 'WorkflowRunStarted':
              run.status = 'started';
              run.started_at = time(d.startedAt) ?? at;
              break;
            case 'WorkflowStepStarted': {
              const s = step(d.stepId);
              s.status = 'running';
              s.attempt = int4(d.attempt);
              s.started_at = time(d.startedAt) ?? at;
              s.finished_at = null;
              s.deadline_at = time(d.deadlineAt);
              s.retry_at = null;
              break;
            }
            case 'WorkflowStepSucceeded': {
              const s = step(d.stepId);
              s.status = 'succeeded';
              s.finished_at = at;
              s.deadline_at = null;
              s.error = null;
              s.output_summary = summary(d.output);
              break;
            }
            case 'WorkflowStepRetryScheduled': {
              const s = step(d.stepId);
              s.status = 'retryScheduled';
              s.error = text(d.error, 2000);
              s.retry_at = time(d.retryAt);
              s.deadline_at = null;
              break;
            }
            case 'WorkflowStepFailed': {
              const s = step(d.stepId);
              s.status = 'failed';
              s.error = text(d.error, 2000);
              s.finished_at = at;
              s.deadline_at = null;
              break;
            }
            case 'WorkflowStepSkipped': {
              // Its `when` was false, or every step it depends on was skipped (issue 14).
              const s = step(d.stepId);
              s.status = 'skipped';
              s.finished_at = at;
              s.deadline_at = null;
              break;
            }
            case 'WorkflowRunSucceeded':
              run.status = 'succeeded';
              run.result = json(d.outputs ?? {});
              run.finished_at = at;
              break;
            case 'WorkflowRunFailed':
              run.status = 'failed';
              run.error = text(d.error, 2000);
              run.failed_step_id = text(d.stepId, 64);
              run.finished_at = at;
              break;
            case 'WorkflowRunCancelled':
              run.status = 'cancelled';
              run.cancel_reason = text(d.reason, 2000);
              run.finished_at = at;
              break;
            // --- run control (issue 14 part B) ---
            case 'WorkflowRunPaused':
              run.status = 'paused';
              run.pause_reason = text(d.reason, 2000);
              break;
            case 'WorkflowRunResumed':
              run.status = 'started';
              run.pause_reason = null;
              break;
            case 'WorkflowStepRetryRequested': {
              run.status = 'started';
              run.error = null;
              run.failed_step_id = null;
              run.finished_at = null;
              const again = [d.stepId, ...(Array.isArray(d.restartedSteps) ? d.restartedSteps : [])];
              for (const id of again) {
                const s = step(id);
                s.status = 'pending';
                s.error = null;
                s.finished_at = null;
                s.deadline_at = null;
                s.retry_at = null;
              }
              break;
            }
            // --- end run control ---
            default:
              break;
          }
        }
        run.version = int4(commit.version);
        run.position = commit.position;
        run.updated_at = at;
        runs.set(id, run);
        changedRuns.set(id, run);
      }
      const written = await upsertRows(client, schema, tables.workflowRuns, ['id'], [...changedRuns.values()]);
      await upsertRows(client, schema, tables.workflowRunSteps, ['run_id', 'step_id'], [...changedSteps.values()]);
      return written.map((row) => ({
        aggregateType: 'workflowRun',
        aggregateId: row.id as string,
        view: row,
        position: Number(row.position),
        version: row.version as number,
      }));
    },
  };
}
