import { nextRunnableSteps, type WorkflowStep } from '@lightdom/domain';
import { aiTaskIdFor, childRunIdFor, runKey, stepKey } from './keys.js';
import type { RunView } from './runView.js';

/** Why the engine decided a command; logged and counted. */
export type DecisionReason =
  | 'run-requested'
  | 'step-runnable'
  | 'retry-due'
  | 'deadline-passed'
  | 'delay-due'
  | 'delay-invalid'
  | 'run-ended'
  | 'run-paused'
  | 'child-ended';

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

// --- run control and child runs (issue 14 part B) ---
const cancelChild = (runId: string, stepId: string, attempt: number, reason: string, why: DecisionReason) => ({
  aggregateType: 'workflowRun' as const,
  aggregateId: childRunIdFor(runId, stepId, attempt),
  type: 'CancelWorkflowRun',
  data: { reason },
  idempotencyKey: stepKey(runId, stepId, attempt, 'child-cancel'),
  reason: why,
  stepId,
  attempt,
});

/** What stops with a step that will not finish: its AI task or its child run. */
function stopWork(
  runId: string,
  step: WorkflowStep,
  attempt: number,
  reason: string,
  why: DecisionReason,
): PlannedCommand[] {
  if (step.type === 'ai.generate') return [cancelAi(runId, step.id, attempt, reason, why)];
  if (step.type === 'workflow.run') return [cancelChild(runId, step.id, attempt, reason, why)];
  return [];
}

/**
 * A child run (of a `workflow.run` step) that ended reports to its parent's step: its
 * outputs become the step's output; a failure or cancellation fails the step for good.
 * The command names the attempt, so a late child cannot end a later attempt.
 */
function reportToParent(view: RunView, childId: string): PlannedCommand[] {
  const { run } = view;
  const parent = run.parent;
  if (!parent) return [];
  const base = {
    aggregateType: 'workflowRun' as const,
    aggregateId: parent.runId,
    idempotencyKey: stepKey(parent.runId, parent.stepId, parent.attempt, 'child-outcome'),
    reason: 'child-ended' as const,
  };
  if (run.status === 'succeeded') {
    return [
      {
        ...base,
        type: 'CompleteWorkflowStep',
        data: {
          stepId: parent.stepId,
          attempt: parent.attempt,
          output: { runId: childId, outputs: view.outputs ?? {} },
        },
      },
    ];
  }
  const why =
    run.status === 'failed'
      ? `child run ${childId} failed at step ${run.failure?.stepId}: ${run.failure?.error}`
      : `child run ${childId} was cancelled: ${run.cancelReason}`;
  return [
    {
      ...base,
      type: 'FailWorkflowStep',
      data: { stepId: parent.stepId, attempt: parent.attempt, error: why.slice(0, 5000), retryable: false },
    },
  ];
}
// --- end run control and child runs ---

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
    return [fail, ...stopWork(runId, step, attempt, 'workflow step timed out', 'deadline-passed')];
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
 * - paused → no step starts; running steps still time out and delays still complete;
 * - failed or cancelled → CancelAiTask for `ai.generate` steps still running, so the AI
 *   worker stops working for a run that is over, and CancelWorkflowRun for the child runs
 *   of `workflow.run` steps still running;
 * - a child run that ended → its parent step's outcome.
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
    case 'paused':
      return run.steps
        .filter((s) => run.stepStates[s.id]?.status === 'running')
        .flatMap((s) => decideRunning(runId, view, s, now));
    case 'failed':
    case 'cancelled':
      return [
        ...run.steps
          .filter((s) => run.stepStates[s.id]?.status === 'running')
          .flatMap((s) =>
            stopWork(runId, s, run.stepStates[s.id]!.attempts, `workflow run ${run.status}`, 'run-ended'),
          ),
        ...reportToParent(view, runId),
      ];
    case 'succeeded':
      return reportToParent(view, runId);
    default: {
      const _exhaustive: never = run.status;
      return _exhaustive;
    }
  }
}
