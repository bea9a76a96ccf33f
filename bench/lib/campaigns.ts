import { randomUUID } from 'node:crypto';
import type { CommandMetadata } from '@lightdom/domain';

/** The body of `POST /api/campaigns` and the data of `CreateCampaign` in every scenario. */
export const createCampaignData = (i: number | string) => ({
  name: `Bench campaign ${i}`,
  description: 'Spring launch across email and social, measured by the benchmark harness.',
  channels: ['email', 'social'],
  budget: { amount: 1_000_000, currency: 'EUR' },
});

export const createCampaign = (i: number | string) => ({ type: 'CreateCampaign', data: createCampaignData(i) });

export const launchCampaign = (aggregateId: string) => ({ type: 'LaunchCampaign', aggregateId, data: {} });

/** Spend 0 keeps the budget invariant out of the way however many times it is sent. */
export const recordMetrics = (aggregateId: string, i: number) => ({
  type: 'RecordCampaignMetrics',
  aggregateId,
  data: { impressions: 100 + (i % 50), clicks: i % 7, conversions: i % 2, spend: 0 },
});

export const benchMeta = (): CommandMetadata => ({
  actor: 'bench',
  correlationId: randomUUID(),
  causationId: randomUUID(),
});
