import type { StoredCommit } from '@lightdom/domain';
import type pg from 'pg';
import { liveTables, type TableNames } from '../schema/tables.js';
import { commitTime, dataOf, eventsOf, idOf, int, int4, text, textOr, time, typeOf } from './coerce.js';
import type { Projection, ProjectionChange } from './projection.js';
import { type Row, rowsBy, upsertRows } from './upsert.js';

/** Characters of a prompt kept in `prompt_summary`. */
export const promptSummaryChars = 500;
/** Characters of a task's output and of its reasoning kept (the log has them whole). */
export const aiTextChars = 100_000;

/** The prompt, or the last message's content when the task was asked with messages. */
function promptOf(d: Record<string, unknown>): unknown {
  if (typeof d.prompt === 'string') return d.prompt;
  const messages = Array.isArray(d.messages) ? d.messages : [];
  return (messages.at(-1) as { content?: unknown } | undefined)?.content ?? '';
}

/**
 * `ai_tasks`: status, model, a prompt summary, the output with the reasoning kept apart,
 * token counts, timings and attempts. A failed attempt that will be retried puts the task
 * back to `requested`, as the domain does.
 */
export function createAiTasksProjection(tables: TableNames = liveTables): Projection {
  return {
    name: 'ai_tasks',
    aggregateTypes: ['aiTask'],
    async apply(client: pg.PoolClient, schema: string, commits: StoredCommit[]): Promise<ProjectionChange[]> {
      const relevant = commits.filter((c) => c.aggregateType === 'aiTask');
      if (relevant.length === 0) return [];
      const ids = [...new Set(relevant.map(idOf))];
      const tasks = new Map((await rowsBy(client, schema, tables.aiTasks, 'id', ids)).map((r) => [r.id as string, r]));
      const changed = new Map<string, Row>();
      for (const commit of relevant) {
        const id = idOf(commit);
        const at = commitTime(commit);
        const task: Row = tasks.get(id) ?? {
          id,
          status: 'requested',
          model: '',
          prompt_summary: '',
          output: null,
          reasoning: null,
          prompt_tokens: 0,
          completion_tokens: 0,
          duration_ms: null,
          attempts: 0,
          max_attempts: 0,
          worker_id: null,
          error: null,
          workflow_run_id: null,
          step_id: null,
          started_at: null,
          finished_at: null,
          version: 0,
          position: 0,
          created_at: at,
          updated_at: at,
        };
        for (const event of eventsOf(commit)) {
          const d = dataOf(event);
          switch (typeOf(event)) {
            case 'AiTaskRequested':
              task.status = 'requested';
              task.model = textOr(d.model, '', 200);
              task.prompt_summary = textOr(promptOf(d), '', promptSummaryChars);
              task.max_attempts = int4(d.maxAttempts);
              task.workflow_run_id = text(d.workflowRunId, 100);
              task.step_id = text(d.stepId, 64);
              break;
            case 'AiTaskStarted':
              task.status = 'started';
              task.attempts = int4(d.attempt);
              task.worker_id = text(d.workerId, 200);
              task.started_at = time(d.startedAt) ?? at;
              break;
            case 'AiTaskCompleted':
              task.status = 'completed';
              task.attempts = int4(d.attempt, task.attempts as number);
              task.output = textOr(d.text, '', aiTextChars);
              task.reasoning = text(d.reasoning, aiTextChars);
              task.prompt_tokens = int(d.promptTokens);
              task.completion_tokens = int(d.completionTokens);
              task.duration_ms = int(d.durationMs);
              task.error = null;
              task.finished_at = at;
              break;
            case 'AiTaskFailed':
              task.error = text(d.error, 2000);
              if (d.willRetry === true) task.status = 'requested';
              else {
                task.status = 'failed';
                task.finished_at = at;
              }
              break;
            case 'AiTaskCancelled':
              task.status = 'cancelled';
              task.error = text(d.reason, 2000);
              task.finished_at = at;
              break;
            default:
              break; // AiTaskProgressed: the partial text is for live feeds, not the read model
          }
        }
        task.version = int4(commit.version);
        task.position = commit.position;
        task.updated_at = at;
        tasks.set(id, task);
        changed.set(id, task);
      }
      const written = await upsertRows(client, schema, tables.aiTasks, ['id'], [...changed.values()]);
      return written.map((row) => ({
        aggregateType: 'aiTask',
        aggregateId: row.id as string,
        view: row,
        position: Number(row.position),
        version: row.version as number,
      }));
    },
  };
}
