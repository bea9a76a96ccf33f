import type pg from 'pg';
import { qualified, readModelTables as t } from '../schema/tables.js';
import { decodeCursor, iso, type Page, pageOf, whereBuilder } from './paging.js';
import { readQuery } from './readQuery.js';

type Row = Record<string, unknown>;

/** A schedule as the API shows it. */
export interface ScheduleView {
  scheduleId: string;
  workflowId: string;
  /** Pinned definition version; null: the current one at each run. */
  definitionVersion: number | null;
  /** active, paused, completed (a one-time schedule that fired) or deleted. */
  status: string;
  cron: string | null;
  timezone: string;
  at: string | null;
  input: unknown;
  createdBy: string | null;
  lastSlot: string | null;
  lastRunId: string | null;
  firedCount: number;
  /** Slots passed over because no executor ran when they fell due. */
  missedSlots: number;
  version: number;
  position: number;
  createdAt: string;
  updatedAt: string;
}

export const toScheduleView = (r: Row): ScheduleView => ({
  scheduleId: r.id as string,
  workflowId: r.workflow_id as string,
  definitionVersion: (r.definition_version as number | null) ?? null,
  status: r.status as string,
  cron: (r.cron as string | null) ?? null,
  timezone: r.timezone as string,
  at: iso(r.at),
  input: r.input,
  createdBy: (r.created_by as string | null) ?? null,
  lastSlot: iso(r.last_slot),
  lastRunId: (r.last_run_id as string | null) ?? null,
  firedCount: Number(r.fired_count),
  missedSlots: Number(r.missed_slots),
  version: r.version as number,
  position: Number(r.position),
  createdAt: iso(r.created_at) as string,
  updatedAt: iso(r.updated_at) as string,
});

export interface ListSchedulesQuery {
  workflowId?: string;
  status?: string;
  limit: number;
  cursor?: string;
}

export function createScheduleQueries(pool: pg.Pool, schema: string) {
  const schedules = qualified(schema, t.schedules);
  return {
    async get(id: string): Promise<ScheduleView | null> {
      const { rows } = await readQuery(pool, `select * from ${schedules} where id = $1`, [id]);
      return rows[0] ? toScheduleView(rows[0]) : null;
    },
    async list(q: ListSchedulesQuery): Promise<Page<ScheduleView>> {
      const w = whereBuilder();
      if (q.workflowId) w.add((p) => `workflow_id = ${p}`, q.workflowId);
      if (q.status) w.add((p) => `status = ${p}`, q.status);
      if (q.cursor) w.add((p) => `id > ${p}`, decodeCursor(q.cursor));
      const { rows } = await readQuery(
        pool,
        `select * from ${schedules} ${w.sql()} order by id ${w.limit(q.limit)}`,
        w.params,
      );
      return pageOf(rows, q.limit, toScheduleView, (r) => r.id as string);
    },
  };
}

export type ScheduleQueries = ReturnType<typeof createScheduleQueries>;
