import type { Logger } from '@lightdom/runtime';
import pg from 'pg';
import { projectionNames } from '../projections/catalog.js';
import { qualified, readModelTables } from '../schema/tables.js';
import { readQuery } from './readQuery.js';

export interface PositionWaiter {
  /** The position every projection has applied (asks Postgres). */
  current(): Promise<number>;
  /** The last position seen, without asking Postgres (fresh right after `waitFor`). */
  lastKnown(): number;
  /** Resolves true once the read model reached `position`, false after `timeoutMs`. */
  waitFor(position: number, timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Read-your-writes support. The projector sends `pg_notify('lightdom_projection')` in the
 * transaction that moves its checkpoint, so a waiter wakes as soon as the rows are
 * visible; a slow poll covers a lost LISTEN connection.
 */
export function createPositionWaiter(deps: {
  pool: pg.Pool;
  databaseUrl: string;
  schema: string;
  logger: Logger;
  /** Projections the reads depend on; a retired one's checkpoint must not hold reads back. Default: every projection of the catalogue. */
  projections?: string[];
}): PositionWaiter {
  const projections = deps.projections ?? [...projectionNames];
  const { pool, schema } = deps;
  let known = 0;
  const waiters = new Set<{ position: number; resolve: (ok: boolean) => void }>();
  let listener: pg.Client | undefined;
  let closed = false;

  const wake = () => {
    for (const w of waiters) {
      if (known >= w.position) {
        waiters.delete(w);
        w.resolve(true);
      }
    }
  };

  async function current(): Promise<number> {
    const { rows } = await readQuery<{ p: string | null }>(
      pool,
      `select min(position) as p from ${qualified(schema, readModelTables.checkpoints)} where name = any($1)`,
      [projections],
    );
    known = Math.max(known, Number(rows[0]?.p ?? 0));
    wake();
    return known;
  }

  async function listen() {
    if (closed) return;
    const client = new pg.Client({ connectionString: deps.databaseUrl });
    client.on('error', () => undefined);
    client.on('end', () => {
      listener = undefined;
      // The connection ends when Postgres restarts; after a crash the read model may be
      // behind what was seen (commits without a WAL flush, see the projector), so what is
      // known is asked again rather than remembered.
      known = 0;
      if (!closed) setTimeout(() => void listen().catch(() => undefined), 1000);
    });
    client.on('notification', (n) => {
      try {
        const msg = JSON.parse(n.payload ?? '{}') as {
          schema?: string;
          position?: number;
          through?: number;
          projections?: unknown;
        };
        if (msg.schema !== schema || typeof msg.position !== 'number' || msg.position <= known) return;
        // The projector names the projections its transaction covered and the lowest
        // checkpoint among them once committed; when those are all the reads depend on,
        // that is the answer without a query.
        const names = Array.isArray(msg.projections) ? msg.projections : [];
        if (typeof msg.through === 'number' && projections.every((p) => names.includes(p))) {
          if (msg.through > known) {
            known = msg.through;
            wake();
          }
          if (known >= msg.position) return;
        }
        // Otherwise (another writer, or projections not covered): ask for the minimum.
        void current().catch(() => undefined);
      } catch {
        /* not ours */
      }
    });
    await client.connect();
    await client.query('listen lightdom_projection');
    listener = client;
  }
  void listen().catch((err) => deps.logger.warn({ err }, 'LISTEN failed; polling only'));

  const poll = setInterval(() => {
    if (waiters.size > 0) void current().catch(() => undefined);
  }, 100);
  poll.unref();

  return {
    current,
    lastKnown: () => known,
    async waitFor(position, timeoutMs) {
      if (known >= position || (await current()) >= position) return true;
      return new Promise<boolean>((resolve) => {
        const w = {
          position,
          resolve: (ok: boolean) => {
            clearTimeout(timer);
            resolve(ok);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(w);
          resolve(false);
        }, timeoutMs);
        waiters.add(w);
      });
    },
    async close() {
      closed = true;
      clearInterval(poll);
      for (const w of waiters) w.resolve(false);
      waiters.clear();
      await listener?.end().catch(() => undefined);
    },
  };
}
