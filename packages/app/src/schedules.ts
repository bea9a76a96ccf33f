import { type Identity, LightdomError, type ScheduleState, validationError } from '@lightdom/domain';
import type { CommandHandler, EventStore } from '@lightdom/eventstore';
import { Cron } from 'croner';
import { definitionOf } from './runs.js';

/**
 * Why `expression` is not a cron expression croner can run, or undefined. Five fields
 * (minute first) or six (seconds first), as croner reads them.
 */
export function cronProblem(expression: string, timezone: string): string | undefined {
  try {
    const cron = new Cron(expression, { timezone, paused: true });
    cron.stop();
    return undefined;
  } catch (err) {
    return String((err as Error).message ?? err);
  }
}

/** What `nextSlot` reads of a schedule (the read model's view has it). */
export interface ScheduleTiming {
  status: string;
  cron: string | null;
  timezone: string;
  at: string | null;
}

/**
 * When an active schedule fires next, as ISO text, or null (paused, completed, deleted, or
 * a cron with no further time). A cron schedule's next slot is its next cron time after
 * `now` in its time zone; a one-time schedule's is its `at` until it fired (an `at` in the
 * past fires on the scheduler's next tick). The executor fires with the same library, so
 * the API and the dashboard never disagree with it about time zones or daylight saving.
 *
 * @example
 * nextSlot({ status: 'active', cron: '0 9 * * 1-5', timezone: 'Europe/Berlin', at: null }, new Date('2027-01-01T12:00:00Z'))
 * // '2027-01-04T08:00:00.000Z' (Monday, 09:00 in Berlin)
 */
export function nextSlot(s: ScheduleTiming, now: Date = new Date()): string | null {
  if (s.status !== 'active') return null;
  if (s.at !== null) return s.at;
  if (s.cron === null) return null;
  try {
    const cron = new Cron(s.cron, { timezone: s.timezone, paused: true });
    try {
      return cron.nextRun(now)?.toISOString() ?? null;
    } finally {
      cron.stop();
    }
  } catch {
    // Only a schedule recorded before its expression was checked gets here.
    return null;
  }
}

/**
 * The full CreateSchedule data: the cron expression checked (400 naming `data.cron`), the
 * workflow known and runnable (its pinned version too), and who created it.
 */
export async function scheduleCreateData(
  deps: { commands: CommandHandler; store: EventStore },
  data: unknown,
  creator: Identity,
): Promise<unknown> {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return data;
  const d = data as Record<string, unknown>;
  if (Object.hasOwn(d, 'createdBy')) {
    throw validationError([{ field: 'data.createdBy', message: 'is recorded by the server, not sent' }]);
  }
  if (typeof d.cron === 'string') {
    const timezone = typeof d.timezone === 'string' ? d.timezone : 'UTC';
    const problem = cronProblem(d.cron.trim(), timezone);
    if (problem) throw validationError([{ field: 'data.cron', message: `is not a cron expression: ${problem}` }]);
  }
  if (typeof d.workflowId === 'string') {
    await definitionOf(deps, d.workflowId, typeof d.definitionVersion === 'number' ? d.definitionVersion : undefined);
  }
  return { ...d, createdBy: { actor: creator.actor, role: creator.role } };
}

/** Who a schedule's runs act as: its creator (a schedule recorded without one: its first commit's actor, as an operator). */
export async function creatorOf(deps: { commands: CommandHandler; store: EventStore }, scheduleId: string) {
  const loaded = await deps.commands.repository.load('schedule', scheduleId);
  const schedule = loaded.state as ScheduleState;
  if (!schedule.exists) throw new LightdomError('NOT_FOUND', `No schedule ${scheduleId}`);
  if (schedule.createdBy) return schedule.createdBy;
  const first = (await deps.store.readAggregate('schedule', scheduleId, { until: loaded.position }))[0];
  return { actor: first?.actor ?? 'unknown', role: 'operator' as const };
}
