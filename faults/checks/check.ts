/** One line of the verdict. */
export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
  /**
   * Checks a projection that applies an event twice (or skips one) must fail: the ones
   * `--prove-detection` expects the deliberately broken projector to trip.
   */
  readModel?: boolean;
}

export const check = (name: string, ok: boolean, detail: string, readModel = false): CheckResult => ({
  name,
  ok,
  detail,
  ...(readModel ? { readModel } : {}),
});

/** At most `n` items of a list for a failure message, with how many were left out. */
export function firstOf<T>(items: T[], n: number, show: (t: T) => string): string {
  const shown = items.slice(0, n).map(show).join('; ');
  return items.length > n ? `${shown}; … ${items.length - n} more` : shown;
}
