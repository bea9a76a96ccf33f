import { type ScheduleState, sha256Hex } from '@lightdom/domain';
import { Cron } from 'croner';

/** A slot that is due: the latest one not after now, and how many earlier ones were passed over. */
export interface DueSlot {
  slot: Date;
  missedSlots: number;
}

/** Most slots counted when working out how many were missed; past it the count says "at least". */
const maxCountedSlots = 100_000;

/**
 * The slot a schedule should fire now, or null. Pure: `now` comes in. A cron schedule's
 * slots are its cron times (in its time zone) after `firesAfter` (creation, the last
 * fired slot or the resume); when several are due (no scheduler ran for a while) only the
 * latest fires and the others are counted as missed: a run per missed slot would flood
 * the system after an outage. A one-time schedule's slot is `at`.
 *
 * @example
 * dueSlot(state, new Date('2027-01-01T09:00:30Z')) // {slot: 2027-01-01T09:00:00Z, missedSlots: 0} for `0 9 * * *`
 */
export function dueSlot(state: ScheduleState, now: Date): DueSlot | null {
  if (!state.exists || state.status !== 'active') return null;
  const after = new Date(state.firesAfter);
  if (state.at !== null) {
    const at = new Date(state.at);
    return at.getTime() > after.getTime() && at.getTime() <= now.getTime() ? { slot: at, missedSlots: 0 } : null;
  }
  if (state.cron === null) return null;
  const cron = new Cron(state.cron, { timezone: state.timezone, paused: true });
  try {
    let next = cron.nextRun(after);
    if (!next || next.getTime() > now.getTime()) return null;
    let count = 0;
    for (;;) {
      const following = cron.nextRun(next);
      if (!following || following.getTime() > now.getTime() || count >= maxCountedSlots) break;
      next = following;
      count += 1;
    }
    return { slot: next, missedSlots: count };
  } finally {
    cron.stop();
  }
}

/** The id of the run a slot starts: the same for every executor, so racing requests make one run. */
export const scheduledRunId = (scheduleId: string, slot: string): string =>
  `sch-${sha256Hex(`${scheduleId}\u0000${new Date(slot).toISOString()}`).slice(0, 40)}`;

/** Idempotency keys of the scheduler's commands. */
export const fireKey = (scheduleId: string, slot: string): string => `sched:${scheduleId}:${slot}:fire`;
export const scheduledRunKey = (scheduleId: string, slot: string): string => `sched:${scheduleId}:${slot}:run`;
