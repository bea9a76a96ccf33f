import { nextRunnableSteps, type WorkflowStep } from '@lightdom/domain';
import { aiTaskIdFor, runKey, stepKey } from './keys.js';
import type { RunView } from './runView.js';

/** Why the engine decided a command; logged and counted. */
export type DecisionReason =
  | 'run-requested'
  | 'step-runnable'
  | 'retry-due'
  | 'deadline-passed'
  | 'delay-due'
  | 'delay-invalid'
  | 'run-ended';

/** A command the engine wants issued now, with the idempotency key that makes it safe to repeat. */
export interface PlannedCommand {
  aggregateType: 'workflowRun' | 'aiTask';
  aggregateId: string;
  type: string;
  data: Record<string, unknown>;
  idempotencyKey: string;
  reason: DecisionReason;
  stepId?: string;
  attempt?: number;
}

/** Longest `delay` step: 31 days. */
export const maxDelayMs = 31 * 86_400_000;

/** The error a step fails with when its deadline passes; the same text wherever it is decided. */
export const timeoutError = (step: Pick<WorkflowStep, 'timeoutMs'>): string =>
  `timeout: no outcome within ${step.timeoutMs} ms`;

/** A delay step's wait in ms, or an explanation of why its input is not one. */
export function delayMs(step: Pick<WorkflowStep, 'input'>): number | string {
  const ms = step.input.ms;
  if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 0 || ms > maxDelayMs) {
    return `delay needs input.ms, an integer number of milliseconds from 0 to ${maxDelayMs} (got ${JSON.stringify(ms ?? null)})`;
  }
  return ms;
}

/** When a running delay step is due: its attempt's start plus `input.ms`; null when its input is invalid. */
export function delayDueAt(step: WorkflowStep, startedAt: string | undefined): Date | null {
  const ms = delayMs(step);
  if (typeof ms !== 'number' || startedAt === undefined) return null;
  return new Date(Date.parse(startedAt) + ms);
}

const cancelAi = (runId: string, stepId: string, attempt: number, reason: string, why: DecisionReason) => ({
  aggregateType: 'aiTask' as const,
  aggregateId: aiTaskIdFor(runId, stepId, attempt),
  type: 'CancelAiTask',
  data: { reason },
  idempotencyKey: stepKey(runId, stepId, attempt, 'ai-cancel'),
  reason: why,
  stepId,
  attempt,
});

/** The decision for one running step: time it out, finish its delay, or nothing yet. */
function decideRunning(runId: string, view: RunView, defined: WorkflowStep, now: Date): PlannedCommand[] {
  const state = view.run.stepStates[defined.id]!;
  // A delay's `ms` may be a template: use the input its attempt started with.
  const step = state.input === null ? defined : { ...defined, input: state.input };
  const attempt = state.attempts;
  const deadline = state.deadlineAt === null ? null : Date.parse(state.deadlineAt);
  const base = { aggregateType: 'workflowRun' as const, aggregateId: runId, stepId: step.id, attempt };

  if (step.type === 'delay') {
    const ms = delayMs(step);
    if (typeof ms !== 'number') {
      return [
        {
          ...base,
          type: 'FailWorkflowStep',
          data: { stepId: step.id, error: ms, retryable: false },
          idempotencyKey: stepKey(runId, step.id, attempt, 'fail'),
          reason: 'delay-invalid',
        },
      ];
    }
    const due = delayDueAt(step, view.stepStartedAt[step.id]);
    // A delay that fell due before its deadline completes, even if the executor only
    // looks after both have passed (it was down): the timer did its job in time.
    if (due && due.getTime() <= now.getTime() && (deadline === null || due.getTime() <= deadline)) {
      return [
        {
          ...base,
          type: 'CompleteWorkflowStep',
          data: { stepId: step.id, output: { ms, dueAt: due.toISOString() } },
          idempotencyKey: stepKey(runId, step.id, attempt, 'complete'),
          reason: 'delay-due',
        },
      ];
    }
  }

  if (deadline !== null && deadline <= now.getTime()) {
    const fail: PlannedCommand = {
      ...base,
      type: 'FailWorkflowStep',
      data: { stepId: step.id, error: timeoutError(step), retryable: true },
      idempotencyKey: stepKey(runId, step.id, attempt, 'timeout'),
      reason: 'deadline-passed',
    };
    if (step.type !== 'ai.generate') return [fail];
    return [fail, cancelAi(runId, step.id, attempt, 'workflow step timed out', 'deadline-passed')];
  }
  return [];
}

/**
 * The commands to issue for a run now. Pure: no I/O, no clock (time comes in as `now`).
 *
 * - requested → StartWorkflowRun;
 * - started → StartWorkflowStep for every runnable step (attempt 1) and every step whose
 *   retry is due (the next attempt); FailWorkflowStep (retryable, `timeout`) for a running
 *   step past its deadline; CompleteWorkflowStep for a `delay` step that is due;
 * - failed or cancelled → CancelAiTask for `ai.generate` steps still running, so the AI
 *   worker stops working for a run that is over.
 *
 * Activities (HTTP calls, campaign commands, AI requests) are not decided here: they run
 * when the executor handles the commit that started the step.
 *
 * @example
 * for (const c of decideNext(runId, view, new Date())) await commands.handle(c, meta);
 */
export function decideNext(runId: string, view: RunView, now: Date): PlannedCommand[] {
  const { run } = view;
  if (!run.exists) return [];
  switch (run.status) {
    case 'requested':
      return [
        {
          aggregateType: 'workflowRun',
          aggregateId: runId,
          type: 'StartWorkflowRun',
          data: {},
          idempotencyKey: runKey(runId, 'start-run'),
          reason: 'run-requested',
        },
      ];
    case 'started': {
      const out: PlannedCommand[] = [];
      const runnable = new Set(nextRunnableSteps(run).map((s) => s.id));
      for (const step of run.steps) {
        const state = run.stepStates[step.id];
        if (!state) continue;
        const retryDue =
          state.status === 'retryScheduled' && state.retryAt !== null && Date.parse(state.retryAt) <= now.getTime();
        if (runnable.has(step.id) || retryDue) {
          const attempt = state.attempts + 1;
          out.push({
            aggregateType: 'workflowRun',
            aggregateId: runId,
            type: 'StartWorkflowStep',
            data: { stepId: step.id, attempt },
            idempotencyKey: stepKey(runId, step.id, attempt, 'start'),
            reason: retryDue ? 'retry-due' : 'step-runnable',
            stepId: step.id,
            attempt,
          });
        } else if (state.status === 'running') {
          out.push(...decideRunning(runId, view, step, now));
        }
      }
      return out;
    }
    case 'failed':
    case 'cancelled':
      return run.steps
        .filter((s) => s.type === 'ai.generate' && run.stepStates[s.id]?.status === 'running')
        .map((s) => cancelAi(runId, s.id, run.stepStates[s.id]!.attempts, `workflow run ${run.status}`, 'run-ended'));
    case 'succeeded':
      return [];
    default: {
      const _exhaustive: never = run.status;
      return _exhaustive;
    }
  }
}
