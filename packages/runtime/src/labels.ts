/**
 * Metric labels from known values only: a label taken from the wire (a command type, a
 * path, a method) would let every distinct bad input add a series that lives for good.
 */

const httpMethods: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** The request method, or `OTHER` for any method outside the common set. */
export const methodLabel = (method: string): string => (httpMethods.has(method) ? method : 'OTHER');

/**
 * `value` when it is a key of `known` (own property) or a member of the set, else `fallback`.
 * @example knownLabel(type, commandCatalog) // 'CreateCampaign' or 'unknown'
 */
export function knownLabel(
  value: unknown,
  known: ReadonlySet<string> | Readonly<Record<string, unknown>>,
  fallback = 'unknown',
): string {
  if (typeof value !== 'string') return fallback;
  const isKnown = known instanceof Set ? known.has(value) : Object.hasOwn(known, value);
  return isKnown ? value : fallback;
}
