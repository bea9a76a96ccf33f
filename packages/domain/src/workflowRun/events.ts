import type { Identity } from '../access.js';
import type { WorkflowStep } from '../workflow/steps.js';
import type { RunParent, RunSource } from './commands.js';

export type WorkflowRunStatus = 'requested' | 'started' | 'paused' | 'succeeded' | 'failed' | 'cancelled';
export type WorkflowStepStatus = 'pending' | 'running' | 'retryScheduled' | 'succeeded' | 'failed' | 'skipped';

export interface WorkflowRunEventData {
  WorkflowRunRequested: {
    workflowId: string;
    definitionVersion: number;
    steps: WorkflowStep[];
    input: Record<string, unknown>;
    /** Absent on runs recorded before roles existed. */
    requestedBy?: Identity;
    /** Where the run came from (n8n, a schedule, a parent run); absent: an API client that said nothing. */
    source?: RunSource;
    /** The `workflow.run` step that started this run as its child. */
    parent?: RunParent;
  };
  WorkflowRunStarted: { startedAt: string };
  /**
   * `deadlineAt` is when the executor fails the attempt (from the step's `timeoutMs`), else null.
   * `input` is the step's input with its templates resolved when the attempt started, which
   * is what the activity uses (absent on runs recorded before templates: the literal input).
   */
  WorkflowStepStarted: {
    stepId: string;
    attempt: number;
    startedAt: string;
    deadlineAt: string | null;
    input?: Record<string, unknown>;
  };
  WorkflowStepSucceeded: { stepId: string; attempt: number; output: unknown };
  /** `attempt` is the attempt to start at `retryAt`; `error` is why the previous one failed. */
  WorkflowStepRetryScheduled: { stepId: string; attempt: number; retryAt: string; error: string };
  WorkflowStepFailed: { stepId: string; attempt: number; error: string; retryable: boolean };
  /** `outputs` holds the output of every final step (one no other step depends on), by step id. */
  WorkflowRunSucceeded: { outputs: Record<string, unknown> };
  WorkflowRunFailed: { stepId: string; error: string };
  WorkflowRunCancelled: { reason: string };
  // --- data flow, branches, signals (issue 14 part A) ---
  /** The step did not run: its `when` was false, or every step it depends on was skipped. */
  WorkflowStepSkipped: { stepId: string; reason: string };
  /** A signal reached the run; a `wait.signal` step waiting for `name` takes `payload` as its output. */
  WorkflowSignalReceived: { name: string; payload: Record<string, unknown> };
  // --- end data flow ---
  // --- run control (issue 14 part B) ---
  WorkflowRunPaused: { reason: string | null; pausedAt: string };
  WorkflowRunResumed: { resumedAt: string };
  /**
   * A failed step is run again by hand: it and every step left `running` when the run
   * failed (their outcomes were refused) go back to pending; the run is started again.
   */
  WorkflowStepRetryRequested: { stepId: string; previousError: string | null; restartedSteps: string[] };
  // --- end run control ---
}

export type WorkflowRunEventType = keyof WorkflowRunEventData;

export type WorkflowRunEvent = {
  [K in WorkflowRunEventType]: { type: K; data: WorkflowRunEventData[K] };
}[WorkflowRunEventType];

/** Current schemaVersion of every workflow-run event. */
export const workflowRunEventVersions: Record<WorkflowRunEventType, number> = {
  WorkflowRunRequested: 1,
  WorkflowRunStarted: 1,
  WorkflowStepStarted: 1,
  WorkflowStepSucceeded: 1,
  WorkflowStepRetryScheduled: 1,
  WorkflowStepFailed: 1,
  WorkflowRunSucceeded: 1,
  WorkflowRunFailed: 1,
  WorkflowRunCancelled: 1,
  WorkflowStepSkipped: 1,
  WorkflowSignalReceived: 1,
  WorkflowRunPaused: 1,
  WorkflowRunResumed: 1,
  WorkflowStepRetryRequested: 1,
};
