import type { StoredCommit } from '@lightdom/domain';
import type pg from 'pg';
import { liveTables, type TableNames } from '../schema/tables.js';
import { commitTime, dataOf, eventsOf, idOf, int4, json, text, textOr, time, typeOf } from './coerce.js';
import type { Projection } from './projection.js';
import { type Row, rowsBy, upsertRows } from './upsert.js';

/** `schedules`: one row per schedule: what it runs, when, its state, and its last fired slot (issue 14). */
export function createSchedulesProjection(tables: TableNames = liveTables): Projection {
  return {
    name: 'schedules',
    aggregateTypes: ['schedule'],
    async apply(client: pg.PoolClient, schema: string, commits: StoredCommit[]) {
      const relevant = commits.filter((c) => c.aggregateType === 'schedule');
      if (relevant.length === 0) return [];
      const ids = [...new Set(relevant.map(idOf))];
      const current = new Map(
        (await rowsBy(client, schema, tables.schedules, 'id', ids)).map((r) => [r.id as string, r]),
      );
      const changed = new Map<string, Row>();
      for (const commit of relevant) {
        const id = idOf(commit);
        const at = commitTime(commit);
        const row: Row = current.get(id) ?? {
          id,
          workflow_id: '',
          definition_version: null,
          status: 'active',
          cron: null,
          timezone: 'UTC',
          at: null,
          input: {},
          created_by: null,
          last_slot: null,
          last_run_id: null,
          fired_count: 0,
          missed_slots: 0,
          version: 0,
          position: 0,
          created_at: at,
          updated_at: at,
        };
        for (const event of eventsOf(commit)) {
          const d = dataOf(event);
          switch (typeOf(event)) {
            case 'ScheduleCreated':
              row.workflow_id = textOr(d.workflowId, '', 100);
              row.definition_version = d.definitionVersion === null ? null : int4(d.definitionVersion);
              row.cron = text(d.cron, 200);
              row.timezone = textOr(d.timezone, 'UTC', 64);
              row.at = time(d.at);
              row.input = json(d.input ?? {});
              row.created_by = text((d.createdBy as { actor?: unknown } | null | undefined)?.actor, 200);
              row.status = 'active';
              break;
            case 'SchedulePaused':
              row.status = 'paused';
              break;
            case 'ScheduleResumed':
              row.status = 'active';
              break;
            case 'ScheduleDeleted':
              row.status = 'deleted';
              break;
            case 'ScheduleFired':
              row.last_slot = time(d.slot);
              row.last_run_id = text(d.runId, 100);
              row.fired_count = Number(row.fired_count) + 1;
              row.missed_slots = Number(row.missed_slots) + Math.max(0, int4(d.missedSlots));
              if (row.at !== null) row.status = 'completed';
              break;
            default:
              break;
          }
        }
        row.version = int4(commit.version);
        row.position = commit.position;
        row.updated_at = at;
        current.set(id, row);
        changed.set(id, row);
      }
      const written = await upsertRows(client, schema, tables.schedules, ['id'], [...changed.values()]);
      return written.map((r) => ({
        aggregateType: 'schedule',
        aggregateId: r.id as string,
        view: r,
        position: Number(r.position),
        version: r.version as number,
      }));
    },
  };
}
