import type { Identity } from '../access.js';
import { type DecideContext, type Decider, ignoreUnknownEvent } from '../decider.js';
import { LightdomError } from '../errors.js';
import type { ScheduleCommand } from './commands.js';
import type { ScheduleEvent, ScheduleStatus } from './events.js';

export interface ScheduleState {
  exists: boolean;
  status: ScheduleStatus;
  workflowId: string;
  definitionVersion: number | null;
  input: Record<string, unknown>;
  cron: string | null;
  timezone: string;
  at: string | null;
  createdBy: Identity | null;
  /** Slots after this instant are due to fire: creation, the last fired slot, or the resume. */
  firesAfter: string;
  lastSlot: string | null;
  lastRunId: string | null;
  fired: number;
}

export const initialScheduleState = (): ScheduleState => ({
  exists: false,
  status: 'active',
  workflowId: '',
  definitionVersion: null,
  input: {},
  cron: null,
  timezone: 'UTC',
  at: null,
  createdBy: null,
  firesAfter: new Date(0).toISOString(),
  lastSlot: null,
  lastRunId: null,
  fired: 0,
});

const allowedFrom = {
  PauseSchedule: ['active'],
  ResumeSchedule: ['paused'],
  DeleteSchedule: ['active', 'paused', 'completed'],
  FireSchedule: ['active'],
} as const satisfies Record<Exclude<ScheduleCommand['type'], 'CreateSchedule'>, readonly ScheduleStatus[]>;

function requireStatus(state: ScheduleState, type: keyof typeof allowedFrom): void {
  const allowed: readonly ScheduleStatus[] = allowedFrom[type];
  if (!allowed.includes(state.status)) {
    throw new LightdomError(
      'INVALID_TRANSITION',
      `${type} is not allowed while the schedule is ${state.status} (allowed from: ${allowed.join(', ')})`,
      { details: { status: state.status, command: type, allowedFrom: allowed } },
    );
  }
}

/** A slot fires once, in order: one not after `firesAfter` (fired already, or before a resume) is refused. */
function fire(state: ScheduleState, data: { slot: string; runId: string; missedSlots: number }, now: Date) {
  const slot = Date.parse(data.slot);
  if (slot <= Date.parse(state.firesAfter)) {
    throw new LightdomError('ALREADY_EXISTS', `Slot ${data.slot} of this schedule has fired or was passed over`, {
      details: { slot: data.slot, firesAfter: state.firesAfter, lastSlot: state.lastSlot },
    });
  }
  if (slot > now.getTime()) {
    throw new LightdomError('INVARIANT_VIOLATION', `Slot ${data.slot} is not due yet`, {
      details: { field: 'data.slot', now: now.toISOString() },
    });
  }
  if (state.at !== null && slot !== Date.parse(state.at)) {
    throw new LightdomError('INVARIANT_VIOLATION', `This schedule fires only at ${state.at}`, {
      details: { field: 'data.slot' },
    });
  }
  const event: ScheduleEvent = {
    type: 'ScheduleFired',
    data: {
      slot: new Date(slot).toISOString(),
      runId: data.runId,
      firedAt: now.toISOString(),
      missedSlots: data.missedSlots,
    },
  };
  return [event];
}

function decide(command: ScheduleCommand, state: ScheduleState, ctx: DecideContext): ScheduleEvent[] {
  if (command.type === 'CreateSchedule') {
    if (state.exists) throw new LightdomError('ALREADY_EXISTS', 'The schedule already exists');
    const d = command.data;
    return [
      {
        type: 'ScheduleCreated',
        data: {
          workflowId: d.workflowId,
          definitionVersion: d.definitionVersion ?? null,
          input: d.input,
          cron: d.cron ?? null,
          timezone: d.timezone,
          at: d.at === undefined ? null : new Date(d.at).toISOString(),
          createdAt: ctx.now.toISOString(),
          createdBy: d.createdBy ?? null,
        },
      },
    ];
  }
  if (!state.exists) throw new LightdomError('NOT_FOUND', 'The schedule does not exist');
  requireStatus(state, command.type);
  switch (command.type) {
    case 'PauseSchedule':
      return [
        { type: 'SchedulePaused', data: { reason: command.data.reason ?? null, pausedAt: ctx.now.toISOString() } },
      ];
    case 'ResumeSchedule':
      return [{ type: 'ScheduleResumed', data: { resumedAt: ctx.now.toISOString() } }];
    case 'DeleteSchedule':
      return [{ type: 'ScheduleDeleted', data: { reason: command.data.reason ?? null } }];
    case 'FireSchedule':
      return fire(state, command.data, ctx.now);
    default: {
      const _exhaustive: never = command;
      throw new Error(`unhandled command ${(_exhaustive as { type: string }).type}`);
    }
  }
}

function evolve(state: ScheduleState, event: ScheduleEvent): ScheduleState {
  switch (event.type) {
    case 'ScheduleCreated': {
      const d = event.data;
      // A one-time schedule's slot is `at`, which may lie before its creation.
      const firesAfter = d.at !== null ? new Date(Date.parse(d.at) - 1).toISOString() : d.createdAt;
      return {
        ...state,
        exists: true,
        status: 'active',
        workflowId: d.workflowId,
        definitionVersion: d.definitionVersion,
        input: d.input,
        cron: d.cron,
        timezone: d.timezone,
        at: d.at,
        createdBy: d.createdBy,
        firesAfter,
      };
    }
    case 'SchedulePaused':
      return { ...state, status: 'paused' };
    case 'ScheduleResumed': {
      const after =
        Date.parse(event.data.resumedAt) > Date.parse(state.firesAfter) ? event.data.resumedAt : state.firesAfter;
      return { ...state, status: 'active', firesAfter: state.at !== null ? state.firesAfter : after };
    }
    case 'ScheduleDeleted':
      return { ...state, status: 'deleted' };
    case 'ScheduleFired':
      return {
        ...state,
        status: state.at !== null ? 'completed' : state.status,
        firesAfter: event.data.slot,
        lastSlot: event.data.slot,
        lastRunId: event.data.runId,
        fired: state.fired + 1,
      };
    default:
      return ignoreUnknownEvent(state, event);
  }
}

export const scheduleDecider: Decider<ScheduleCommand, ScheduleEvent, ScheduleState> = {
  aggregateType: 'schedule',
  initialState: initialScheduleState,
  decide,
  evolve,
};
