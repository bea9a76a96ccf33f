import type { Money } from '../money.js';

export type CampaignStatus = 'draft' | 'scheduled' | 'active' | 'paused' | 'completed' | 'archived';

export interface CampaignSchedule {
  startAt: string;
  endAt?: string | undefined;
}

export interface CampaignEventData {
  CampaignCreated: {
    name: string;
    description: string;
    channels: string[];
    budget: Money;
    owner: string | null;
  };
  CampaignRenamed: { name: string; previousName: string };
  CampaignDescriptionChanged: { description: string };
  CampaignBudgetChanged: { budget: Money; previousBudget: Money };
  CampaignScheduled: CampaignSchedule;
  CampaignLaunched: { launchedAt: string };
  CampaignPaused: { reason: string | null };
  CampaignResumed: Record<string, never>;
  CampaignCompleted: Record<string, never>;
  CampaignArchived: Record<string, never>;
  CampaignMetricsRecorded: { impressions: number; clicks: number; conversions: number; spend: number };
  CampaignBudgetExhausted: { spend: number; budget: Money };
}

export type CampaignEventType = keyof CampaignEventData;

export type CampaignEvent = {
  [K in CampaignEventType]: { type: K; data: CampaignEventData[K] };
}[CampaignEventType];

/** Current schemaVersion of every campaign event. */
export const campaignEventVersions: Record<CampaignEventType, number> = {
  CampaignCreated: 2,
  CampaignRenamed: 1,
  CampaignDescriptionChanged: 1,
  CampaignBudgetChanged: 1,
  CampaignScheduled: 1,
  CampaignLaunched: 1,
  CampaignPaused: 1,
  CampaignResumed: 1,
  CampaignCompleted: 1,
  CampaignArchived: 1,
  CampaignMetricsRecorded: 1,
  CampaignBudgetExhausted: 1,
};
