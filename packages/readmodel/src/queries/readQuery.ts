import { LightdomError } from '@lightdom/domain';
import type pg from 'pg';

// Connection refused/reset/timed out, and Postgres shutting down or starting up.
const unavailable = /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|57P01|57P02|57P03|08000|08003|08006)$/;

/**
 * Runs a read-model query; Postgres being away becomes UNAVAILABLE (503, retryable)
 * instead of an internal error, so clients know to retry.
 */
export async function readQuery<R extends pg.QueryResultRow>(
  pool: pg.Pool,
  sql: string,
  params: unknown[] = [],
): Promise<pg.QueryResult<R>> {
  try {
    return await pool.query<R>(sql, params);
  } catch (err) {
    const e = err as { code?: string; message?: string };
    if (
      unavailable.test(e.code ?? '') ||
      /Connection terminated|timeout exceeded when trying to connect/i.test(e.message ?? '')
    ) {
      throw new LightdomError('UNAVAILABLE', 'The read-model database is unavailable', { cause: err });
    }
    throw err;
  }
}
