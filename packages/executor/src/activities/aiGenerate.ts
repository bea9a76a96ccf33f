import { isLightdomError } from '@lightdom/domain';
import { z } from 'zod';
import { aiTaskIdFor, stepKey } from '../engine/keys.js';
import { type Activity, errorText, invalidInput } from './activity.js';

/** The input of an `ai.generate` step: an AI task request without the workflow fields. */
export const aiStepInputSchema = z
  .object({
    model: z.string().min(1).optional(),
    prompt: z.string().optional(),
    messages: z.array(z.unknown()).optional(),
    options: z.record(z.unknown()).optional(),
    maxAttempts: z.number().int().optional(),
  })
  .strict();

/**
 * `ai.generate`: requests an AI task whose id is derived from (run, step, attempt) and
 * returns `pending`; the AI worker's AiTaskCompleted or AiTaskFailed, seen on the aiTask
 * consumer, records the step's outcome. Requesting twice finds the task already there.
 */
export function createAiGenerateActivity(options: { defaultModel: string }): Activity {
  return async ({ runId, work, submit }) => {
    const parsed = aiStepInputSchema.safeParse(work.step.input);
    if (!parsed.success) {
      return { kind: 'fail', error: invalidInput('ai.generate', parsed.error), retryable: false };
    }
    try {
      await submit({
        type: 'RequestAiTask',
        aggregateId: aiTaskIdFor(runId, work.step.id, work.attempt),
        idempotencyKey: stepKey(runId, work.step.id, work.attempt, 'ai-request'),
        data: {
          ...parsed.data,
          model: parsed.data.model ?? options.defaultModel,
          workflowRunId: runId,
          stepId: work.step.id,
        },
      });
      return { kind: 'pending' };
    } catch (err) {
      // Requested before (a redelivery past the idempotency memory): the task goes on.
      if (isLightdomError(err, 'ALREADY_EXISTS')) return { kind: 'pending' };
      if (!isLightdomError(err) || err.retryable) throw err;
      const issues = err.issues?.map((i) => ` ${i.field}: ${i.message}`).join(';') ?? '';
      return {
        kind: 'fail',
        error: errorText(`AI task refused: ${err.code}: ${err.message}${issues}`),
        retryable: false,
      };
    }
  };
}
