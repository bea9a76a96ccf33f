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
