import type { AiTaskEventData, EventRecord, StoredCommit } from '@lightdom/domain';

/** A commit that leaves a task `requested`: the event that asks for an attempt, and that attempt's number. */
export interface AttemptRequest {
  event: EventRecord;
  attempt: number;
}

/**
 * The attempt a commit asks for: `AiTaskRequested` asks for the first; `AiTaskFailed`
 * with `willRetry` put the task back to `requested` and asks for the next one.
 */
export function requestedAttempt(commit: StoredCommit): AttemptRequest | null {
  const event = commit.events.at(-1);
  if (event?.type === 'AiTaskRequested') return { event, attempt: 1 };
  if (event?.type === 'AiTaskFailed') {
    const failed = event.data as AiTaskEventData['AiTaskFailed'];
    if (failed.willRetry) return { event, attempt: failed.attempt + 1 };
  }
  return null;
}

/** Retries back off: `baseMs` before the second attempt, doubling after each one, at most 5 minutes. */
export const maxRetryDelayMs = 300_000;
export const retryDelayMs = (attempt: number, baseMs: number): number =>
  attempt <= 1 ? 0 : Math.min(baseMs * 2 ** (attempt - 2), maxRetryDelayMs);

/** How long an attempt must still wait before it may start, in ms (0: now). */
export function retryWaitMs(commit: StoredCommit, request: AttemptRequest, baseMs: number, now: number): number {
  const due = Date.parse(commit.timestamp) + retryDelayMs(request.attempt, baseMs);
  return Number.isNaN(due) ? 0 : Math.max(0, Math.min(due - now, maxRetryDelayMs));
}
