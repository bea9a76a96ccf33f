/**
 * What the suite prints. Every line carries the time since the run started, so the
 * injections and their effects can be read as one timeline.
 */
const started = Date.now();

export const elapsed = (): string => `+${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s`;

export function say(message: string): void {
  process.stdout.write(`[${elapsed()}] ${message}\n`);
}

/** A fault the suite caused; the word INJECT makes them easy to find in the output. */
export function inject(message: string): void {
  say(`INJECT  ${message}`);
}

/** What the suite saw after a fault: timings, statuses, recoveries. */
export function observe(message: string): void {
  say(`  seen  ${message}`);
}

export const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

/** HTTP statuses counted, e.g. `503 ×4, no answer ×1`. */
export const summarize = (statuses: number[]): string => {
  const counts = new Map<number, number>();
  for (const s of statuses) counts.set(s, (counts.get(s) ?? 0) + 1);
  return [...counts].map(([s, n]) => `${s || 'no answer'} ×${n}`).join(', ') || 'nothing';
};
