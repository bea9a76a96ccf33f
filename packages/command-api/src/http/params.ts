import { aggregateIdSchema, LightdomError } from '@lightdom/domain';
import { z } from 'zod';
import { decodeCursor } from '../readModel/campaignQueries.js';

/**
 * A log position in a query string: digits only, at most 2^53 − 1 (a JetStream sequence
 * that JavaScript holds exactly). `1e30`, `-1`, `1.5` and `0x10` are refused, naming the parameter.
 */
export const positionParam = z
  .string()
  .regex(/^\d{1,16}$/, 'must be a position: a whole number from 0 to 9007199254740991')
  .transform(Number)
  .refine(Number.isSafeInteger, 'must be a position: a whole number from 0 to 9007199254740991');

/** A bounded whole number in a query string, e.g. `limit`. */
export const intParam = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,9}$/, `must be a whole number from ${min} to ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

/** A page cursor: base64url of a campaign id, as `nextCursor` gives it. */
export const cursorParam = z
  .string()
  .refine(
    (c) => c.length <= 400 && /^[A-Za-z0-9_-]+$/.test(c) && aggregateIdSchema.safeParse(decodeCursor(c)).success,
    'must be a cursor from nextCursor',
  );

/** The `:id` of a path, checked like an aggregate id before it reaches a query or a subject. */
export function pathId(id: string, field = 'id'): string {
  if (!aggregateIdSchema.safeParse(id).success) {
    throw new LightdomError('VALIDATION_FAILED', `Invalid ${field}`, {
      issues: [{ field, message: 'must be 1-100 characters of A-Z, a-z, 0-9, _ or -' }],
    });
  }
  return id;
}
