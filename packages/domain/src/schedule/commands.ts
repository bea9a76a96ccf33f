import { z } from 'zod';
import { roleSchema } from '../access.js';
import { aggregateIdSchema } from '../envelope.js';
import { freeFormObject, text } from '../text.js';

/** Whether `zone` is an IANA time zone this runtime knows (`Europe/Berlin`, `UTC`). Pure: no I/O. */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const isoInstant = z
  .string()
  .datetime({ offset: true, message: 'must be an ISO 8601 date-time with an offset, e.g. 2027-01-01T09:00:00Z' });

/** Schemas of each schedule command's `data`, keyed by command type. */
export const scheduleCommandSchemas = {
  /**
   * A schedule starts runs of a workflow: on a cron expression in a time zone, or once at
   * a time. The cron expression's syntax is checked by the application core (the domain
   * has no cron library); the time zone here.
   */
  CreateSchedule: z
    .object({
      workflowId: aggregateIdSchema,
      /** Pin a definition version; absent: the version current when each run starts. */
      definitionVersion: z.number().int().min(1).max(1_000_000).optional(),
      input: freeFormObject().default({}),
      /** Five or six fields (seconds first when six), e.g. `0 9 * * 1-5`. */
      cron: text({ min: 1, max: 200, trim: true }).optional(),
      timezone: text({ min: 1, max: 64 })
        .default('UTC')
        .refine(isTimeZone, 'must be an IANA time zone such as UTC or Europe/Berlin'),
      /** Fire once at this time instead of on a cron expression. */
      at: isoInstant.optional(),
      /** Who created it, with their role: its runs act as them. Filled by the application core. */
      createdBy: z
        .object({ actor: text({ min: 1, max: 200 }), role: roleSchema })
        .strict()
        .optional(),
    })
    .strict()
    .superRefine((data, ctx) => {
      if ((data.cron === undefined) === (data.at === undefined)) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['cron'], message: 'give exactly one of cron and at' });
      }
    }),
  PauseSchedule: z.object({ reason: text({ max: 500, trim: true }).optional() }).strict(),
  ResumeSchedule: z.object({}).strict(),
  DeleteSchedule: z.object({ reason: text({ max: 500, trim: true }).optional() }).strict(),
  /**
   * Records that a slot fired and which run it starts (internal: the executor's scheduler).
   * A slot fires once: a slot not after the last fired one is refused, so executors racing
   * for one slot produce one ScheduleFired.
   */
  FireSchedule: z
    .object({
      slot: isoInstant,
      runId: aggregateIdSchema,
      /** Slots that fell due while no scheduler ran and were passed over. */
      missedSlots: z.number().int().min(0).max(1_000_000_000).default(0),
    })
    .strict(),
} as const;

type Schemas = typeof scheduleCommandSchemas;
export type ScheduleCommandType = keyof Schemas;

/** A validated schedule command: `{type, data}` with `data` parsed by its schema. */
export type ScheduleCommand = {
  [K in ScheduleCommandType]: { type: K; data: z.output<Schemas[K]> };
}[ScheduleCommandType];
