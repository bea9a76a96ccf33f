import type { Identity } from '../access.js';

/** `completed`: a one-time (`at`) schedule that fired. `deleted` is final. */
export type ScheduleStatus = 'active' | 'paused' | 'completed' | 'deleted';

export interface ScheduleEventData {
  ScheduleCreated: {
    workflowId: string;
    definitionVersion: number | null;
    input: Record<string, unknown>;
    cron: string | null;
    timezone: string;
    at: string | null;
    /** Slots are counted from here: a schedule never fires for a time before it existed. */
    createdAt: string;
    createdBy: Identity | null;
  };
  SchedulePaused: { reason: string | null; pausedAt: string };
  /** Slots that fell due while paused are not fired: the next slot counts from `resumedAt`. */
  ScheduleResumed: { resumedAt: string };
  ScheduleDeleted: { reason: string | null };
  ScheduleFired: { slot: string; runId: string; firedAt: string; missedSlots: number };
}

export type ScheduleEventType = keyof ScheduleEventData;

export type ScheduleEvent = {
  [K in ScheduleEventType]: { type: K; data: ScheduleEventData[K] };
}[ScheduleEventType];

/** Current schemaVersion of every schedule event. */
export const scheduleEventVersions: Record<ScheduleEventType, number> = {
  ScheduleCreated: 1,
  SchedulePaused: 1,
  ScheduleResumed: 1,
  ScheduleDeleted: 1,
  ScheduleFired: 1,
};
