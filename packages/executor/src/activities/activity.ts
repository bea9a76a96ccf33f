import type { CommandMetadata } from '@lightdom/domain';
import { type CommandHandler, zodIssues } from '@lightdom/eventstore';
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
  /** Metadata for commands the activity issues: caused by the step's WorkflowStepStarted. */
  meta: CommandMetadata;
  commands: CommandHandler;
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
