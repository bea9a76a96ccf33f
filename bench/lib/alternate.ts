type Variants = Record<string, (round: number) => Promise<unknown>>;

/**
 * Runs every variant once per round, in turn, for `rounds` rounds. On a shared machine a
 * burst of load elsewhere then falls on a figure and its baseline alike, instead of on
 * whichever happened to run at that moment.
 */
export async function alternate<V extends Variants>(
  rounds: number,
  variants: V,
): Promise<{ [K in keyof V]: Awaited<ReturnType<V[K]>>[] }> {
  const out: Record<string, unknown[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  for (let round = 0; round < rounds; round++) {
    for (const [k, run] of Object.entries(variants)) out[k]!.push(await run(round));
  }
  return out as { [K in keyof V]: Awaited<ReturnType<V[K]>>[] };
}
