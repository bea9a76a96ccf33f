import type pg from 'pg';
import { qualified, readModelTables as t } from '../schema/tables.js';
import { decodeCursor, iso, type Page, pageOf, whereBuilder } from './paging.js';
import { readQuery } from './readQuery.js';

type Row = Record<string, unknown>;

export interface WorkflowVersionView {
  definitionVersion: number;
  steps: unknown[];
  stepCount: number;
  definedAt: string;
  position: number;
}

/** A workflow definition as the API shows it; `versions` only on a single read. */
export interface WorkflowView {
  workflowId: string;
  name: string;
  description: string;
  /** active or deprecated. */
  status: string;
  currentVersion: number;
  deprecatedReason: string | null;
  version: number;
  position: number;
  createdAt: string;
  updatedAt: string;
  versions?: WorkflowVersionView[];
}

export const toWorkflowView = (r: Row): WorkflowView => ({
  workflowId: r.id as string,
  name: r.name as string,
  description: r.description as string,
  status: r.status as string,
  currentVersion: r.current_version as number,
  deprecatedReason: (r.deprecated_reason as string | null) ?? null,
  version: r.version as number,
  position: Number(r.position),
  createdAt: iso(r.created_at) as string,
  updatedAt: iso(r.updated_at) as string,
});

const toVersionView = (r: Row): WorkflowVersionView => ({
  definitionVersion: r.definition_version as number,
  steps: r.steps as unknown[],
  stepCount: r.step_count as number,
  definedAt: iso(r.defined_at) as string,
  position: Number(r.position),
});

export interface ListWorkflowsQuery {
  status?: string;
  limit: number;
  cursor?: string;
}

export function createWorkflowQueries(pool: pg.Pool, schema: string) {
  const workflows = qualified(schema, t.workflows);
  const versions = qualified(schema, t.workflowVersions);
  return {
    /** The definition with every version, oldest first. */
    async get(id: string): Promise<WorkflowView | null> {
      const { rows } = await readQuery(pool, `select * from ${workflows} where id = $1`, [id]);
      if (!rows[0]) return null;
      const v = await readQuery(pool, `select * from ${versions} where workflow_id = $1 order by definition_version`, [
        id,
      ]);
      return { ...toWorkflowView(rows[0]), versions: v.rows.map(toVersionView) };
    },
    async list(q: ListWorkflowsQuery): Promise<Page<WorkflowView>> {
      const w = whereBuilder();
      if (q.status) w.add((p) => `status = ${p}`, q.status);
      if (q.cursor) w.add((p) => `id > ${p}`, decodeCursor(q.cursor));
      const { rows } = await readQuery(
        pool,
        `select * from ${workflows} ${w.sql()} order by id ${w.limit(q.limit)}`,
        w.params,
      );
      return pageOf(rows, q.limit, toWorkflowView, (r) => r.id as string);
    },
  };
}

export type WorkflowQueries = ReturnType<typeof createWorkflowQueries>;
