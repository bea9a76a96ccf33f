import { setTimeout as sleep } from 'node:timers/promises';
import { type StoredCommit, upcastEvent } from '@lightdom/domain';
import {
  createEventStore,
  type EventStore,
  readCommit,
  SpanKind,
  startSpan,
  tracingInstalled,
} from '@lightdom/eventstore';
import { createHotViews, type HotViewOptions } from '@lightdom/readmodel';
import type { Logger } from '@lightdom/runtime';
import type { Redis } from 'ioredis';
import { AckPolicy, type ConsumerMessages, DeliverPolicy, type JsMsg, type NatsConnection, nanos } from 'nats';
import type pg from 'pg';
import type { Registry } from 'prom-client';
import { quoteIdent } from './db.js';
import { createProjectorMetrics } from './metrics.js';
import type { Projection, ProjectionChange } from './projection.js';
import { findSkipDecision } from './skipDecisions.js';
import { storableText } from './storable.js';

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
  /** Most commits applied in one transaction (a batch closes early when the consumer is caught up). Default 2000. */
  batchSize: number;
  /**
   * While a projection is stalled on a commit it cannot apply: how often it tries that
   * commit again and looks for an operator's skip decision in the log, in ms. Default 5000.
   */
  stallRetryMs: number;
  projections: Projection[];
  hotViews?: HotViewOptions;
  /**
   * How often the projector checks that Redis still holds the hot views (and repairs them
   * from Postgres after a failed write or a flush), in ms. Default 1000.
   */
  viewsCheckMs: number;
  /**
   * Whether a batch's commit waits for Postgres to flush its WAL to disk. Default false
   * (PROJECTOR_SYNCHRONOUS_COMMIT).
   * Off, the commit returns once the WAL is written to Postgres' buffers: a crash of the
   * Postgres server (not of the projector) may then lose the last batches, rows and
   * checkpoints together, and the projector applies them again from the log. See
   * docs/decisions.md ("Projector: batches overlap, fewer round trips, commits without a WAL flush").
   */
  synchronousCommit: boolean;
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

/** A projection waiting on a commit it cannot apply, until an operator decides. */
export interface ProjectionStall {
  projection: string;
  position: number;
  error: string;
  since: string;
}

export interface Projector {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Position every projection has applied (the lowest checkpoint). */
  position(): Promise<number>;
  /** Resolves once every projection has applied `position`. */
  waitFor(position: number, timeoutMs?: number): Promise<void>;
  /** Projections that are stalled now, with the position and the error. */
  stalls(): ProjectionStall[];
  /** A readiness check: throws, naming each stalled projection, its position and error. */
  assertNotStalled(): Promise<void>;
  /** Each projection's checkpoint and lag (log head − checkpoint) as of the last batch. */
  lag(): Record<string, { position: number; lag: number }>;
}

class GapError extends Error {}

/** A projection's `apply` threw; `cause` says whether the commit or the connection is to blame. */
class ApplyFailure extends Error {
  constructor(
    readonly projection: string,
    override readonly cause: unknown,
  ) {
    super(`${projection}: ${errorText(cause)}`);
  }
}

/** Thrown after a batch's transaction committed, when a projection stopped at a commit. */
class StalledError extends Error {}

const errorText = (err: unknown): string => storableText(String((err as Error)?.message ?? err).slice(0, 300));

/**
 * Whether an error says nothing about the commit: connection trouble, locks, resources,
 * shutdowns. Those are retried as they always were. Anything else from `apply` (a data
 * or constraint error, a TypeError on a malformed event) is the commit's, and stalls the
 * projection at it instead of failing the same batch forever in silence.
 */
function isTransient(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return /^(08|40|53|55|57|58|XX)/.test(code);
  if (typeof code === 'string') return true; // ECONNRESET and other system errors
  return /connection|terminat|not queryable|timeout/i.test(String((err as Error)?.message ?? ''));
}

interface Decoded {
  position: number;
  /** Undefined for a message that is not a commit. */
  commit?: StoredCommit;
  /** Why the commit's events could not be upcast; the commit then fails for every projection. */
  upcastError?: unknown;
  /** The trace the commit belongs to (its `traceparent` header). */
  traceparent?: string;
}

function decode(m: JsMsg, traced: boolean): Decoded {
  const c = readCommit(m);
  if (!c) return { position: m.seq };
  // Headers are parsed on first access; only the spans need them.
  const traceparent = (traced && m.headers?.get('traceparent')) || undefined;
  const trace = traceparent ? { traceparent } : {};
  try {
    return { position: m.seq, commit: { ...c, events: c.events.map(upcastEvent) }, ...trace };
  } catch (err) {
    return { position: m.seq, commit: c, upcastError: err, ...trace };
  }
}

/**
 * One span per commit a batch applied, in the commit's trace: from the batch's start to its
 * transaction's commit (the moment the read models show it).
 */
function traceApplied(decoded: Decoded[], from: Map<string, number>, through: number, batchStart: Date): void {
  const after = Math.min(...from.values());
  for (const d of decoded) {
    if (!d.commit || d.position <= after || d.position > through) continue;
    startSpan(`project ${d.commit.commandType ?? d.commit.aggregateType}`, d.traceparent, {
      kind: SpanKind.CONSUMER,
      whenOff: 'same',
      startTime: batchStart,
      attributes: {
        'lightdom.position': d.position,
        'lightdom.aggregate.type': d.commit.aggregateType,
        'lightdom.aggregate.id': d.commit.aggregateId,
        'lightdom.batch.size': decoded.length,
      },
    }).end();
  }
}

export function createProjector(
  deps: ProjectorDeps,
  options: Partial<ProjectorOptions> & Pick<ProjectorOptions, 'stream' | 'subjectPrefix' | 'schema' | 'projections'>,
): Projector {
  const opts: ProjectorOptions = {
    durable: 'projector',
    batchSize: 2000,
    stallRetryMs: 5000,
    viewsCheckMs: 1000,
    synchronousCommit: false,
    ...options,
  };
  const { nc, pool, logger } = deps;
  const s = quoteIdent(opts.schema);
  const names = opts.projections.map((p) => p.name);
  const hot =
    deps.redis && opts.hotViews
      ? createHotViews({ redis: deps.redis, pool, schema: opts.schema }, opts.hotViews)
      : undefined;
  let viewsTimer: NodeJS.Timeout | undefined;
  const lagBy = new Map<string, { position: number; lag: number }>();
  const metrics = deps.registry ? createProjectorMetrics(deps.registry, names) : undefined;
  // Only reads the projections' own decisions (`projection.<name>` subjects).
  const decisions: EventStore = createEventStore(
    { nc, logger },
    { stream: opts.stream, subjectPrefix: opts.subjectPrefix },
  );
  const stalls = new Map<string, ProjectionStall>();
  // Read once: main.ts installs the provider (or not) before the projector starts.
  const tracing = tracingInstalled();
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

  async function checkpoints(client: pg.PoolClient | pg.Pool): Promise<Map<string, number>> {
    const { rows } = await client.query<{ name: string; position: string }>(
      `select name, position from ${s}.projection_checkpoints where name = any($1)`,
      [names],
    );
    return new Map(rows.map((r) => [r.name, Number(r.position)]));
  }

  /**
   * Opens the batch's transaction and locks the checkpoints in one round trip: a simple
   * query of several statements, so the names go in as escaped literals.
   */
  async function beginAndLockCheckpoints(client: pg.PoolClient): Promise<Map<string, number>> {
    const list = names.map((n) => client.escapeLiteral(n)).join(', ');
    const statements = [
      'begin',
      ...(opts.synchronousCommit ? [] : ['set local synchronous_commit = off']),
      `select name, position from ${s}.projection_checkpoints where name in (${list}) for update`,
    ];
    const results = (await client.query(statements.join('; '))) as unknown as pg.QueryResult<{
      name: string;
      position: string;
    }>[];
    return new Map(results.at(-1)!.rows.map((r) => [r.name, Number(r.position)]));
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
      // Each batch is acked once committed. Twenty batches of room: messages that were on the
      // wire when the connection to NATS dropped count as pending until `ack_wait`, and with
      // only three batches of room they filled it, so the projector stood still for the whole
      // ack wait after a NATS restart (the fault suite's check caught a 53 s pause). The cost:
      // a projector slower than delivery holds more messages in memory.
      max_ack_pending: opts.batchSize * 20,
    });
    return nc.jetstream().consumers.get(opts.stream, opts.durable);
  }

  async function applyOne(client: pg.PoolClient, projection: Projection, commits: Decoded[]) {
    try {
      const failed = commits.find((d) => d.upcastError !== undefined);
      if (failed) throw failed.upcastError;
      return await projection.apply(
        client,
        opts.schema,
        commits.flatMap((d) => (d.commit ? [d.commit] : [])),
      );
    } catch (err) {
      throw new ApplyFailure(projection.name, err);
    }
  }

  function noteStall(projection: string, position: number, err: unknown): void {
    const error = errorText(err);
    const known = stalls.get(projection);
    if (known?.position === position) {
      known.error = error;
      return;
    }
    stalls.set(projection, { projection, position, error, since: new Date().toISOString() });
    metrics?.stuck.set({ projection }, position);
    // Once per stall, not per retry.
    logger.error(
      { projection, position, err: error },
      'projection stalled: it cannot apply this commit and waits; decide with `lightdom projections skip ' +
        `${projection} ${position} --reason "…"\` (docs/projections.md)`,
    );
  }

  function clearStall(projection: string, checkpoint: number): void {
    const stall = stalls.get(projection);
    if (!stall || checkpoint < stall.position) return;
    stalls.delete(projection);
    metrics?.stuck.set({ projection }, 0);
    logger.info({ projection, position: stall.position, checkpoint }, 'projection moving again');
  }

  /**
   * Applies one projection's fresh commits one at a time, each under a savepoint, so the
   * commit that cannot be applied is found. One with an operator's skip decision is passed
   * over (recorded in projection_skips, counted, logged); at one without, the projection
   * stops. Returns the position it reached and whether it stalled.
   */
  async function applyCarefully(client: pg.PoolClient, projection: Projection, fresh: Decoded[], from: number) {
    let reached = from;
    let changes: ProjectionChange[] = [];
    for (const d of fresh) {
      await client.query('savepoint lightdom_commit');
      try {
        changes = changes.concat(await applyOne(client, projection, [d]));
        await client.query('release savepoint lightdom_commit');
        reached = d.position;
      } catch (err) {
        const cause = err instanceof ApplyFailure ? err.cause : err;
        await client.query('rollback to savepoint lightdom_commit');
        if (!(err instanceof ApplyFailure) || isTransient(cause)) throw err;
        const decision = await findSkipDecision(decisions, projection.name, d.position);
        if (!decision) {
          // Reported once the transaction holding the commits before it has committed.
          return { reached, changes, stalled: true, stall: { position: d.position, cause } };
        }
        await client.query(
          `insert into ${s}.projection_skips (projection, position, error, reason, actor, decision_position)
           values ($1, $2, $3, $4, $5, $6) on conflict do nothing`,
          [
            projection.name,
            d.position,
            errorText(cause),
            storableText(decision.reason),
            storableText(decision.actor),
            decision.decisionPosition,
          ],
        );
        metrics?.skippedCommits.inc({ projection: projection.name });
        logger.warn(
          { ...decision, reason: storableText(decision.reason), err: errorText(cause) },
          'commit skipped by operator decision',
        );
        reached = d.position;
      }
    }
    return { reached, changes, stalled: false, stall: undefined };
  }

  /** Decodes a message as it arrives, while the previous batch is still in its transaction. */
  function decodeOne(m: JsMsg): Decoded {
    const d = decode(m, tracing);
    if (!d.commit) {
      // Something not written by the store: skip it (the checkpoint still moves past it)
      // rather than stall every projection on it forever.
      metrics?.skipped.inc();
      logger.error({ position: d.position }, 'message is not a commit; skipped');
    }
    return d;
  }

  async function applyBatch(batch: JsMsg[], decoded: Decoded[]): Promise<void> {
    try {
      await applyInTransaction(batch, decoded, false);
    } catch (err) {
      if (!(err instanceof ApplyFailure) || isTransient(err.cause)) throw err;
      // One commit of the batch cannot be applied: find it, apply the others, stop there.
      await applyInTransaction(batch, decoded, true);
    }
  }

  async function applyInTransaction(batch: JsMsg[], decoded: Decoded[], careful: boolean): Promise<void> {
    const started = performance.now();
    const startedAt = new Date();
    const client = await pool.connect();
    // pg-pool stops listening for a checked-out client's errors; without this listener a
    // Postgres restart mid-batch would be an unhandled 'error' event and kill the process.
    let broken: Error | undefined;
    const onError = (err: Error) => {
      broken = err;
      logger.warn({ err: err.message }, 'Postgres connection lost mid-batch');
    };
    client.on('error', onError);
    let changes: ProjectionChange[] = [];
    const reachedBy = new Map<string, number>();
    // How far each projection is past this batch's positions (applied or skipped).
    const passedBy = new Map<string, number>();
    // Each projection's checkpoint before this batch.
    const startedFrom = new Map<string, number>();
    let stalled = false;
    const stallsFound: { projection: string; position: number; cause: unknown }[] = [];
    try {
      const cps = await beginAndLockCheckpoints(client);
      for (const projection of opts.projections) {
        const cp = Math.max(cps.get(projection.name) ?? 0, unsafeApplied);
        const fresh = decoded.filter((d) => d.position > cp);
        passedBy.set(projection.name, cp);
        startedFrom.set(projection.name, cp);
        if (fresh.length === 0) continue;
        // The stream holds only our subjects and refuses deletes, so positions are contiguous.
        fresh.forEach((d, i) => {
          if (d.position !== cp + 1 + i) throw new GapError(`expected position ${cp + 1 + i}, got ${d.position}`);
        });
        let upTo = fresh[fresh.length - 1]!.position;
        if (careful) {
          const r = await applyCarefully(client, projection, fresh, cp);
          changes = changes.concat(r.changes);
          upTo = r.reached;
          stalled ||= r.stalled;
          if (r.stall) stallsFound.push({ projection: projection.name, ...r.stall });
        } else {
          changes = changes.concat(await applyOne(client, projection, fresh));
        }
        passedBy.set(projection.name, upTo);
        if (upTo === cp) continue;
        reachedBy.set(projection.name, upTo);
      }
      // The checkpoints, the notification and the commit leave in one simple query (one round
      // trip); if a statement fails, Postgres skips the rest and the rollback below runs.
      const tail: string[] = [];
      if (reachedBy.size > 0 && !opts.unsafeCheckpointOutsideTransaction) {
        // Every projection's checkpoint in one statement, in the rows' transaction.
        const values = [...reachedBy].map(([name, position]) => `(${client.escapeLiteral(name)}, ${position})`);
        tail.push(
          `update ${s}.projection_checkpoints as c set position = v.position::bigint, updated_at = now()
           from (values ${values.join(', ')}) as v(name, position) where c.name = v.name`,
        );
      }
      if (reachedBy.size > 0) {
        const last = Math.max(...reachedBy.values());
        // `through`: every projection named is at least there once this commits, so a waiter
        // reading for those projections needs no query of its own to know it.
        const through = opts.unsafeCheckpointOutsideTransaction ? undefined : Math.min(...passedBy.values());
        const payload = JSON.stringify({ schema: opts.schema, position: last, through, projections: names });
        tail.push(`select pg_notify('lightdom_projection', ${client.escapeLiteral(payload)})`);
        if (opts.beforeCommit) {
          await client.query(tail.join('; '));
          tail.length = 0;
          await opts.beforeCommit(decoded.filter((d) => d.commit && d.position <= last).map((d) => d.position));
        }
      }
      tail.push('commit');
      await client.query(tail.join('; '));
    } catch (err) {
      await client.query('rollback').catch(() => undefined);
      throw err;
    } finally {
      client.off('error', onError);
      // A broken client is destroyed, not returned to the pool.
      client.release(broken);
    }
    for (const [name, reached] of reachedBy) clearStall(name, reached);
    for (const st of stallsFound) noteStall(st.projection, st.position, st.cause);
    const last = batch[batch.length - 1]!;
    const head = last.seq + last.info.pending;
    for (const [name, passed] of passedBy) {
      lagBy.set(name, { position: passed, lag: Math.max(0, head - passed) });
      metrics?.projectionLag.set({ projection: name }, Math.max(0, head - passed));
    }
    // Every projection is past the batch's positions up to here: these go to the feed.
    const through = Math.min(...passedBy.values());
    if (opts.unsafeCheckpointOutsideTransaction && reachedBy.size > 0) unsafeApplied = through;
    // Without a provider every span is a no-op, but building thousands per batch is not.
    if (tracing && reachedBy.size > 0) traceApplied(decoded, startedFrom, Math.max(...reachedBy.values()), startedAt);
    if (!stalled) batch[batch.length - 1]!.ack();
    const commits = decoded.flatMap((d) => (d.commit && d.position <= through ? [d.commit] : []));
    if (reachedBy.size > 0) {
      applied += commits.length;
      metrics?.applied.inc(commits.length);
      metrics?.checkpoint.set(Math.max(...reachedBy.values()));
      metrics?.lag.set(batch[batch.length - 1]!.info.pending);
      metrics?.batchSeconds.observe((performance.now() - started) / 1000);
      if (hot) {
        // Redis work overlaps the next batch's Postgres work, one batch at a time, in order.
        await hotPublishing;
        hotPublishing = hot.publish(commits, changes, through).catch((err) => {
          metrics?.redisErrors.inc();
          logger.warn({ err }, 'hot views not updated; Postgres read model is current');
        });
      }
    }
    if (stalled) throw new StalledError('a projection is stalled');
  }

  async function runOnce(): Promise<void> {
    await ensureCheckpointRows();
    const after = await lowestCheckpoint();
    const consumer = await openConsumer(after);
    logger.info({ after, durable: opts.durable }, 'projecting');
    const consumed = await consumer.consume({ max_messages: opts.batchSize * 2 });
    messages = consumed;
    // Two batches at a time: one in its transaction, the next being received and decoded
    // meanwhile. Transactions still run one after another, in order.
    let batch: JsMsg[] = [];
    let decoded: Decoded[] = [];
    let applying: Promise<void> | undefined;
    let failure: { err: unknown } | undefined;
    for await (const m of consumed) {
      if (stopped || failure) break;
      batch.push(m);
      decoded.push(decodeOne(m));
      if (batch.length >= opts.batchSize || m.info.pending === 0) {
        await applying;
        if (failure) break;
        const current = applyBatch(batch, decoded);
        applying = current.then(
          () => undefined,
          (err: unknown) => {
            failure = { err };
            // Ends the loop even while it waits for a message that may never come.
            consumed.stop();
          },
        );
        batch = [];
        decoded = [];
      }
    }
    await applying;
    if (failure) throw (failure as { err: unknown }).err;
  }

  async function run(): Promise<void> {
    let failures = 0;
    while (!stopped) {
      let wait: number;
      try {
        await runOnce();
        failures = 0;
        wait = 100;
      } catch (err) {
        if (stopped) break;
        if (err instanceof StalledError) {
          // Already reported (log, metric, /ready); try again and look for a decision.
          failures = 0;
          wait = opts.stallRetryMs;
        } else {
          failures++;
          logger.error({ err, failures }, 'projection loop failed; restarting from the checkpoint');
          wait = Math.min(5000, 100 * 2 ** Math.min(failures, 6));
        }
      } finally {
        messages?.stop();
      }
      if (!stopped) await sleep(wait);
    }
  }

  return {
    async start() {
      stopped = false;
      await ensureCheckpointRows();
      if (opts.unsafeCheckpointOutsideTransaction) unsafeTimer = setInterval(() => void saveUnsafeCheckpoint(), 500);
      for (const [name, position] of await checkpoints(pool)) lagBy.set(name, { position, lag: 0 });
      if (hot) {
        // A crash between a batch's commit and its Redis write lost that write: repair first.
        hot.markDirty();
        const checkViews = () =>
          void hot
            .check()
            .then((done) => {
              if (done !== 'ok') logger.info({ done }, 'hot views repaired from Postgres');
            })
            .catch((err) => {
              metrics?.redisErrors.inc();
              logger.warn({ err: (err as Error).message }, 'hot views not checked; retrying');
            });
        checkViews();
        viewsTimer = setInterval(checkViews, opts.viewsCheckMs);
      }
      loop = run();
    },
    async stop() {
      stopped = true;
      if (viewsTimer) clearInterval(viewsTimer);
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
    stalls: () => [...stalls.values()].map((st) => ({ ...st })),
    lag: () => Object.fromEntries([...lagBy].map(([name, v]) => [name, { ...v }])),
    async assertNotStalled() {
      if (stalls.size === 0) return;
      throw new Error(
        [...stalls.values()].map((st) => `${st.projection} stalled at position ${st.position}: ${st.error}`).join('; '),
      );
    },
  };
}
