import { quoteIdent } from '@lightdom/readmodel';
import pg from 'pg';

export { quoteIdent };

/** Creates the database named in the URL when it does not exist yet. */
export async function ensureDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  if (!name) return;
  const probe = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5000 });
  try {
    await probe.connect();
    return;
  } catch (err) {
    if ((err as { code?: string }).code !== '3D000') throw err;
  } finally {
    await probe.end().catch(() => undefined);
  }
  url.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: 5000 });
  await admin.connect();
  try {
    await admin.query(`create database ${quoteIdent(name)}`);
  } catch (err) {
    // Another instance may have created it in the meantime.
    if ((err as { code?: string }).code !== '42P04') throw err;
  } finally {
    await admin.end();
  }
}

/**
 * Runs `task` until it succeeds, waiting longer after each failure: a service that starts
 * while Postgres is still down waits for it instead of exiting.
 */
export async function untilAvailable<T>(
  what: string,
  task: () => Promise<T>,
  log: (msg: string, err: unknown) => void,
  maxDelayMs = 5000,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await task();
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      // Only connection problems are worth waiting out; anything else is a real error.
      if (
        !/^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|57P0[1-3])$/.test(code) &&
        !/terminat|timeout/i.test(String(err))
      ) {
        throw err;
      }
      log(`${what}: Postgres not reachable yet; retrying`, err);
      await new Promise((r) => setTimeout(r, Math.min(maxDelayMs, 250 * 2 ** Math.min(attempt, 5))));
    }
  }
}
