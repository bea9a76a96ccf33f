import type { Application, Consistency } from '@lightdom/app';
import { aggregateIdSchema, LightdomError } from '@lightdom/domain';
import { z } from 'zod';
import type { CampaignQueries } from '../readModel/campaignQueries.js';
import type { CallContext } from './context.js';
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
  app: Pick<Application, 'read'>;
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

/** The read-your-writes wait of a request, as the core takes it. */
const consistencyOf = (q: { minPosition?: number | undefined; allowStale: boolean }, waitMs: number): Consistency => ({
  ...(q.minPosition !== undefined ? { minPosition: q.minPosition } : {}),
  waitMs,
  allowStale: q.allowStale,
});

/**
 * `lightdom.v1.QueryService`: the same read-model queries as the HTTP reads, through the
 * core's `read`: with `minPosition` the read waits until the read models have applied that
 * position, at most `waitMs` (never past the call's deadline); on time-out STALE_READ, or
 * with `allowStale` the data there is, marked stale.
 */
export function createQueryService(deps: QueryServiceDeps) {
  return {
    async getCampaign(
      request: GetCampaignRequestMessage,
      ctx: CallContext,
      waitMs: number,
    ): Promise<GetCampaignResponseMessage> {
      const q = parseRequest(getRequest, request);
      const read = await deps.app.read(ctx.identity, consistencyOf(q, waitMs), () => deps.campaigns.get(q.id));
      if (!read.value) throw new LightdomError('NOT_FOUND', `No campaign ${q.id}`);
      return { campaign: toCampaignMessage(read.value), readModelPosition: read.position, stale: read.stale };
    },

    async listCampaigns(
      request: ListCampaignsRequestMessage,
      ctx: CallContext,
      waitMs: number,
    ): Promise<ListCampaignsResponseMessage> {
      const q = parseRequest(listRequest, request);
      const read = await deps.app.read(ctx.identity, consistencyOf(q, waitMs), () =>
        deps.campaigns.list({
          limit: q.limit,
          ...(q.status ? { status: q.status } : {}),
          ...(q.cursor ? { cursor: q.cursor } : {}),
        }),
      );
      return {
        items: read.value.items.map(toCampaignMessage),
        nextCursor: read.value.nextCursor ?? '',
        // `position` as every list names it; `readModelPosition` stays for older clients.
        position: read.position,
        readModelPosition: read.position,
        stale: read.stale,
      };
    },
  };
}
