import { LightdomError } from '@lightdom/domain';
import type { EventStore } from '@lightdom/eventstore';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { CampaignQueries } from '../readModel/campaignQueries.js';
import type { PositionWaiter } from '../readModel/positionWaiter.js';
import { actorOf } from './context.js';
import { campaignAsOf } from './historyRoutes.js';
import { cursorParam, intParam, pathId, positionParam } from './params.js';
import { parseQuery } from './query.js';

export interface ReadRoutesDeps {
  campaigns: CampaignQueries;
  store: EventStore;
  positions: PositionWaiter;
  tokens: Map<string, string>;
  /** Longest wait for `minPosition`, in ms. */
  maxWaitMs: number;
  /** `/api/stats` is served by domainReadRoutes.ts when the app has the whole read model. */
  statsElsewhere?: boolean;
}

export const consistency = z.object({
  minPosition: positionParam.optional(),
  waitMs: intParam(0, 3_600_000).optional(),
  allowStale: z.enum(['true', 'false']).optional(),
});

/**
 * Read-your-writes: with `minPosition` the read waits (bounded) until the read model has
 * applied that position. On time-out it answers 504, or, with `allowStale=true`, the
 * data it has with `stale: true`.
 */
export async function awaitPosition(
  deps: Pick<ReadRoutesDeps, 'positions' | 'maxWaitMs'>,
  q: z.infer<typeof consistency>,
  reply: FastifyReply,
): Promise<{ stale: boolean; position: number }> {
  if (q.minPosition === undefined) return { stale: false, position: await deps.positions.current() };
  const ok = await deps.positions.waitFor(q.minPosition, Math.min(q.waitMs ?? deps.maxWaitMs, deps.maxWaitMs));
  const position = deps.positions.lastKnown();
  reply.header('x-lightdom-position', String(position));
  if (ok) return { stale: false, position };
  if (q.allowStale === 'true') {
    reply.header('x-lightdom-stale', 'true');
    return { stale: true, position };
  }
  throw new LightdomError('STALE_READ', `The read model is at position ${position}, not yet ${q.minPosition}`, {
    details: { position, minPosition: q.minPosition },
  });
}

const listQuery = consistency.extend({
  status: z.enum(['draft', 'scheduled', 'active', 'paused', 'completed', 'archived']).optional(),
  limit: intParam(1, 500).default('50'),
  cursor: cursorParam.optional(),
});

export function registerReadRoutes(app: FastifyInstance, deps: ReadRoutesDeps) {
  const auth = (req: FastifyRequest) => actorOf(req, deps.tokens);

  app.get('/api/campaigns', async (req, reply) => {
    auth(req);
    const q = parseQuery(listQuery, req.query);
    const consistencyInfo = await awaitPosition(deps, q, reply);
    const page = await deps.campaigns.list({
      limit: q.limit,
      ...(q.status ? { status: q.status } : {}),
      ...(q.cursor ? { cursor: q.cursor } : {}),
    });
    return { ...page, ...consistencyInfo };
  });

  app.get<{ Params: { id: string } }>('/api/campaigns/:id', async (req, reply) => {
    auth(req);
    const id = pathId(req.params.id);
    const asOf = (req.query as { asOf?: string }).asOf;
    if (asOf !== undefined) return campaignAsOf(deps.store, id, asOf);
    const q = parseQuery(consistency, req.query);
    const { stale, position } = await awaitPosition(deps, q, reply);
    const campaign = await deps.campaigns.get(id);
    if (!campaign) throw new LightdomError('NOT_FOUND', `No campaign ${id}`);
    reply.header('etag', `"${campaign.version}"`);
    return { ...campaign, ...(stale ? { stale } : {}), readModelPosition: position };
  });

  if (!deps.statsElsewhere)
    app.get('/api/stats', async (req, reply) => {
      auth(req);
      const q = parseQuery(consistency, req.query);
      const info = await awaitPosition(deps, q, reply);
      return { campaigns: await deps.campaigns.stats(), ...info };
    });
}
