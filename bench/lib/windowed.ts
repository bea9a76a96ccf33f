export interface WindowedOptions {
  /** Operations kept in flight at once. */
  window: number;
  /** Measure for this long, in ms (or until `count` operations, whichever is given). */
  durationMs?: number;
  count?: number;
  /** Run the same loop this long first without measuring, in ms. Default 0. */
  warmupMs?: number;
  /** `i` counts every operation started (warm-up included); `slot` is 0..window-1. */
  op: (i: number, slot: number) => Promise<unknown>;
}

export interface WindowedResult {
  /** Operations that completed without error in the measured phase. */
  ok: number;
  errors: number;
  firstError?: string;
  seconds: number;
  /** `ok / seconds`. */
  rate: number;
  /** Latency of each successful operation, in ms. */
  latenciesMs: number[];
}

/**
 * Keeps `window` operations in flight: each slot starts its next operation as soon as its
 * last one settles. The measured time runs until the last in-flight operation settles.
 */
export async function runWindowed(opts: WindowedOptions): Promise<WindowedResult> {
  if (opts.durationMs === undefined && opts.count === undefined)
    throw new Error('runWindowed needs durationMs or count');
  let i = 0;
  const phase = async (measure: boolean, until: number, count: number) => {
    let ok = 0;
    let errors = 0;
    let firstError: string | undefined;
    let started = 0;
    const latenciesMs: number[] = [];
    const t0 = performance.now();
    const slot = async (s: number) => {
      while (performance.now() < until && started < count) {
        started++;
        const t = performance.now();
        try {
          await opts.op(i++, s);
          ok++;
          if (measure) latenciesMs.push(performance.now() - t);
        } catch (err) {
          errors++;
          firstError ??= (err as Error).message;
        }
      }
    };
    await Promise.all(Array.from({ length: opts.window }, (_, s) => slot(s)));
    const seconds = (performance.now() - t0) / 1000;
    return { ok, errors, ...(firstError ? { firstError } : {}), seconds, rate: ok / seconds, latenciesMs };
  };
  if (opts.warmupMs) await phase(false, performance.now() + opts.warmupMs, Number.POSITIVE_INFINITY);
  const until = opts.durationMs === undefined ? Number.POSITIVE_INFINITY : performance.now() + opts.durationMs;
  return phase(true, until, opts.count ?? Number.POSITIVE_INFINITY);
}

/** One result from several measured phases of the same operation. */
export function mergeWindowed(results: WindowedResult[]): WindowedResult {
  const ok = results.reduce((n, r) => n + r.ok, 0);
  const seconds = results.reduce((n, r) => n + r.seconds, 0);
  const firstError = results.find((r) => r.firstError)?.firstError;
  return {
    ok,
    errors: results.reduce((n, r) => n + r.errors, 0),
    ...(firstError ? { firstError } : {}),
    seconds,
    rate: ok / seconds,
    latenciesMs: results.flatMap((r) => r.latenciesMs),
  };
}
