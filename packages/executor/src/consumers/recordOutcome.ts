import type { RequestContext } from '@lightdom/app';
import type { CommandResult } from '@lightdom/domain';
import type { Logger } from '@lightdom/runtime';
import { stepKey } from '../engine/keys.js';
import { type Issuer, type StepInfo, UnrecordableOutcome } from '../issuer.js';

export type StepOutcome =
  | { kind: 'complete'; output: unknown }
  | { kind: 'fail'; error: string; retryable: boolean; timedOut?: boolean };

/**
 * Records a step attempt's outcome. When the log refuses it for a reason other than the
 * run moving on (the commit is too large for a NATS message, the output is not valid),
 * the step fails for good with that reason instead, so the run never stays `running`
 * on an outcome nobody can write. The fallback's text is the executor's own (no data
 * from the target), so it always fits.
 */
export async function recordStepOutcome(
  issuer: Issuer,
  runId: string,
  step: StepInfo & { attempt: number },
  outcome: StepOutcome,
  context: RequestContext,
  log: Logger,
): Promise<CommandResult | null> {
  const fail = (error: string, retryable: boolean, action: 'fail' | 'timeout' | 'unrecorded') =>
    issuer.record(
      {
        type: 'FailWorkflowStep',
        aggregateId: runId,
        idempotencyKey: stepKey(runId, step.id, step.attempt, action),
        data: { stepId: step.id, error, retryable },
      },
      context,
      log,
      step,
    );
  try {
    if (outcome.kind === 'complete') {
      return await issuer.record(
        {
          type: 'CompleteWorkflowStep',
          aggregateId: runId,
          idempotencyKey: stepKey(runId, step.id, step.attempt, 'complete'),
          data: { stepId: step.id, output: outcome.output },
        },
        context,
        log,
        step,
      );
    }
    log.info({ error: outcome.error, retryable: outcome.retryable }, 'step attempt failed');
    return await fail(outcome.error, outcome.retryable, outcome.timedOut ? 'timeout' : 'fail');
  } catch (err) {
    if (!(err instanceof UnrecordableOutcome)) throw err;
    const what = outcome.kind === 'complete' ? 'output' : 'failure';
    log.warn({ reason: err.reason }, `the step's ${what} cannot be recorded; failing the step with the reason`);
    return fail(
      `the step's ${what} could not be recorded: ${err.reason}`,
      false,
      outcome.kind === 'complete' ? 'fail' : 'unrecorded',
    );
  }
}
