import { setTimeout as sleep } from 'node:timers/promises';
import {
  isLightdomError,
  type ScheduleEvent,
  type ScheduleState,
  type StoredCommit,
  scheduleDecider,
} from '@lightdom/domain';
import type { CommitSubscription, EventStore } from '@lightdom/eventstore';
import type { Logger } from '@lightdom/runtime';
import type { Submit } from '../issuer.js';
import { dueSlot, fireKey, scheduledRunId, scheduledRunKey } from './slots.js';

export interface SchedulerDeps {
  store: EventStore;
  /** Records a command through the application core as the executor. */
  submit: Submit;
  logger: Logger;
  clock: () => Date;
  /** Counts fire attempts by result. */
  onFire?: (result: 'fired' | 'taken' | 'failed') => void;
}

export interface SchedulerOptions {
  /** How often due slots are looked for, in ms. */
  tickMs: number;
}

export interface Scheduler {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Looks for due slots once now (the loop does this every `tickMs`). */
  tick(): Promise<void>;
}

interface Known {
  state: ScheduleState;
  /** The last fired slot whose run this process has seen requested (or given up on). */
  ensured: string | null;
}

/** Refusals meaning another executor did it first, or the schedule moved on. */
const movedOn = new Set(['ALREADY_EXISTS', 'INVALID_TRANSITION', 'INVARIANT_VIOLATION', 'NOT_FOUND']);

const contextFor = (scheduleId: string, slot: string, what: string) => ({
  correlationId: `schedule:${scheduleId}:${slot}`,
  causationId: `schedule:${scheduleId}:${slot}:${what}`,
});

/**
 * Starts workflow runs on schedules. Every executor runs one: it follows the log's
 * schedule commits (an ordered consumer from the start, so a restarted executor knows
 * every schedule and its last slot) and, every `tickMs`, fires each due slot with
 * FireSchedule. The decider takes a slot only once, so executors racing for it produce
 * one ScheduleFired; the run id is derived from (schedule, slot), so requests for it by
 * several executors (or again after a crash between firing and requesting) make one run.
 */
export function createScheduler(deps: SchedulerDeps, options: SchedulerOptions): Scheduler {
  const { store, submit, logger, clock } = deps;
  const known = new Map<string, Known>();
  let subscription: CommitSubscription | undefined;
  let following: Promise<void> | undefined;
  let loop: Promise<void> | undefined;
  let stopping: AbortController | undefined;
  let ticking: Promise<void> | undefined;

  let seen = 0;
  function apply(commit: StoredCommit) {
    if (commit.position <= seen) return;
    seen = commit.position;
    const entry = known.get(commit.aggregateId) ?? { state: scheduleDecider.initialState(), ensured: null };
    for (const event of commit.events) {
      entry.state = scheduleDecider.evolve(entry.state, event as unknown as ScheduleEvent);
    }
    known.set(commit.aggregateId, entry);
  }

  /** Every schedule as the log has it now, before the first tick: a restarted executor starts from the truth. */
  async function catchUp() {
    const head = await store.headPosition();
    while (seen < head) {
      const page = await store.readAll({
        after: seen,
        limit: 500,
        aggregateType: scheduleDecider.aggregateType,
        until: head,
      });
      if (page.length === 0) break;
      for (const commit of page) apply(commit);
    }
  }

  /** Follows new schedule commits; a feed that breaks (NATS away) is opened again from the last one seen. */
  async function follow(signal: AbortSignal) {
    while (!signal.aborted) {
      try {
        subscription = await store.subscribe({ after: seen, aggregateType: scheduleDecider.aggregateType });
        if (signal.aborted) {
          subscription.stop();
          break;
        }
        for await (const commit of subscription) apply(commit);
      } catch (err) {
        if (signal.aborted) break;
        logger.warn({ err: String((err as Error)?.message ?? err) }, 'schedule feed broke; opening it again');
      }
      await sleep(options.tickMs, undefined, { signal }).catch(() => undefined);
    }
  }

  /** Requests the run of the last fired slot, once per process per slot. */
  async function ensureRun(scheduleId: string, entry: Known) {
    const { state } = entry;
    const slot = state.lastSlot;
    if (slot === null || state.lastRunId === null || entry.ensured === slot) return;
    const log = logger.child({ scheduleId, slot, runId: state.lastRunId });
    try {
      await submit(
        {
          type: 'RequestWorkflowRun',
          aggregateId: state.lastRunId,
          idempotencyKey: scheduledRunKey(scheduleId, slot),
          data: {
            workflowId: state.workflowId,
            ...(state.definitionVersion !== null ? { definitionVersion: state.definitionVersion } : {}),
            input: state.input,
            source: { kind: 'schedule', ref: `${scheduleId}@${slot}` },
          },
        },
        contextFor(scheduleId, slot, 'run'),
        { onBehalfOfSchedule: scheduleId },
      );
      log.info('scheduled run requested');
    } catch (err) {
      if (!isLightdomError(err) || err.retryable) throw err;
      // Requested already (another executor), or refused for good (the workflow was
      // deprecated, its creator may not run it): asking again would not help.
      if (err.code !== 'ALREADY_EXISTS') log.warn({ code: err.code, err: err.message }, 'scheduled run refused');
    }
    entry.ensured = slot;
  }

  async function fire(scheduleId: string, entry: Known, now: Date) {
    const due = dueSlot(entry.state, now);
    if (!due) return;
    const slot = due.slot.toISOString();
    const runId = scheduledRunId(scheduleId, slot);
    try {
      const result = await submit(
        {
          type: 'FireSchedule',
          aggregateId: scheduleId,
          idempotencyKey: fireKey(scheduleId, slot),
          data: { slot, runId, missedSlots: due.missedSlots },
        },
        contextFor(scheduleId, slot, 'fire'),
      );
      // The same key from another executor answers with the first result: it fired, not us.
      deps.onFire?.(result.duplicate ? 'taken' : 'fired');
      logger.info({ scheduleId, slot, runId, missedSlots: due.missedSlots }, 'schedule fired');
      // Known now without waiting for the log to bring it back.
      entry.state = { ...entry.state, firesAfter: slot, lastSlot: slot, lastRunId: runId };
    } catch (err) {
      if (!isLightdomError(err) || !movedOn.has(err.code)) {
        deps.onFire?.('failed');
        throw err;
      }
      deps.onFire?.('taken');
      logger.debug({ scheduleId, slot, code: err.code }, 'slot taken by another executor or no longer due');
    }
  }

  async function tick() {
    const now = clock();
    for (const [scheduleId, entry] of known) {
      try {
        await fire(scheduleId, entry, now);
        await ensureRun(scheduleId, entry);
        // A schedule that will never fire again needs no place in memory.
        const { status, lastSlot } = entry.state;
        if (status === 'deleted' || (status === 'completed' && entry.ensured === lastSlot)) known.delete(scheduleId);
      } catch (err) {
        logger.warn(
          { scheduleId, err: String((err as Error)?.message ?? err) },
          'schedule tick failed; retried next tick',
        );
      }
    }
  }

  async function run(signal: AbortSignal) {
    while (!signal.aborted) {
      ticking = tick();
      await ticking;
      await sleep(options.tickMs, undefined, { signal }).catch(() => undefined);
    }
  }

  return {
    tick,
    async start() {
      if (stopping) return;
      await catchUp();
      stopping = new AbortController();
      following = follow(stopping.signal);
      loop = run(stopping.signal);
    },
    async stop() {
      stopping?.abort();
      try {
        subscription?.stop();
      } catch {
        // The connection is gone already (a crash): nothing to stop on the server.
      }
      await Promise.allSettled([loop, following, ticking]);
      subscription = undefined;
      stopping = undefined;
      known.clear();
      seen = 0;
    },
  };
}
