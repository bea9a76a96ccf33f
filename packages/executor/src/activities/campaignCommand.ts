import { commandCatalog, isLightdomError } from '@lightdom/domain';
import { z } from 'zod';
import { campaignCommandKey } from '../engine/keys.js';
import { type Activity, errorText, invalidInput } from './activity.js';

/** The input of a `campaign.command` step: a command envelope for a campaign. */
export const campaignStepInputSchema = z
  .object({
    type: z.string().min(1),
    aggregateId: z.string().optional(),
    expectedVersion: z.number().int().nonnegative().optional(),
    data: z.record(z.unknown()).default({}),
  })
  .strict();

/**
 * `campaign.command`: issues the campaign command in the step's input through the
 * application core, as the identity that requested the run, with one idempotency key per
 * step so a retried or redelivered attempt cannot apply it twice. A domain rejection (or
 * a requester who may not send it: FORBIDDEN) is final; an unavailable log is worth a retry.
 */
export const campaignCommandActivity: Activity = async ({ runId, work, submit }) => {
  const parsed = campaignStepInputSchema.safeParse(work.step.input);
  if (!parsed.success) {
    return { kind: 'fail', error: invalidInput('campaign.command', parsed.error), retryable: false };
  }
  const { type } = parsed.data;
  if ((Object.hasOwn(commandCatalog, type) ? commandCatalog[type]?.aggregateType : undefined) !== 'campaign') {
    return { kind: 'fail', error: `${JSON.stringify(type)} is not a campaign command`, retryable: false };
  }
  try {
    const result = await submit({ ...parsed.data, idempotencyKey: campaignCommandKey(runId, work.step.id) });
    return { kind: 'complete', output: { aggregateId: result.id, position: result.position, version: result.version } };
  } catch (err) {
    if (!isLightdomError(err)) throw err;
    const issues = err.issues?.map((i) => ` ${i.field}: ${i.message}`).join(';') ?? '';
    return { kind: 'fail', error: errorText(`${err.code}: ${err.message}${issues}`), retryable: err.retryable };
  }
};
