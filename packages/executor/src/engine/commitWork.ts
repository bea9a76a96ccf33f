import type { EventRecord, WorkflowStep } from '@lightdom/domain';
import { delayDueAt } from './decideNext.js';
import type { RunView } from './runView.js';

/** One attempt of a step whose activity the executor runs when it handles the commit that started it. */
export interface StepWork {
  step: WorkflowStep;
  attempt: number;
  startedAt: string;
  deadlineAt: string | null;
  /** The WorkflowStepStarted event: the cause of the commands the activity issues. */
  event: EventRecord;
}

/** Step types whose work is I/O done by an activity; `delay` is a timer decided by the engine. */
const activityTypes: ReadonlySet<string> = new Set([
  'http.request',
  'campaign.command',
  'ai.generate',
  'chain.anchor',
  'wait.event',
  'workflow.run',
]);

interface StepStartedData {
  stepId: string;
  attempt: number;
  startedAt: string;
  deadlineAt: string | null;
}
interface RetryScheduledData {
  stepId: string;
  attempt: number;
  retryAt: string;
}

/** A step as its current attempt started: with the resolved input recorded in WorkflowStepStarted. */
export const asStarted = (step: WorkflowStep, state: { input: Record<string, unknown> | null }): WorkflowStep =>
  state.input === null ? step : { ...step, input: state.input };

/** The step and its state when the run is started and the step is at `status` with `attempts`. */
function current(view: RunView, stepId: string, status: 'running' | 'retryScheduled', attempts: number) {
  const { run } = view;
  const step = run.steps.find((s) => s.id === stepId);
  const state = run.stepStates[stepId];
  // A paused run's running steps still run and time out; no retry starts (decideNext),
  // so a retry's timer is dropped while paused and the resume owns it again (timerOf).
  const live = run.status === 'started' || (run.status === 'paused' && status === 'running');
  if (!live || !step || !state || state.status !== status || state.attempts !== attempts) {
    return undefined;
  }
  return { step, state };
}

/**
 * Activities a commit asks for: each WorkflowStepStarted in it whose attempt is still the
 * step's running attempt in the (newer) view. A redelivered commit whose step has moved
 * on asks for nothing. Pure.
 */
export function activitiesOf(events: readonly EventRecord[], view: RunView): StepWork[] {
  const out: StepWork[] = [];
  for (const event of events) {
    if (event.type !== 'WorkflowStepStarted') continue;
    const data = event.data as StepStartedData;
    const found = current(view, data.stepId, 'running', data.attempt);
    if (!found || !activityTypes.has(found.step.type)) continue;
    out.push({
      // The input the attempt started with (templates resolved), not the definition's.
      step: asStarted(found.step, found.state),
      attempt: data.attempt,
      startedAt: data.startedAt,
      deadlineAt: data.deadlineAt,
      event,
    });
  }
  return out;
}

/**
 * The time at which this commit's message must be handled again, or null. A commit owns
 * the timers its own events set: a WorkflowStepStarted owns its attempt's deadline (and a
 * delay's due time), a WorkflowStepRetryScheduled owns the retry time, and a
 * WorkflowRunResumed owns the retry times of its run (they may have come back while paused). Each timer then has
 * exactly one owner however many commits the run has. Pure.
 */
export function timerOf(events: readonly EventRecord[], view: RunView): Date | null {
  let earliest: number | null = null;
  const consider = (t: number | null) => {
    if (t !== null && !Number.isNaN(t) && (earliest === null || t < earliest)) earliest = t;
  };
  for (const event of events) {
    if (event.type === 'WorkflowStepStarted') {
      const data = event.data as StepStartedData;
      const found = current(view, data.stepId, 'running', data.attempt);
      if (!found) continue;
      consider(found.state.deadlineAt === null ? null : Date.parse(found.state.deadlineAt));
      if (found.step.type === 'delay')
        consider(delayDueAt(asStarted(found.step, found.state), view.stepStartedAt[data.stepId])?.getTime() ?? null);
    } else if (event.type === 'WorkflowRunResumed' && view.run.status === 'started') {
      // Retries whose timers came back while the run was paused are owned by the resume.
      for (const state of Object.values(view.run.stepStates)) {
        if (state.status === 'retryScheduled' && state.retryAt) consider(Date.parse(state.retryAt));
      }
    } else if (event.type === 'WorkflowStepRetryScheduled') {
      const data = event.data as RetryScheduledData;
      const found = current(view, data.stepId, 'retryScheduled', data.attempt - 1);
      if (found?.state.retryAt) consider(Date.parse(found.state.retryAt));
    }
  }
  return earliest === null ? null : new Date(earliest);
}
