import type { RequestContext } from '@lightdom/app';
import type { CommandResult } from '@lightdom/domain';
import { zodIssues } from '@lightdom/eventstore';
import type { Logger } from '@lightdom/runtime';
import type { ZodError } from 'zod';
import type { StepWork } from '../engine/commitWork.js';

/**
 * What an activity did. `complete` and `fail` are recorded as CompleteWorkflowStep and
 * FailWorkflowStep; `pending` means the outcome arrives later as an event (an AI task);
 * `abandoned` means the executor is stopping and the commit goes back to JetStream.
 */
export type ActivityOutcome =
  | { kind: 'complete'; output: unknown }
  | { kind: 'fail'; error: string; retryable: boolean; timedOut?: boolean }
  | { kind: 'pending' }
  | { kind: 'abandoned' };

export interface ActivityContext {
  runId: string;
  work: StepWork;
  /** Log position of the commit that started this attempt of the step. */
  position: number;
  /** Where the step's commands come from: caused by its WorkflowStepStarted, in the run's trace. */
  context: RequestContext;
  /**
   * Records a command for this step through the application core: authorised against the
   * identity that requested the run (FORBIDDEN when it may not send it), recorded with that
   * actor as `actor` and the executor as `via`, caused by the step's WorkflowStepStarted.
   */
  submit(command: Record<string, unknown>): Promise<CommandResult>;
  /** Aborted when the executor stops; an activity then returns `abandoned`. */
  signal: AbortSignal;
  now(): Date;
  logger: Logger;
}

/** The I/O of one step type. It may run more than once for one attempt (at least once). */
export type Activity = (ctx: ActivityContext) => Promise<ActivityOutcome>;

/** Caps an error text at what FailWorkflowStep accepts. */
export const errorText = (text: string): string => (text.length <= 5000 ? text : `${text.slice(0, 4990)} […]`);

/** A step input that fails its schema, every problem naming its field: `invalid http.request input: input.url: …`. */
export const invalidInput = (stepType: string, error: ZodError): string =>
  errorText(
    `invalid ${stepType} input: ${zodIssues(error, 'input')
      .map((i) => `${i.field}: ${i.message}`)
      .join('; ')}`,
  );
