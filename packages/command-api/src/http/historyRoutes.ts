import {
  type CampaignState,
  campaignDecider,
  LightdomError,
  type StoredCommit,
  toRecordedEvents,
} from '@lightdom/domain';
import { type EventStore, foldCommits } from '@lightdom/eventstore';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { CampaignView } from '../readModel/campaignQueries.js';
import { actorOf } from './context.js';
import { intParam, pathId, positionParam } from './params.js';
import { parseQuery } from './query.js';

export interface HistoryRoutesDeps {
  store: EventStore;
  tokens: Map<string, string>;
}

const eventsQuery = z.object({
  after: positionParam.default('0'),
  limit: intParam(1, 1000).default('100'),
  aggregateType: z
    .string()
    .regex(/^[A-Za-z]+$/, 'must be an aggregate type such as campaign')
    .optional(),
  type: z.string().max(100).optional(),
});

/** `asOf` is a position (digits) or an ISO-8601 time. */
const asOfSchema = z.object({
  asOf: z
    .string()
    .max(64)
    .refine(
      (v) => (/^\d+$/.test(v) ? positionParam.safeParse(v).success : !Number.isNaN(Date.parse(v))),
      'must be a position or an ISO-8601 time',
    )
    .optional(),
});

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
  const auth = (req: FastifyRequest) => actorOf(req, deps.tokens);

  app.get('/api/events', async (req) => {
    auth(req);
    const q = parseQuery(eventsQuery, req.query);
    const commits = await deps.store.readAll({
      after: q.after,
      limit: q.limit,
      ...(q.aggregateType ? { aggregateType: q.aggregateType } : {}),
    });
    const events = commits.flatMap(toRecordedEvents).filter((e) => !q.type || e.type === q.type);
    const last = commits.at(-1);
    return {
      events,
      // Paging is by commit: continue from here even if a type filter left this page short.
      nextAfter: last ? last.position : q.after,
      hasMore: commits.length === q.limit,
    };
  });

  app.get<{ Params: { id: string } }>('/api/campaigns/:id/events', async (req) => {
    auth(req);
    const id = pathId(req.params.id);
    const q = parseQuery(z.object({ after: positionParam.default('0') }), req.query);
    const commits = await deps.store.readAggregate('campaign', id, { after: q.after });
    if (commits.length === 0 && q.after === 0) throw new LightdomError('NOT_FOUND', `No campaign ${id}`);
    return { id, events: commits.flatMap(toRecordedEvents) };
  });
}

/** `GET /api/campaigns/:id?asOf=…`: the state folded from the log up to a position or time. */
export async function campaignAsOf(store: EventStore, id: string, asOfRaw: string): Promise<CampaignView> {
  const parsed = parseQuery(asOfSchema, { asOf: asOfRaw });
  const asOf = parsed.asOf as string;
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
