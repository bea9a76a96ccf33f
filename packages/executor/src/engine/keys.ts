import { sha256Hex } from '@lightdom/domain';

/** What a command does for a run; part of its idempotency key. */
export type RunAction =
  | 'start-run'
  | 'start'
  | 'complete'
  | 'fail'
  | 'timeout'
  | 'unrecorded'
  | 'give-up'
  | 'ai-request'
  | 'ai-cancel'
  | 'child-request'
  | 'child-cancel'
  | 'child-outcome';

/**
 * The idempotency key of a command the executor issues about a run or one attempt of a
 * step. Deterministic, so a redelivered message or a restarted executor sends the same
 * key and the command handler answers with the first result instead of a second effect.
 *
 * @example
 * runKey('r1', 'start-run') // 'wf:r1:start-run'
 * stepKey('r1', 'notify', 2, 'complete') // 'wf:r1:notify:2:complete'
 */
export const runKey = (runId: string, action: RunAction): string => `wf:${runId}:${action}`;
export const stepKey = (runId: string, stepId: string, attempt: number, action: RunAction): string =>
  `wf:${runId}:${stepId}:${attempt}:${action}`;

/**
 * The key of a `campaign.command` step's campaign command. Per step, not per attempt:
 * a retried attempt gets the first attempt's result back rather than applying the
 * command twice.
 */
export const campaignCommandKey = (runId: string, stepId: string): string => `wf:${runId}:${stepId}:campaign`;

/** The `Idempotency-Key` header an `http.request` step sends: one per attempt. */
export const httpIdempotencyKey = (runId: string, stepId: string, attempt: number): string =>
  `${runId}:${stepId}:${attempt}`;

/**
 * The id of the AI task that attempt `attempt` of an `ai.generate` step requests. Hashed
 * because run and step ids together may exceed an aggregate id's 100 characters.
 */
export const aiTaskIdFor = (runId: string, stepId: string, attempt: number): string =>
  `wfai-${sha256Hex(`${runId}\u0000${stepId}\u0000${attempt}`).slice(0, 40)}`;

/**
 * The id of the child run that attempt `attempt` of a `workflow.run` step starts: one per
 * attempt, so a repeated activity finds the child it started instead of a second one.
 */
export const childRunIdFor = (runId: string, stepId: string, attempt: number): string =>
  `wfc-${sha256Hex(`${runId}\u0000${stepId}\u0000${attempt}`).slice(0, 40)}`;
