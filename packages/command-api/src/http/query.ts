import { LightdomError } from '@lightdom/domain';
import type { z } from 'zod';

/** Validates a query string; each problem names its parameter. */
export function parseQuery<T extends z.ZodTypeAny>(schema: T, query: unknown): z.infer<T> {
  const r = schema.safeParse(query);
  if (!r.success) {
    throw new LightdomError('VALIDATION_FAILED', 'Invalid query parameters', {
      issues: r.error.issues.map((i) => ({ field: i.path.join('.') || '(query)', message: i.message })),
    });
  }
  return r.data;
}
