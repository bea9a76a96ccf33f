import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { Logger } from 'pino';

export interface ProjectorLeaseOptions {
  /** What the lease guards, e.g. `projector:<schema>:<durable>`; hashed into the advisory lock key. */
  name: string;
  /** While standing by: how often the lock is tried again, in ms. */
  retryMs: number;
}

export interface ProjectorLease {
  /** Resolves once this process holds the lease (waits as long as another holds it). */
  acquire(signal?: AbortSignal): Promise<void>;
  /** Whether the lease is held right now. */
  held(): boolean;
  /** Readiness: throws while standing by or after the lease was lost. */
  check(): Promise<void>;
  /** Resolves (with the reason) when a held lease is lost: its connection broke. */
  readonly lost: Promise<Error>;
  /** Gives the lease up (ends its connection). */
  release(): Promise<void>;
}

/**
 * One active projector per read-model schema and durable, with standbys: a PostgreSQL
 * session advisory lock held on a connection of its own. Postgres frees the lock the
 * moment the holder's session ends (a kill -9 closes its socket), so a standby that
 * tries every `retryMs` takes over within about that time. A holder whose lease
 * connection breaks can no longer know whether a standby took over, so it must stop
 * projecting: `lost` resolves and the caller exits (the way Kubernetes' leader election
 * ends a process that stopped leading).
 */
export function createProjectorLease(
  deps: { connectionString: string; logger: Logger },
  opts: ProjectorLeaseOptions,
): ProjectorLease {
  let client: pg.Client | undefined;
  let holding = false;
  let lostReason: Error | undefined;
  let resolveLost: (err: Error) => void = () => undefined;
  const lost = new Promise<Error>((resolve) => {
    resolveLost = resolve;
  });

  const onBroken = (err: Error) => {
    if (!holding) return;
    holding = false;
    lostReason = err;
    deps.logger.error({ lease: opts.name, err: err.message }, 'projector lease lost');
    resolveLost(err);
  };

  /** One try on a fresh or kept connection; true when the lock is ours. */
  async function tryOnce(): Promise<boolean> {
    if (!client) {
      const c = new pg.Client({
        connectionString: deps.connectionString,
        connectionTimeoutMillis: 5000,
        keepAlive: true,
      });
      c.on('error', (err) => onBroken(err));
      c.on('end', () => onBroken(new Error('lease connection ended')));
      try {
        await c.connect();
      } catch (err) {
        c.end().catch(() => undefined);
        throw err;
      }
      client = c;
    }
    try {
      const r = await client.query<{ ok: boolean }>('select pg_try_advisory_lock(hashtextextended($1, 0)) as ok', [
        opts.name,
      ]);
      return r.rows[0]?.ok === true;
    } catch (err) {
      // A broken standby connection is replaced on the next try.
      const c = client;
      client = undefined;
      c.end().catch(() => undefined);
      throw err;
    }
  }

  return {
    lost,
    held: () => holding,
    async acquire(signal) {
      if (holding) return;
      if (lostReason) throw new Error(`projector lease ${opts.name} was lost: ${lostReason.message}`);
      let logged = false;
      while (!signal?.aborted) {
        try {
          if (await tryOnce()) {
            holding = true;
            deps.logger.info({ lease: opts.name }, 'projector lease acquired: this instance is active');
            return;
          }
          if (!logged) deps.logger.info({ lease: opts.name }, 'standby: another projector holds the lease; waiting');
          logged = true;
        } catch (err) {
          deps.logger.warn({ lease: opts.name, err: (err as Error).message }, 'standby: cannot try the lease');
        }
        await sleep(opts.retryMs, undefined, signal ? { signal } : undefined).catch(() => undefined);
      }
      throw new Error(`waiting for projector lease ${opts.name} was aborted`);
    },
    async check() {
      if (lostReason) throw new Error(`lease lost: ${lostReason.message}`);
      if (!holding) throw new Error('standby: another instance holds the projector lease');
    },
    async release() {
      holding = false;
      const c = client;
      client = undefined;
      await c?.end().catch(() => undefined);
    },
  };
}
