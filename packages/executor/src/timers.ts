/**
 * The timers this executor armed (messages handed back to JetStream with a delay), for
 * the active-timers gauge. JetStream holds the timers themselves; this is only a count,
 * so losing it in a crash loses nothing.
 */
export function createTimerBook(clock: () => Date) {
  const dueAt = new Map<number, number>();
  return {
    arm(position: number, at: Date): void {
      dueAt.set(position, at.getTime());
    },
    /** Timers not yet due; forgets the ones that are. */
    active(): number {
      const now = clock().getTime();
      for (const [position, at] of dueAt) if (at <= now) dueAt.delete(position);
      return dueAt.size;
    },
  };
}

export type TimerBook = ReturnType<typeof createTimerBook>;
