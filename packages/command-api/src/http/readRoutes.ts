import type { Application, Consistency, ReadResult } from '@lightdom/app';
import { LightdomError } from '@lightdom/domain';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import type { CampaignQueries } from '../readModel/campaignQueries.js';
import { credentialsOf } from './context.js';
import { asOfParam, campaignAsOf } from './historyRoutes.js';
import { routeDoc } from './openapi.js';
import { cursorParam, intParam, pathId, positionParam } from './params.js';
import { parseQuery } from './query.js';

export interface ReadRoutesDeps {
  app: Application;
  campaigns: CampaignQueries;
  /** `/api/stats` is served by domainReadRoutes.ts when the app has the whole read model. */
  statsElsewhere?: boolean;
}

/**
 * Read-your-writes: with `minPosition` the read waits (bounded, in the core) until the read
 * model has applied that position. On time-out it answers 504, or, with `allowStale=true`,
 * the data it has with `stale: true`.
 */
export const consistencyQuery = z.object({
  minPosition: positionParam.optional(),
  waitMs: intParam(0, 3_600_000).optional(),
  allowStale: z.enum(['true', 'false']).optional(),
});

export const consistencyOf = (q: z.infer<typeof consistencyQuery>): Consistency => ({
  minPosition: q.minPosition,
  waitMs: q.waitMs,
  allowStale: q.allowStale === 'true',
});

export const listQuery = consistencyQuery.extend({
  status: z.enum(['draft', 'scheduled', 'active', 'paused', 'completed', 'archived']).optional(),
  limit: intParam(1, 500).default('50'),
  cursor: cursorParam.optional(),
});

export const campaignQuery = consistencyQuery.extend({ asOf: asOfParam.optional() });

/** The position headers a consistent read answers with. */
export function positionHeaders<T>(reply: FastifyReply, r: ReadResult<T>, waited: boolean): ReadResult<T> {
  if (waited) reply.header('x-lightdom-position', String(r.position));
  if (r.stale) reply.header('x-lightdom-stale', 'true');
  return r;
}

export function registerReadRoutes(app: FastifyInstance, deps: ReadRoutesDeps) {
  app.get(
    '/api/campaigns',
    routeDoc({
      tags: ['campaigns'],
      summary: 'Campaigns from the read model, paged (limit, cursor), with read-your-writes (minPosition)',
      query: listQuery,
      response: { type: 'object', required: ['items', 'nextCursor', 'stale', 'position'] },
    }),
    async (req, reply) => {
      const identity = deps.app.authenticate(credentialsOf(req));
      const q = parseQuery(listQuery, req.query);
      const r = await deps.app.read(identity, consistencyOf(q), () =>
        deps.campaigns.list({
          limit: q.limit,
          ...(q.status ? { status: q.status } : {}),
          ...(q.cursor ? { cursor: q.cursor } : {}),
        }),
      );
      positionHeaders(reply, r, q.minPosition !== undefined);
      return { ...r.value, stale: r.stale, position: r.position };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/campaigns/:id',
    routeDoc({
      tags: ['campaigns'],
      summary: 'One campaign from the read model, or folded from the log with ?asOf= (a position or a time)',
      params: ['id'],
      query: campaignQuery,
      response: { type: 'object', required: ['id', 'version', 'position'] },
    }),
    async (req, reply) => {
      const identity = deps.app.authenticate(credentialsOf(req));
      const id = pathId(req.params.id);
      const q = parseQuery(campaignQuery, req.query);
      if (q.asOf !== undefined) {
        // Time travel reads the log, not a read model: the same right as history.
        deps.app.authorize(identity, { kind: 'read' });
        return campaignAsOf(deps.app.deps.store, id, q.asOf);
      }
      const r = await deps.app.read(identity, consistencyOf(q), () => deps.campaigns.get(id));
      positionHeaders(reply, r, q.minPosition !== undefined);
      const campaign = r.value;
      if (!campaign) throw new LightdomError('NOT_FOUND', `No campaign ${id}`);
      reply.header('etag', `"${campaign.version}"`);
      return { ...campaign, ...(r.stale ? { stale: true } : {}), readModelPosition: r.position };
    },
  );

  if (deps.statsElsewhere) return;
  app.get(
    '/api/stats',
    routeDoc({
      tags: ['campaigns'],
      summary: 'Campaign counts by status',
      query: consistencyQuery,
      response: { type: 'object', required: ['campaigns', 'stale', 'position'] },
    }),
    async (req, reply) => {
      const identity = deps.app.authenticate(credentialsOf(req));
      const q = parseQuery(consistencyQuery, req.query);
      const r = await deps.app.read(identity, consistencyOf(q), () => deps.campaigns.stats());
      positionHeaders(reply, r, q.minPosition !== undefined);
      return { campaigns: r.value, stale: r.stale, position: r.position };
    },
  );
}
