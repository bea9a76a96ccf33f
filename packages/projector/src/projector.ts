import { setTimeout as sleep } from 'node:timers/promises';
import { type Logger, readCommit, type StoredCommit, upcastEvent } from '@lightdom/events';
import type { Redis } from 'ioredis';
import { AckPolicy, type ConsumerMessages, DeliverPolicy, type JsMsg, type NatsConnection, nanos } from 'nats';
import type pg from 'pg';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { quoteIdent } from './db.js';
import { createHotViews, type HotViewOptions } from './hotViews.js';
import type { Projection } from './projection.js';

export interface ProjectorDeps {
  nc: NatsConnection;
  pool: pg.Pool;
  redis?: Redis;
  logger: Logger;
  registry?: Registry;
}

export interface ProjectorOptions {
  stream: string;
  subjectPrefix: string;
  /** Postgres schema holding the tables and checkpoints. */
  schema: string;
  /** Durable consumer name. Default `projector`. */
  durable: string;
  /** Most commits applied in one transaction (a batch closes early when the consumer is caught up). Default 500. */
  batchSize: number;
  projections: Projection[];
  hotViews?: HotViewOptions;
  /** Called inside the transaction, after the rows and the checkpoint changed, before commit. */
  beforeCommit?: (positions: number[]) => Promise<void>;
  /**
   * Test-only switch for the fault suite: the checkpoint is kept in memory and saved
   * every 500 ms in a statement of its own (like a consumer that auto-commits its offset
   * on a timer), not in the rows' transaction. A crash loses up to 500 ms of checkpoint
   * and applies those commits again. Proves the suite catches a projector that is not
   * crash-safe. Never set it elsewhere.
   */
  unsafeCheckpointOutsideTransaction?: boolean;
}

export interface Projector {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Position every projection has applied (the lowest checkpoint). */
  position(): Promise<number>;
  /** Resolves once every projection has applied `position`. */
  waitFor(position: number, timeoutMs?: number): Promise<void>;
}

class GapError extends Error {}

export function createProjector(
  deps: ProjectorDeps,
  options: Partial<ProjectorOptions> & Pick<ProjectorOptions, 'stream' | 'subjectPrefix' | 'schema' | 'projections'>,
): Projector {
  const opts: ProjectorOptions = { durable: 'projector', batchSize: 500, ...options };
  const { nc, pool, logger } = deps;
  const s = quoteIdent(opts.schema);
  const names = opts.projections.map((p) => p.name);
  const hot = deps.redis && opts.hotViews ? createHotViews(deps.redis, opts.hotViews) : undefined;
  const metrics = deps.registry ? createMetrics(deps.registry) : undefined;
  let stopped = false;
  let messages: ConsumerMessages | undefined;
  let loop: Promise<void> | undefined;
  let applied = 0;
  let hotPublishing: Promise<void> = Promise.resolve();
  // Only for unsafeCheckpointOutsideTransaction: the position applied but not yet saved.
  let unsafeApplied = 0;
  let unsafeTimer: NodeJS.Timeout | undefined;
  const saveUnsafeCheckpoint = () =>
    pool
      .query(
        `update ${s}.projection_checkpoints set position = $1, updated_at = now() where name = any($2) and position < $1`,
        [unsafeApplied, names],
      )
      .catch(() => undefined);

  /** Creates the checkpoint rows once, at start; batches then only read and move them. */
  async function ensureCheckpointRows(): Promise<void> {
    await pool.query(
      `insert into ${s}.projection_checkpoints (name, position) select unnest($1::text[]), 0 on conflict do nothing`,
      [names],
    );
  }

  async function checkpoints(client: pg.PoolClient | pg.Pool, lock = false): Promise<Map<string, number>> {
    const { rows } = await client.query<{ name: string; position: string }>(
      `select name, position from ${s}.projection_checkpoints where name = any($1) ${lock ? 'for update' : ''}`,
      [names],
    );
    return new Map(rows.map((r) => [r.name, Number(r.position)]));
  }

  async function lowestCheckpoint(): Promise<number> {
    const cps = await checkpoints(pool);
    return Math.min(...names.map((n) => cps.get(n) ?? 0));
  }

  /** The checkpoint in Postgres is the truth: the consumer is recreated to start right after it. */
  async function openConsumer(after: number) {
    const jsm = await nc.jetstreamManager();
    await jsm.consumers.delete(opts.stream, opts.durable).catch(() => undefined);
    await jsm.consumers.add(opts.stream, {
      durable_name: opts.durable,
      ack_policy: AckPolicy.All,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: after + 1,
      // No filter: the stream holds only `<prefix>.>` (checked at start-up), and nats-server
      // 2.9 delivers unfiltered consumers several times faster.
      ack_wait: nanos(60_000),
      max_ack_pending: opts.batchSize * 20,
    });
    return nc.jetstream().consumers.get(opts.stream, opts.durable);
  }

  async function applyBatch(batch: JsMsg[]): Promise<void> {
    const started = performance.now();
    const positions = batch.map((m) => m.seq);
    const commits: StoredCommit[] = [];
    for (const m of batch) {
      const c = readCommit(m);
      if (c) commits.push({ ...c, events: c.events.map(upcastEvent) });
      else {
        // Something not written by the store: skip it (the checkpoint still moves past it)
        // rather than stall every projection on it forever.
        metrics?.skipped.inc();
        logger.error({ position: m.seq, subject: m.subject }, 'message is not a commit; skipped');
      }
    }
    const client = await pool.connect();
    // pg-pool stops listening for a checked-out client's errors; without this listener a
    // Postgres restart mid-batch would be an unhandled 'error' event and kill the process.
    let broken: Error | undefined;
    const onError = (err: Error) => {
      broken = err;
      logger.warn({ err: err.message }, 'Postgres connection lost mid-batch');
    };
    client.on('error', onError);
    let changes: Awaited<ReturnType<Projection['apply']>> = [];
    let last = 0;
    try {
      await client.query('begin');
      const cps = await checkpoints(client, true);
      for (const projection of opts.projections) {
        const cp = Math.max(cps.get(projection.name) ?? 0, unsafeApplied);
        const freshPositions = positions.filter((p) => p > cp);
        if (freshPositions.length === 0) continue;
        // The stream holds only our subjects and refuses deletes, so positions are contiguous.
        freshPositions.forEach((p, i) => {
          if (p !== cp + 1 + i) throw new GapError(`expected position ${cp + 1 + i}, got ${p}`);
        });
        const upTo = freshPositions[freshPositions.length - 1]!;
        changes = changes.concat(
          await projection.apply(
            client,
            opts.schema,
            commits.filter((c) => c.position > cp),
          ),
        );
        last = Math.max(last, upTo);
        if (opts.unsafeCheckpointOutsideTransaction) continue;
        await client.query(`update ${s}.projection_checkpoints set position = $2, updated_at = now() where name = $1`, [
          projection.name,
          upTo,
        ]);
      }
      if (last > 0) {
        await opts.beforeCommit?.(commits.map((c) => c.position));
        await client.query('select pg_notify($1, $2)', [
          'lightdom_projection',
          JSON.stringify({ schema: opts.schema, position: last }),
        ]);
      }
      await client.query('commit');
      if (opts.unsafeCheckpointOutsideTransaction && last > 0) unsafeApplied = last;
    } catch (err) {
      await client.query('rollback').catch(() => undefined);
      throw err;
    } finally {
      client.off('error', onError);
      // A broken client is destroyed, not returned to the pool.
      client.release(broken);
    }
    batch[batch.length - 1]!.ack();
    if (last === 0) return;
    applied += commits.length;
    metrics?.applied.inc(commits.length);
    metrics?.checkpoint.set(last);
    metrics?.lag.set(batch[batch.length - 1]!.info.pending);
    metrics?.batchSeconds.observe((performance.now() - started) / 1000);
    if (hot) {
      // Redis work overlaps the next batch's Postgres work, one batch at a time, in order.
      await hotPublishing;
      hotPublishing = hot.publish(commits, changes, { name: names.join('+'), position: last }).catch((err) => {
        metrics?.redisErrors.inc();
        logger.warn({ err }, 'hot views not updated; Postgres read model is current');
      });
    }
  }

  async function runOnce(): Promise<void> {
    await ensureCheckpointRows();
    const after = await lowestCheckpoint();
    const consumer = await openConsumer(after);
    logger.info({ after, durable: opts.durable }, 'projecting');
    messages = await consumer.consume({ max_messages: opts.batchSize * 2 });
    let batch: JsMsg[] = [];
    for await (const m of messages) {
      if (stopped) break;
      batch.push(m);
      if (batch.length >= opts.batchSize || m.info.pending === 0) {
        const current = batch;
        batch = [];
        await applyBatch(current);
      }
    }
  }

  async function run(): Promise<void> {
    let failures = 0;
    while (!stopped) {
      try {
        await runOnce();
        failures = 0;
      } catch (err) {
        if (stopped) break;
        failures++;
        logger.error({ err, failures }, 'projection loop failed; restarting from the checkpoint');
      } finally {
        messages?.stop();
      }
      if (!stopped) await sleep(Math.min(5000, 100 * 2 ** Math.min(failures, 6)));
    }
  }

  return {
    async start() {
      stopped = false;
      await ensureCheckpointRows();
      if (opts.unsafeCheckpointOutsideTransaction) unsafeTimer = setInterval(() => void saveUnsafeCheckpoint(), 500);
      loop = run();
    },
    async stop() {
      stopped = true;
      messages?.stop();
      await loop;
      await hotPublishing;
      if (unsafeTimer) {
        clearInterval(unsafeTimer);
        await saveUnsafeCheckpoint();
      }
      logger.info({ applied }, 'projector stopped');
    },
    position: lowestCheckpoint,
    async waitFor(position, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while ((await lowestCheckpoint()) < position) {
        if (Date.now() > deadline) throw new Error(`projector did not reach position ${position} in ${timeoutMs} ms`);
        await sleep(20);
      }
    },
  };
}

function createMetrics(registry: Registry) {
  return {
    applied: new Counter({
      name: 'lightdom_projector_commits_applied_total',
      help: 'Commits applied',
      registers: [registry],
    }),
    checkpoint: new Gauge({
      name: 'lightdom_projector_checkpoint',
      help: 'Last applied position',
      registers: [registry],
    }),
    lag: new Gauge({
      name: 'lightdom_projector_lag',
      help: 'Commits in the log not yet applied (log head minus checkpoint)',
      registers: [registry],
    }),
    batchSeconds: new Histogram({
      name: 'lightdom_projector_batch_duration_seconds',
      help: 'Time to apply one batch',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [registry],
    }),
    skipped: new Counter({
      name: 'lightdom_projector_skipped_messages_total',
      help: 'Messages on the stream that were not commits (skipped, checkpoint moved past them)',
      registers: [registry],
    }),
    redisErrors: new Counter({
      name: 'lightdom_projector_redis_errors_total',
      help: 'Batches whose hot views could not be written',
      registers: [registry],
    }),
  };
}
