import type { StoredCommit } from '@lightdom/domain';
import type { Logger } from 'pino';
import type { EventStore } from '../store/eventStore.js';

export interface IdleSweepOptions {
  /** The aggregates it follows, e.g. `workflowRun`. */
  aggregateType: string;
  /** True for a commit after which the aggregate has nothing left for the sweeping service. */
  ended: (commit: StoredCommit) => boolean;
  /** How often the sweep looks, in ms. */
  intervalMs: number;
  /** How long an aggregate's newest commit must be the newest before the sweep looks at it, in ms. */
  idleMs: number;
}

export interface IdleSweep {
  start(): void;
  stop(): Promise<void>;
  /** One pass now (tests). Returns how many aggregates `nudge` recorded something for. */
  sweep(): Promise<number>;
}

/**
 * A safety net under a durable consumer. It follows the commits of one aggregate type
 * (positions only, of aggregates that have not ended) and, for every aggregate whose newest
 * commit has been the newest for `idleMs` (then 2, 4 … 32 times that while nothing is due),
 * asks `nudge` to act on that commit as a delivery would, with the same idempotency keys, so
 * an aggregate some instance is handling anyway costs only a refused or duplicate command.
 *
 * Why: nats-server before 2.11 can lose a replicated consumer's redelivery of a message that
 * was delivered without quorum on the delivered state when its leader changes (a later ack
 * moves the floor past it; nats-server PR 6566). The consumer then shows nothing pending,
 * and the work that message asked for would never be done (docs/executor.md, "A run
 * requested but never started"; the AI worker has the same net for its tasks).
 */
export function createIdleSweep(
  deps: {
    store: EventStore;
    logger: Logger;
    clock: () => Date;
    /** Acts on the aggregate's newest commit; true when that recorded something. */
    nudge: (id: string, newest: StoredCommit) => Promise<boolean>;
  },
  options: IdleSweepOptions,
): IdleSweep {
  const { store, logger, clock } = deps;
  /**
   * Aggregate id → its newest commit's position and when the sweep looks at it next. One
   * found with nothing due (waiting for a signal, a long delay) is looked at half as often
   * each time, up to every 32 idle periods, so many waiting aggregates cost few reads.
   */
  const open = new Map<string, { position: number; checkAt: number; wait: number }>();
  const maxWait = options.idleMs * 32;
  let after = 0;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let stopped = false;

  async function follow(now: number) {
    for (;;) {
      const commits = await store.readAll({ aggregateType: options.aggregateType, after, limit: 1000 });
      for (const c of commits) {
        after = c.position;
        if (options.ended(c)) open.delete(c.aggregateId);
        else open.set(c.aggregateId, { position: c.position, checkAt: now + options.idleMs, wait: options.idleMs });
      }
      if (commits.length < 1000 || stopped) return;
    }
  }

  async function sweep(): Promise<number> {
    const now = clock().getTime();
    await follow(now);
    let nudged = 0;
    for (const [id, entry] of open) {
      if (stopped) break;
      if (now < entry.checkAt) continue;
      // Looked at later again whatever happens below; sooner only when a new commit comes.
      entry.wait = Math.min(entry.wait * 2, maxWait);
      entry.checkAt = now + entry.wait;
      try {
        const newest = await store.getCommit(entry.position);
        if (!newest) continue;
        if (await deps.nudge(id, newest)) {
          nudged++;
          logger.warn(
            { aggregateType: options.aggregateType, id, position: entry.position, idleMs: options.idleMs },
            'work was due that no delivery did; issued it from the sweep',
          );
        }
      } catch (err) {
        logger.warn({ err, aggregateType: options.aggregateType, id }, 'sweeping failed; the next pass tries again');
      }
    }
    return nudged;
  }

  const tick = () => {
    running = sweep()
      .catch((err) => logger.warn({ err }, 'sweep failed; the next pass tries again'))
      .finally(() => {
        running = undefined;
        if (!stopped) timer = setTimeout(tick, options.intervalMs);
      });
  };

  return {
    start() {
      stopped = false;
      if (timer || running) return;
      timer = setTimeout(tick, options.intervalMs);
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await running;
    },
    sweep,
  };
}
