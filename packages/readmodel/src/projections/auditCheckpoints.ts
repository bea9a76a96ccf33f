import type { StoredCommit } from '@lightdom/domain';
import type pg from 'pg';
import { liveTables, type TableNames } from '../schema/tables.js';
import { commitTime, dataOf, eventsOf, idOf, int, int4, text, textOr, typeOf } from './coerce.js';
import type { Projection } from './projection.js';
import { type Row, rowsBy, upsertRows } from './upsert.js';

/** `audit_checkpoints`: each anchored range of the log, its Merkle root and, once confirmed, its block. */
export function createAuditCheckpointsProjection(tables: TableNames = liveTables): Projection {
  return {
    name: 'audit_checkpoints',
    aggregateTypes: ['auditCheckpoint'],
    async apply(client: pg.PoolClient, schema: string, commits: StoredCommit[]) {
      const relevant = commits.filter((c) => c.aggregateType === 'auditCheckpoint');
      if (relevant.length === 0) return [];
      const ids = [...new Set(relevant.map(idOf))];
      const rows = new Map(
        (await rowsBy(client, schema, tables.auditCheckpoints, 'id', ids)).map((r) => [r.id as string, r]),
      );
      const changed = new Map<string, Row>();
      for (const commit of relevant) {
        const id = idOf(commit);
        const at = commitTime(commit);
        const row: Row = rows.get(id) ?? {
          id,
          status: 'anchored',
          from_position: 0,
          to_position: 0,
          merkle_root: '',
          commit_count: 0,
          chain_id: null,
          transaction_hash: null,
          block_number: null,
          anchored_at: at,
          confirmed_at: null,
          version: 0,
          position: 0,
        };
        for (const event of eventsOf(commit)) {
          const d = dataOf(event);
          switch (typeOf(event)) {
            case 'AuditCheckpointAnchored':
              row.status = 'anchored';
              row.from_position = int(d.fromPosition);
              row.to_position = int(d.toPosition);
              row.merkle_root = textOr(d.merkleRoot, '', 200);
              row.commit_count = int(d.commitCount);
              row.chain_id = d.chainId === null ? null : int(d.chainId, 0);
              row.transaction_hash = text(d.transactionHash, 200);
              row.anchored_at = at;
              break;
            case 'AuditCheckpointConfirmed':
              row.status = 'confirmed';
              row.chain_id = int(d.chainId);
              row.transaction_hash = text(d.transactionHash, 200);
              row.block_number = int(d.blockNumber);
              row.confirmed_at = at;
              break;
            default:
              break;
          }
        }
        row.version = int4(commit.version);
        row.position = commit.position;
        rows.set(id, row);
        changed.set(id, row);
      }
      await upsertRows(client, schema, tables.auditCheckpoints, ['id'], [...changed.values()]);
      return [];
    },
  };
}
