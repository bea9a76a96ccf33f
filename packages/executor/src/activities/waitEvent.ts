import { aggregateIdSchema, deciders, waitEventInputSchema } from '@lightdom/domain';
import type { EventStore } from '@lightdom/eventstore';
import { type Activity, invalidInput } from './activity.js';

export interface WaitEventOptions {
  store: EventStore;
  /** Longest one attempt reads the log before failing retryably (never past the step's deadline). */
  waitMs: number;
  /** How often the aggregate's events are read while waiting. */
  pollMs: number;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

/**
 * `wait.event`: completes when the aggregate `aggregateType/aggregateId` has an event of
 * type `eventType` in the log, whenever it was appended (one recorded before the step
 * started counts: "the campaign reached active" is a fact, not a moment). Output: the first
 * such event `{position, type, data}`. An attempt reads the log every `pollMs` for at most
 * `waitMs` (and never past the step's deadline), then fails retryably, so the step's
 * `retry` and `timeoutMs` say how long a run waits.
 */
export function createWaitEventActivity(opts: WaitEventOptions): Activity {
  return async ({ work, signal, now }) => {
    const parsed = waitEventInputSchema.safeParse(work.step.input);
    if (!parsed.success) return { kind: 'fail', error: invalidInput('wait.event', parsed.error), retryable: false };
    const { aggregateType, aggregateId, eventType } = parsed.data;
    if (!Object.hasOwn(deciders, aggregateType)) {
      const known = Object.keys(deciders).join(', ');
      return { kind: 'fail', error: `wait.event: input.aggregateType must be one of ${known}`, retryable: false };
    }
    if (!aggregateIdSchema.safeParse(aggregateId).success) {
      const shown = JSON.stringify(aggregateId.slice(0, 100));
      return { kind: 'fail', error: `wait.event: input.aggregateId ${shown} is not an aggregate id`, retryable: false };
    }
    const until = Math.min(
      now().getTime() + opts.waitMs,
      work.deadlineAt ? Date.parse(work.deadlineAt) : Number.POSITIVE_INFINITY,
    );
    for (;;) {
      if (signal.aborted) return { kind: 'abandoned' };
      for (const commit of await opts.store.readAggregate(aggregateType, aggregateId)) {
        const event = commit.events.find((e) => e.type === eventType);
        if (event)
          return { kind: 'complete', output: { position: commit.position, type: event.type, data: event.data } };
      }
      const left = until - now().getTime();
      if (left <= 0) {
        return {
          kind: 'fail',
          error: `wait.event: ${aggregateType} ${aggregateId} has no ${eventType} yet`,
          retryable: true,
        };
      }
      await sleep(Math.min(opts.pollMs, left), signal);
    }
  };
}
