import type { StoredCommit } from '@lightdom/domain';
import type { EventStore } from '@lightdom/eventstore';
import type { Logger } from '@lightdom/runtime';

/** Events after which a run has nothing left for the engine (a failed or cancelled run may still stop its work, on the same delivery). */
const endTypes = new Set(['WorkflowRunSucceeded', 'WorkflowRunFailed', 'WorkflowRunCancelled']);

export interface RunSweepOptions {
  /** How often the sweep looks, in ms. */
  intervalMs: number;
  /** How long a run's newest commit must be the newest before the sweep looks at the run, in ms. */
  idleMs: number;
}

export interface RunSweep {
  start(): void;
  stop(): Promise<void>;
  /** One pass now (tests). Returns how many runs it handed to `nudge`. */
  sweep(): Promise<number>;
}

/**
 * A safety net under the durable consumer. It follows the workflowRun commits of the log
 * (positions only, of runs that have not ended) and, for every run whose newest commit
 * has been the newest for `idleMs` (then 2, 4 … 32 times that while nothing is due),
 * asks `nudge` to decide the run again: `nudge` issues
 * what `decideNext` says is due, with the same idempotency keys a delivery would use, so
 * a run some executor is handling anyway costs only duplicates.
 *
 * Why: nats-server before 2.11 can lose a replicated consumer's redelivery of a message
 * that was delivered without quorum on the delivered state when its leader changes (a
 * later ack moves the floor past it; nats-server PR 6566). The consumer then shows
 * nothing pending, and a run whose WorkflowRunRequested was that message would stay
 * requested for good (docs/executor.md, "A run requested but never started").
 */
export function createRunSweep(
  deps: {
    store: EventStore;
    logger: Logger;
    clock: () => Date;
    /** Decides the run again from its newest commit; true when that recorded something. */
    nudge: (runId: string, newest: StoredCommit) => Promise<boolean>;
  },
  options: RunSweepOptions,
): RunSweep {
  const { store, logger, clock } = deps;
  /**
   * Run id → its newest commit's position and when the sweep looks at it next. A run found
   * with nothing due (waiting for a signal, a long delay) is looked at half as often each
   * time, up to every 32 idle periods, so many waiting runs cost few reads.
   */
  const open = new Map<string, { position: number; checkAt: number; wait: number }>();
  const maxWait = options.idleMs * 32;
  let after = 0;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let stopped = false;

  async function follow(now: number) {
    for (;;) {
      const commits = await store.readAll({ aggregateType: 'workflowRun', after, limit: 1000 });
      for (const c of commits) {
        after = c.position;
        if (c.events.some((e) => endTypes.has(e.type))) open.delete(c.aggregateId);
        else open.set(c.aggregateId, { position: c.position, checkAt: now + options.idleMs, wait: options.idleMs });
      }
      if (commits.length < 1000 || stopped) return;
    }
  }

  async function sweep(): Promise<number> {
    const now = clock().getTime();
    await follow(now);
    let nudged = 0;
    for (const [runId, entry] of open) {
      if (stopped) break;
      if (now < entry.checkAt) continue;
      // Looked at later again whatever happens below; sooner only when a new commit comes.
      entry.wait = Math.min(entry.wait * 2, maxWait);
      entry.checkAt = now + entry.wait;
      try {
        const newest = await store.getCommit(entry.position);
        if (!newest) continue;
        if (await deps.nudge(runId, newest)) {
          nudged++;
          logger.warn(
            { runId, position: entry.position, idleMs: options.idleMs },
            'a run had work due that no delivery did; issued it from the sweep',
          );
        }
      } catch (err) {
        logger.warn({ err, runId }, 'sweeping a run failed; the next pass tries again');
      }
    }
    return nudged;
  }

  const tick = () => {
    running = sweep()
      .catch((err) => logger.warn({ err }, 'run sweep failed; the next pass tries again'))
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
