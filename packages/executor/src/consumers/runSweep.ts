import type { StoredCommit } from '@lightdom/domain';
import { createIdleSweep, type EventStore, type IdleSweep } from '@lightdom/eventstore';
import type { Logger } from '@lightdom/runtime';

/** Events after which a run has nothing left for the engine (a failed or cancelled run may still stop its work, on the same delivery). */
const endTypes = new Set(['WorkflowRunSucceeded', 'WorkflowRunFailed', 'WorkflowRunCancelled']);

export interface RunSweepOptions {
  /** How often the sweep looks, in ms. */
  intervalMs: number;
  /** How long a run's newest commit must be the newest before the sweep looks at the run, in ms. */
  idleMs: number;
}

export type RunSweep = IdleSweep;

/**
 * The idle sweep (eventstore's `createIdleSweep`) over workflow runs: a run idle with work
 * due that no delivery did is decided again by `nudge`, which issues what `decideNext`
 * says is due with the same idempotency keys a delivery would use (docs/executor.md, "A run
 * requested but never started").
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
  return createIdleSweep(deps, {
    ...options,
    aggregateType: 'workflowRun',
    ended: (c) => c.events.some((e) => endTypes.has(e.type)),
  });
}
