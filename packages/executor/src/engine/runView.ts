import {
  type Decider,
  initialWorkflowRunState,
  type WorkflowRunCommand,
  type WorkflowRunEvent,
  type WorkflowRunState,
  workflowRunDecider,
} from '@lightdom/domain';

/**
 * A workflow run as the executor sees it: the run decider's state plus when each step's
 * current attempt started (the run state keeps only the deadline), which a `delay` step's
 * due time is computed from.
 */
export interface RunView {
  run: WorkflowRunState;
  /** Step id → `startedAt` of its latest WorkflowStepStarted. */
  stepStartedAt: Record<string, string>;
  /** The final steps' outputs, once the run succeeded: a child run's result for its parent. */
  outputs?: Record<string, unknown>;
}

export const initialRunView = (): RunView => ({ run: initialWorkflowRunState(), stepStartedAt: {} });

/** Folds one event: the run decider's evolve, plus the step's start time. */
export function evolveRunView(view: RunView, event: WorkflowRunEvent): RunView {
  const run = workflowRunDecider.evolve(view.run, event);
  if (event.type === 'WorkflowRunSucceeded') return { ...view, run, outputs: event.data.outputs };
  if (event.type !== 'WorkflowStepStarted') return { ...view, run };
  return { ...view, run, stepStartedAt: { ...view.stepStartedAt, [event.data.stepId]: event.data.startedAt } };
}

/**
 * The run decider with the executor's view as its state, for an aggregate repository
 * that loads views. Commands are still decided by the run decider in the command handler.
 */
export const runViewDecider: Decider<WorkflowRunCommand, WorkflowRunEvent, RunView> = {
  aggregateType: workflowRunDecider.aggregateType,
  initialState: initialRunView,
  decide: (command, view, ctx) => workflowRunDecider.decide(command, view.run, ctx),
  evolve: evolveRunView,
};
