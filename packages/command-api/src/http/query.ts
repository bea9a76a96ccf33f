import { type FieldIssue, LightdomError } from '@lightdom/domain';
import { z } from 'zod';

/**
 * Validates a query string; each problem names its parameter. A parameter the route does
 * not know is refused by name, never ignored: a misspelt filter (`aggregateID`) must not
 * quietly return everything.
 */
export function parseQuery<T extends z.AnyZodObject>(schema: T, query: unknown): z.infer<T> {
  const r = schema.strict().safeParse(query ?? {});
  if (!r.success) {
    const issues: FieldIssue[] = r.error.issues.flatMap((i) =>
      i.code === z.ZodIssueCode.unrecognized_keys
        ? i.keys.map((k) => ({ field: k.slice(0, 100), message: 'is not a parameter of this route' }))
        : [{ field: i.path.join('.') || '(query)', message: i.message }],
    );
    // The URL is bounded by the header size; the answer names at most 20 problems.
    throw new LightdomError('VALIDATION_FAILED', 'Invalid query parameters', { issues: issues.slice(0, 20) });
  }
  return r.data;
}
