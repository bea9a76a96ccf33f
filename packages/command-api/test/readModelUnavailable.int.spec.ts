import pg from 'pg';
import { expect, it } from 'vitest';
import { createCampaignQueries } from '../src/index.js';

it('turns an unreachable read-model database into UNAVAILABLE, not an internal error', async () => {
  const pool = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/none', connectionTimeoutMillis: 1000 });
  try {
    const queries = createCampaignQueries(pool, 'public');
    await expect(queries.get('x')).rejects.toMatchObject({ code: 'UNAVAILABLE', retryable: true });
    await expect(queries.list({ limit: 1 })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  } finally {
    await pool.end();
  }
});
