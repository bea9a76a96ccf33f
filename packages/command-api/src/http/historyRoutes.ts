import type { Application } from '@lightdom/app';
import {
  aggregateIdSchema,
  type CampaignState,
  campaignDecider,
  LightdomError,
  type StoredCommit,
} from '@lightdom/domain';
import { type EventStore, foldCommits } from '@lightdom/eventstore';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { CampaignView } from '../readModel/campaignQueries.js';
import { credentialsOf } from './context.js';
import { routeDoc } from './openapi.js';
import { intParam, pathId, positionParam } from './params.js';
import { parseQuery } from './query.js';

export interface HistoryRoutesDeps {
  app: Application;
}

export const eventsQuery = z.object({
  after: positionParam.default('0'),
  limit: intParam(1, 1000).default('100'),
  aggregateType: z
    .string()
    .regex(/^[A-Za-z]+$/, 'must be an aggregate type such as campaign')
    .optional(),
  /** With aggregateType: only this aggregate's events. */
  aggregateId: aggregateIdSchema.optional(),
  type: z.string().max(100).optional(),
});

export const aggregateEventsQuery = z.object({
  after: positionParam.default('0'),
  limit: intParam(1, 1000).default('1000'),
});

const eventsPage = {
  type: 'object',
  required: ['events', 'nextAfter', 'hasMore'],
  properties: {
    events: { type: 'array', items: { type: 'object' } },
    nextAfter: { type: 'integer', description: 'Continue with ?after= this' },
    hasMore: { type: 'boolean' },
  },
};

/** `asOf` is a position (digits) or an ISO-8601 time. */
export const asOfParam = z
  .string()
  .max(64)
  .refine(
    (v) => (/^\d+$/.test(v) ? positionParam.safeParse(v).success : !Number.isNaN(Date.parse(v))),
    'must be a position or an ISO-8601 time',
  );

/** The same shape as the read model's view, folded straight from the log. */
export function campaignViewFromCommits(id: string, commits: StoredCommit[]): CampaignView | null {
  if (commits.length === 0) return null;
  const start = {
    aggregateType: 'campaign',
    aggregateId: id,
    state: campaignDecider.initialState(),
    version: 0,
    position: 0,
    hash: null,
    verified: true,
  };
  const folded = foldCommits(campaignDecider, start, commits);
  const s = folded.state as CampaignState;
  return {
    id,
    name: s.name,
    description: s.description,
    status: s.status,
    channels: s.channels,
    budget: s.budget,
    owner: s.owner,
    schedule: s.schedule as CampaignView['schedule'],
    launchedAt: s.launchedAt,
    metrics: { impressions: s.impressions, clicks: s.clicks, conversions: s.conversions, spend: s.spend },
    version: folded.version,
    position: folded.position,
    createdAt: commits[0]!.timestamp,
    updatedAt: commits[commits.length - 1]!.timestamp,
  };
}

/** History reads come from the log itself, never from a read model: they are the audit trail. */
export function registerHistoryRoutes(app: FastifyInstance, deps: HistoryRoutesDeps) {
  app.get(
    '/api/events',
    routeDoc({
      tags: ['history'],
      summary: 'The log in position order (filters: aggregateType, aggregateId with aggregateType, type)',
      query: eventsQuery,
      response: eventsPage,
    }),
    async (req) => {
      const identity = deps.app.authenticate(credentialsOf(req));
      const q = parseQuery(eventsQuery, req.query);
      return deps.app.events(identity, q);
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/campaigns/:id/events',
    routeDoc({
      tags: ['history'],
      summary: "One campaign's events, from the log",
      params: ['id'],
      query: aggregateEventsQuery,
      response: eventsPage,
    }),
    async (req) => {
      const identity = deps.app.authenticate(credentialsOf(req));
      const id = pathId(req.params.id);
      const q = parseQuery(aggregateEventsQuery, req.query);
      const page = await deps.app.events(identity, { ...q, aggregateType: 'campaign', aggregateId: id });
      if (page.events.length === 0 && q.after === 0) throw new LightdomError('NOT_FOUND', `No campaign ${id}`);
      return { id, ...page };
    },
  );
}

/** `GET /api/campaigns/:id?asOf=…`: the state folded from the log up to a position or time. */
export async function campaignAsOf(store: EventStore, id: string, asOf: string): Promise<CampaignView> {
  let commits: StoredCommit[];
  if (/^\d+$/.test(asOf)) {
    commits = await store.readAggregate('campaign', id, { until: Number(asOf) });
  } else {
    const t = Date.parse(asOf);
    commits = (await store.readAggregate('campaign', id)).filter((c) => Date.parse(c.timestamp) <= t);
  }
  const view = campaignViewFromCommits(id, commits);
  if (!view) throw new LightdomError('NOT_FOUND', `Campaign ${id} did not exist at ${asOf}`);
  return view;
}
