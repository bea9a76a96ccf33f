import { type RecordedCheckpoint, readRecordedCheckpoints } from '@lightdom/anchor';
import type { EventStore } from '@lightdom/eventstore';
import { z } from 'zod';
import { type Activity, invalidInput } from './activity.js';

/** The input of a `chain.anchor` step: the log position that must be anchored (default: the step's own start). */
export const chainAnchorStepInputSchema = z
  .object({
    position: z.number().int('must be an integer').min(1).max(Number.MAX_SAFE_INTEGER).optional(),
  })
  .strict();

export interface ChainAnchorOptions {
  store: EventStore;
  /** Longest one attempt waits for the anchor service before failing (retryably). */
  waitMs: number;
  /** How often the log is read while waiting. */
  pollMs: number;
}

/** What a completed `chain.anchor` step outputs: the checkpoint that covers the position and where it sits on chain. */
export const chainAnchorOutput = (position: number, cp: RecordedCheckpoint) => ({
  position,
  checkpointId: cp.id,
  fromPosition: cp.fromPosition,
  toPosition: cp.toPosition,
  merkleRoot: cp.merkleRoot,
  chainId: cp.anchored!.chainId,
  blockNumber: cp.anchored!.blockNumber,
  transactionHash: cp.anchored!.transactionHash,
});

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
 * `chain.anchor`: waits until the log up to a position is provably fixed, that is until a
 * checkpoint covering it is anchored on chain (recorded in the log as
 * AuditCheckpointConfirmed by the anchor service), and outputs that checkpoint with its
 * chain reference. The executor holds no key and sends no transaction: anchoring is the
 * anchor service's job, and a step only waits on it. The position defaults to the commit
 * that started the step's first attempt, so "anchor what the run did so far" needs no input
 * and a retry waits for the same position.
 *
 * An attempt waits at most `waitMs` (and never past the step's deadline); then it fails
 * retryably with "not anchored yet", so the step's retry policy says how long a run
 * waits for a chain that is down. A position beyond the log's end fails for good.
 */
export function createChainAnchorActivity(opts: ChainAnchorOptions): Activity {
  /** Where the step's first attempt started: what a retry keeps waiting for. */
  async function firstAttemptPosition(runId: string, stepId: string, attempt: number, position: number) {
    if (attempt === 1) return position;
    for (const commit of await opts.store.readAggregate('workflowRun', runId)) {
      for (const e of commit.events) {
        const d = e.data as { stepId?: unknown; attempt?: unknown };
        if (e.type === 'WorkflowStepStarted' && d.stepId === stepId && d.attempt === 1) return commit.position;
      }
    }
    return position;
  }

  return async ({ runId, work, position: startedAt, signal, now }) => {
    const parsed = chainAnchorStepInputSchema.safeParse(work.step.input ?? {});
    if (!parsed.success) {
      return { kind: 'fail', error: invalidInput('chain.anchor', parsed.error), retryable: false };
    }
    const position = parsed.data.position ?? (await firstAttemptPosition(runId, work.step.id, work.attempt, startedAt));
    const head = await opts.store.headPosition();
    if (position > head) {
      return {
        kind: 'fail',
        error: `chain.anchor: input.position ${position} is beyond the log's end (${head})`,
        retryable: false,
      };
    }
    const deadline = Math.min(
      now().getTime() + opts.waitMs,
      work.deadlineAt ? Date.parse(work.deadlineAt) : Number.POSITIVE_INFINITY,
    );
    for (;;) {
      if (signal.aborted) return { kind: 'abandoned' };
      const found = (await readRecordedCheckpoints(opts.store)).find(
        (c) => c.fromPosition <= position && position <= c.toPosition,
      );
      if (found?.anchored) return { kind: 'complete', output: chainAnchorOutput(position, found) };
      const left = deadline - now().getTime();
      if (left <= 0) {
        const why = found
          ? `checkpoint ${found.id} (positions ${found.fromPosition}..${found.toPosition}) is recorded but not on chain yet`
          : 'no checkpoint covers it yet';
        return {
          kind: 'fail',
          error: `chain.anchor: position ${position} is not anchored yet: ${why}`,
          retryable: true,
        };
      }
      await sleep(Math.min(opts.pollMs, left), signal);
    }
  };
}
