import type { Upcaster } from '../upcasting.js';

/**
 * CampaignCreated v1 stored `{name, budget: number, currency}`; v2 holds the budget as
 * money and always carries description, channels and owner.
 */
export const campaignCreatedV1toV2: Upcaster = {
  type: 'CampaignCreated',
  from: 1,
  upcast(data) {
    const d = data as { name: string; budget: number; currency?: string; description?: string };
    return {
      name: d.name,
      description: d.description ?? '',
      channels: [],
      budget: { amount: d.budget, currency: d.currency ?? 'EUR' },
      owner: null,
    };
  },
};

export const campaignUpcasters: Upcaster[] = [campaignCreatedV1toV2];
