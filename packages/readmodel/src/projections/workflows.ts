import type { StoredCommit } from '@lightdom/domain';
import type pg from 'pg';
import { liveTables, type TableNames } from '../schema/tables.js';
import { commitTime, dataOf, eventsOf, idOf, int4, json, text, textOr, typeOf } from './coerce.js';
import type { Projection } from './projection.js';
import { type Row, rowsBy, upsertRows } from './upsert.js';

/**
 * `workflows` (one row per definition: name, status, current version) and
 * `workflow_versions` (every definition version, active or not, with its steps).
 */
export function createWorkflowsProjection(tables: TableNames = liveTables): Projection {
  return {
    name: 'workflows',
    aggregateTypes: ['workflow'],
    async apply(client: pg.PoolClient, schema: string, commits: StoredCommit[]) {
      const relevant = commits.filter((c) => c.aggregateType === 'workflow');
      if (relevant.length === 0) return [];
      const ids = [...new Set(relevant.map(idOf))];
      const current = new Map(
        (await rowsBy(client, schema, tables.workflows, 'id', ids)).map((r) => [r.id as string, r]),
      );
      const changed = new Map<string, Row>();
      const versions = new Map<string, Row>();
      for (const commit of relevant) {
        const id = idOf(commit);
        const at = commitTime(commit);
        const row: Row = current.get(id) ?? {
          id,
          name: '',
          description: '',
          status: 'active',
          current_version: 0,
          deprecated_reason: null,
          version: 0,
          position: 0,
          created_at: at,
          updated_at: at,
        };
        for (const event of eventsOf(commit)) {
          const d = dataOf(event);
          switch (typeOf(event)) {
            case 'WorkflowDefined':
              row.name = textOr(d.name, '', 200);
              row.description = textOr(d.description, '', 5000);
              row.status = 'active';
              row.deprecated_reason = null;
              break;
            case 'WorkflowRevised':
              break;
            case 'WorkflowDeprecated':
              row.status = 'deprecated';
              row.deprecated_reason = text(d.reason, 2000);
              continue;
            default:
              continue;
          }
          const definitionVersion = int4(d.definitionVersion);
          row.current_version = definitionVersion;
          const steps = Array.isArray(d.steps) ? d.steps : [];
          versions.set(`${id}|${definitionVersion}`, {
            workflow_id: id,
            definition_version: definitionVersion,
            steps: json(steps),
            step_count: steps.length,
            defined_at: at,
            position: commit.position,
          });
        }
        row.version = int4(commit.version);
        row.position = commit.position;
        row.updated_at = at;
        current.set(id, row);
        changed.set(id, row);
      }
      await upsertRows(client, schema, tables.workflows, ['id'], [...changed.values()]);
      await upsertRows(
        client,
        schema,
        tables.workflowVersions,
        ['workflow_id', 'definition_version'],
        [...versions.values()],
      );
      return [];
    },
  };
}
