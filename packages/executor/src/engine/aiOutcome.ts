import type { EventRecord } from '@lightdom/domain';

/** The step outcome an AI task's commit carries, if it ended the task. */
export type AiStepOutcome =
  | { kind: 'complete'; output: { text: string; reasoning: string | null } }
  | { kind: 'fail'; error: string; retryable: boolean };

/**
 * Reads an aiTask commit for an ending: AiTaskCompleted → the step completes with
 * `{text, reasoning}`; AiTaskFailed without a retry left → the step fails (retryable as
 * the AI worker judged it, so the step's own retry policy may try a new task);
 * AiTaskCancelled → the step fails for good. Anything else (progress, a failure the task
 * retries itself) → null. Pure.
 */
export function aiTaskOutcome(events: readonly EventRecord[]): { outcome: AiStepOutcome; event: EventRecord } | null {
  for (const event of [...events].reverse()) {
    const data = event.data as Record<string, unknown>;
    switch (event.type) {
      case 'AiTaskCompleted':
        return {
          event,
          outcome: {
            kind: 'complete',
            output: { text: String(data.text ?? ''), reasoning: (data.reasoning as string | null) ?? null },
          },
        };
      case 'AiTaskFailed':
        if (data.willRetry === true) return null;
        return {
          event,
          outcome: { kind: 'fail', error: `AI task failed: ${String(data.error)}`, retryable: data.retryable === true },
        };
      case 'AiTaskCancelled':
        return {
          event,
          outcome: {
            kind: 'fail',
            error: `AI task cancelled${data.reason ? `: ${String(data.reason)}` : ''}`,
            retryable: false,
          },
        };
      default:
    }
  }
  return null;
}
