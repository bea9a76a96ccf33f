import { aggregateIdSchema, LightdomError } from '@lightdom/domain';
import { z } from 'zod';
import type { CampaignQueries } from '../readModel/campaignQueries.js';
import type { PositionWaiter } from '../readModel/positionWaiter.js';
import {
  type GetCampaignRequestMessage,
  type GetCampaignResponseMessage,
  type ListCampaignsRequestMessage,
  type ListCampaignsResponseMessage,
  logPosition,
  parseRequest,
  toCampaignMessage,
} from './messages.js';

export interface QueryServiceDeps {
  campaigns: CampaignQueries;
  positions: PositionWaiter;
}

const consistency = {
  minPosition: logPosition.optional(),
  allowStale: z.boolean(),
};

const getRequest = z.object({ id: aggregateIdSchema, ...consistency });

const listRequest = z.object({
  status: z.enum(['', 'draft', 'scheduled', 'active', 'paused', 'completed', 'archived']),
  limit: z
    .number()
    .int()
    .min(0)
    .max(500)
    .transform((n) => n || 50),
  cursor: z.string().max(400),
  ...consistency,
});

/**
 * Read-your-writes as over HTTP: with `minPosition` the read waits until the read model has
 * applied that position, at most `maxWaitMs` and never past the call's deadline. On
 * time-out: STALE_READ, or with `allowStale` the data it has, marked stale.
 */
async function awaitPosition(
  positions: PositionWaiter,
  q: { minPosition?: number | undefined; allowStale: boolean },
  waitMs: number,
): Promise<{ stale: boolean; readModelPosition: number }> {
  if (q.minPosition === undefined) return { stale: false, readModelPosition: await positions.current() };
  const ok = await positions.waitFor(q.minPosition, waitMs);
  const readModelPosition = positions.lastKnown();
  if (ok) return { stale: false, readModelPosition };
  if (q.allowStale) return { stale: true, readModelPosition };
  throw new LightdomError(
    'STALE_READ',
    `The read model is at position ${readModelPosition}, not yet ${q.minPosition}`,
    {
      details: { position: readModelPosition, minPosition: q.minPosition },
    },
  );
}

/** `lightdom.v1.QueryService`: the same read-model queries and position waiter as the HTTP reads. */
export function createQueryService(deps: QueryServiceDeps) {
  return {
    async getCampaign(request: GetCampaignRequestMessage, waitMs: number): Promise<GetCampaignResponseMessage> {
      const q = parseRequest(getRequest, request);
      const consistencyInfo = await awaitPosition(deps.positions, q, waitMs);
      const campaign = await deps.campaigns.get(q.id);
      if (!campaign) throw new LightdomError('NOT_FOUND', `No campaign ${q.id}`);
      return { campaign: toCampaignMessage(campaign), ...consistencyInfo };
    },

    async listCampaigns(request: ListCampaignsRequestMessage, waitMs: number): Promise<ListCampaignsResponseMessage> {
      const q = parseRequest(listRequest, request);
      const consistencyInfo = await awaitPosition(deps.positions, q, waitMs);
      const page = await deps.campaigns.list({
        limit: q.limit,
        ...(q.status ? { status: q.status } : {}),
        ...(q.cursor ? { cursor: q.cursor } : {}),
      });
      return { items: page.items.map(toCampaignMessage), nextCursor: page.nextCursor ?? '', ...consistencyInfo };
    },
  };
}
