import { type Decider, ignoreUnknownEvent } from '../decider.js';
import { LightdomError } from '../errors.js';
import { addAmounts, type Money, toMinor } from '../money.js';
import type { CampaignCommand } from './commands.js';
import type { CampaignEvent, CampaignSchedule, CampaignStatus } from './events.js';

export interface CampaignState {
  exists: boolean;
  status: CampaignStatus;
  name: string;
  description: string;
  channels: string[];
  budget: Money;
  owner: string | null;
  schedule: CampaignSchedule | null;
  launchedAt: string | null;
  spend: number;
  impressions: number;
  clicks: number;
  conversions: number;
}

export const initialCampaignState = (): CampaignState => ({
  exists: false,
  status: 'draft',
  name: '',
  description: '',
  channels: [],
  budget: { amount: 0, currency: 'EUR' },
  owner: null,
  schedule: null,
  launchedAt: null,
  spend: 0,
  impressions: 0,
  clicks: 0,
  conversions: 0,
});

/** Which statuses each lifecycle command may start from. */
const allowedFrom = {
  ScheduleCampaign: ['draft', 'scheduled'],
  LaunchCampaign: ['draft', 'scheduled'],
  PauseCampaign: ['active'],
  ResumeCampaign: ['paused'],
  CompleteCampaign: ['active', 'paused'],
  ArchiveCampaign: ['draft', 'scheduled', 'completed'],
  RenameCampaign: ['draft', 'scheduled', 'active', 'paused', 'completed'],
  UpdateCampaign: ['draft', 'scheduled', 'active', 'paused', 'completed'],
  ChangeCampaignBudget: ['draft', 'scheduled', 'active', 'paused'],
  RecordCampaignMetrics: ['active', 'paused', 'completed'],
} as const satisfies Record<string, readonly CampaignStatus[]>;

function requireStatus(state: CampaignState, type: keyof typeof allowedFrom): void {
  const allowed: readonly CampaignStatus[] = allowedFrom[type];
  if (!allowed.includes(state.status)) {
    throw new LightdomError(
      'INVALID_TRANSITION',
      `${type} is not allowed while the campaign is ${state.status} (allowed from: ${allowed.join(', ')})`,
      { details: { status: state.status, command: type, allowedFrom: allowed } },
    );
  }
}

function budgetChange(state: CampaignState, budget: Money): CampaignEvent[] {
  if (budget.currency !== state.budget.currency && state.spend > 0) {
    throw new LightdomError('INVARIANT_VIOLATION', 'The currency cannot change once money was spent', {
      details: { field: 'data.budget.currency', currency: state.budget.currency },
    });
  }
  if (toMinor(budget.amount) < toMinor(state.spend)) {
    throw new LightdomError('INVARIANT_VIOLATION', `The budget cannot be below the spend so far (${state.spend})`, {
      details: { field: 'data.budget.amount', spend: state.spend },
    });
  }
  if (budget.amount === state.budget.amount && budget.currency === state.budget.currency) return [];
  return [{ type: 'CampaignBudgetChanged', data: { budget, previousBudget: state.budget } }];
}

function decide(command: CampaignCommand, state: CampaignState, ctx: { now: Date }): CampaignEvent[] {
  if (command.type === 'CreateCampaign') {
    if (state.exists) throw new LightdomError('ALREADY_EXISTS', 'The campaign already exists');
    const { name, description, channels, budget, owner, schedule } = command.data;
    const created: CampaignEvent = {
      type: 'CampaignCreated',
      data: { name, description, channels: [...new Set(channels)], budget, owner: owner ?? null },
    };
    return schedule ? [created, { type: 'CampaignScheduled', data: schedule }] : [created];
  }
  if (!state.exists) throw new LightdomError('NOT_FOUND', 'The campaign does not exist');

  switch (command.type) {
    case 'RenameCampaign': {
      requireStatus(state, command.type);
      if (command.data.name === state.name) return [];
      return [{ type: 'CampaignRenamed', data: { name: command.data.name, previousName: state.name } }];
    }
    case 'UpdateCampaign': {
      requireStatus(state, command.type);
      const { name, description, budget } = command.data;
      const events: CampaignEvent[] = [];
      if (name !== undefined && name !== state.name) {
        events.push({ type: 'CampaignRenamed', data: { name, previousName: state.name } });
      }
      if (description !== undefined && description !== state.description) {
        events.push({ type: 'CampaignDescriptionChanged', data: { description } });
      }
      if (budget !== undefined) events.push(...budgetChange(state, budget));
      return events;
    }
    case 'ChangeCampaignBudget':
      requireStatus(state, command.type);
      return budgetChange(state, command.data.budget);
    case 'ScheduleCampaign':
      requireStatus(state, command.type);
      return [{ type: 'CampaignScheduled', data: command.data }];
    case 'LaunchCampaign':
      requireStatus(state, command.type);
      if (toMinor(state.spend) >= toMinor(state.budget.amount)) {
        throw new LightdomError('INVARIANT_VIOLATION', 'A campaign with no budget left cannot launch');
      }
      return [{ type: 'CampaignLaunched', data: { launchedAt: ctx.now.toISOString() } }];
    case 'PauseCampaign':
      requireStatus(state, command.type);
      return [{ type: 'CampaignPaused', data: { reason: command.data.reason ?? null } }];
    case 'ResumeCampaign':
      requireStatus(state, command.type);
      if (toMinor(state.spend) >= toMinor(state.budget.amount)) {
        throw new LightdomError('INVARIANT_VIOLATION', 'The budget is exhausted; raise it before resuming');
      }
      return [{ type: 'CampaignResumed', data: {} }];
    case 'CompleteCampaign':
      requireStatus(state, command.type);
      return [{ type: 'CampaignCompleted', data: {} }];
    case 'ArchiveCampaign':
      requireStatus(state, command.type);
      return [{ type: 'CampaignArchived', data: {} }];
    case 'RecordCampaignMetrics': {
      requireStatus(state, command.type);
      const m = command.data;
      const spend = addAmounts(state.spend, m.spend);
      if (toMinor(spend) > toMinor(state.budget.amount)) {
        throw new LightdomError(
          'INVARIANT_VIOLATION',
          `Spend would reach ${spend}, above the budget of ${state.budget.amount} ${state.budget.currency}`,
          { details: { field: 'data.spend', spend: state.spend, budget: state.budget } },
        );
      }
      const events: CampaignEvent[] = [{ type: 'CampaignMetricsRecorded', data: m }];
      const exhausted = toMinor(spend) === toMinor(state.budget.amount) && m.spend > 0;
      if (exhausted) {
        events.push({ type: 'CampaignBudgetExhausted', data: { spend, budget: state.budget } });
        if (state.status === 'active') {
          events.push({ type: 'CampaignPaused', data: { reason: 'budget_exhausted' } });
        }
      }
      return events;
    }
    default: {
      const _exhaustive: never = command;
      throw new Error(`unhandled command ${(_exhaustive as { type: string }).type}`);
    }
  }
}

function evolve(state: CampaignState, event: CampaignEvent): CampaignState {
  switch (event.type) {
    case 'CampaignCreated':
      return { ...state, ...event.data, exists: true, status: 'draft' };
    case 'CampaignRenamed':
      return { ...state, name: event.data.name };
    case 'CampaignDescriptionChanged':
      return { ...state, description: event.data.description };
    case 'CampaignBudgetChanged':
      return { ...state, budget: event.data.budget };
    case 'CampaignScheduled':
      return { ...state, status: 'scheduled', schedule: event.data };
    case 'CampaignLaunched':
      return { ...state, status: 'active', launchedAt: event.data.launchedAt };
    case 'CampaignPaused':
      return { ...state, status: 'paused' };
    case 'CampaignResumed':
      return { ...state, status: 'active' };
    case 'CampaignCompleted':
      return { ...state, status: 'completed' };
    case 'CampaignArchived':
      return { ...state, status: 'archived' };
    case 'CampaignMetricsRecorded':
      return {
        ...state,
        impressions: state.impressions + event.data.impressions,
        clicks: state.clicks + event.data.clicks,
        conversions: state.conversions + event.data.conversions,
        spend: addAmounts(state.spend, event.data.spend),
      };
    case 'CampaignBudgetExhausted':
      return state;
    default: {
      return ignoreUnknownEvent(state, event);
    }
  }
}

export const campaignDecider: Decider<CampaignCommand, CampaignEvent, CampaignState> = {
  aggregateType: 'campaign',
  initialState: initialCampaignState,
  decide,
  evolve,
};
