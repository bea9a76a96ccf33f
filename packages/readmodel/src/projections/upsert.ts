import type pg from 'pg';
import { qualified } from '../schema/tables.js';
import { storableJson } from '../storable.js';

export type Row = Record<string, unknown>;

/**
 * Writes `rows` into `table` in one statement (insert, or update on the key) and returns
 * them as Postgres holds them: the same shapes a later `select` gives, which the hot
 * views are built from. The columns are the first row's keys.
 */
export async function upsertRows(
  client: pg.PoolClient,
  schema: string,
  table: string,
  key: readonly string[],
  rows: Row[],
): Promise<Row[]> {
  if (rows.length === 0) return [];
  const target = qualified(schema, table);
  const columns = Object.keys(rows[0]!);
  const list = columns.map((c) => `"${c}"`).join(', ');
  const updates = columns.filter((c) => !key.includes(c)).map((c) => `"${c}" = excluded."${c}"`);
  const { rows: written } = await client.query(
    `insert into ${target} (${list}) select ${list} from jsonb_populate_recordset(null::${target}, $1::jsonb)
     on conflict (${key.map((k) => `"${k}"`).join(', ')}) do ${updates.length ? `update set ${updates.join(', ')}` : 'nothing'}
     returning *`,
    // Total over any text in the log; storableJson also never overflows on deep input.
    [storableJson(rows)],
  );
  return written;
}

/** Rows of `table` whose `column` is one of `ids`. */
export async function rowsBy(
  client: pg.PoolClient,
  schema: string,
  table: string,
  column: string,
  ids: string[],
): Promise<Row[]> {
  if (ids.length === 0) return [];
  const { rows } = await client.query(`select * from ${qualified(schema, table)} where "${column}" = any($1)`, [ids]);
  return rows;
}
