import { freeFormObject, isLightdomError } from '@lightdom/domain';
import { z } from 'zod';
import { childRunIdFor, stepKey } from '../engine/keys.js';
import { type Activity, errorText, invalidInput } from './activity.js';

/** The input of a `workflow.run` step: which workflow (and version) to run, with what input. */
export const childRunInputSchema = z
  .object({
    workflowId: z.string().min(1).max(100),
    /** Absent: the child's definition current when the step starts. */
    definitionVersion: z.number().int().min(1).optional(),
    input: freeFormObject().default({}),
  })
  .strict();

/**
 * `workflow.run`: requests a child run whose id is derived from (run, step, attempt), as
 * the parent's requester, recording the parent step on it, and returns `pending`. When the
 * child ends, the engine (decideNext) records the parent step's outcome: the child's final
 * outputs, or a failure for good. Requesting twice finds the child already there.
 */
export const workflowRunActivity: Activity = async ({ runId, work, submit }) => {
  const parsed = childRunInputSchema.safeParse(work.step.input);
  if (!parsed.success) return { kind: 'fail', error: invalidInput('workflow.run', parsed.error), retryable: false };
  const { workflowId, definitionVersion, input } = parsed.data;
  try {
    await submit({
      type: 'RequestWorkflowRun',
      aggregateId: childRunIdFor(runId, work.step.id, work.attempt),
      idempotencyKey: stepKey(runId, work.step.id, work.attempt, 'child-request'),
      data: {
        workflowId,
        ...(definitionVersion !== undefined ? { definitionVersion } : {}),
        input,
        source: { kind: 'workflow', ref: `${runId}/${work.step.id}` },
        parent: { runId, stepId: work.step.id, attempt: work.attempt },
      },
    });
    return { kind: 'pending' };
  } catch (err) {
    if (isLightdomError(err, 'ALREADY_EXISTS')) return { kind: 'pending' };
    if (!isLightdomError(err) || err.retryable) throw err;
    const issues = err.issues?.map((i) => ` ${i.field}: ${i.message}`).join(';') ?? '';
    return {
      kind: 'fail',
      error: errorText(`child run refused: ${err.code}: ${err.message}${issues}`),
      retryable: false,
    };
  }
};
