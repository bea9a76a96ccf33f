import type { WorkflowStep } from '../workflow/steps.js';
import type { WorkflowRunState } from './decider.js';

/**
 * Steps the executor may start now: never started, every dependency succeeded or skipped, and the
 * run started and not finished. Definition order. Steps waiting for a retry are not
 * included; they start at their `retryAt`.
 *
 * @example
 * for (const step of nextRunnableSteps(run)) submit({ type: 'StartWorkflowStep', data: { stepId: step.id, attempt: 1 } });
 */
export function nextRunnableSteps(state: WorkflowRunState): WorkflowStep[] {
  if (state.status !== 'started') return [];
  return state.steps.filter(
    (step) =>
      state.stepStates[step.id]?.status === 'pending' &&
      step.dependsOn.every((dep) => ['succeeded', 'skipped'].includes(state.stepStates[dep]?.status ?? '')),
  );
}
