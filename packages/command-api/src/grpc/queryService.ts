import { aggregateIdSchema, LightdomError } from '@lightdom/domain';
import type { ReadModelQueries } from '@lightdom/readmodel';
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
import { toAiTaskMessage, toRunMessage, toWorkflowMessage } from './readModelMessages.js';

export interface QueryServiceDeps {
  campaigns: CampaignQueries;
  positions: PositionWaiter;
  /** Workflows, runs, AI tasks, metrics and stats; absent: those calls answer UNAVAILABLE. */
  reads?: ReadModelQueries;
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

const byIdRequest = z.object({ id: aggregateIdSchema, ...consistency });
const pageFields = {
  limit: z
    .number()
    .int()
    .min(0)
    .max(500)
    .transform((n) => n || 50),
  cursor: z.string().max(400),
};
const listWorkflowsRequest = z.object({ status: z.enum(['', 'active', 'deprecated']), ...pageFields, ...consistency });
const listRunsRequest = z.object({
  workflowId: z.union([z.literal(''), aggregateIdSchema]),
  status: z.enum(['', 'requested', 'started', 'succeeded', 'failed', 'cancelled']),
  ...pageFields,
  ...consistency,
});
const listAiTasksRequest = z.object({
  status: z.enum(['', 'requested', 'started', 'completed', 'failed', 'cancelled']),
  model: z.string().max(200),
  ...pageFields,
  ...consistency,
});
const isoOrEmpty = z.union([z.literal(''), z.string().datetime({ offset: true, message: 'must be an ISO-8601 time' })]);
const metricsRequest = z.object({
  campaignId: aggregateIdSchema,
  bucket: z.enum(['', 'hour', 'day']).transform((b) => b || 'hour'),
  from: isoOrEmpty,
  to: isoOrEmpty,
  limit: z
    .number()
    .int()
    .min(0)
    .max(2000)
    .transform((n) => n || 168),
  cursor: z.string().max(100),
  ...consistency,
});
const statsRequest = z.object({ ...consistency });

/** Keeps the fields that are set (proto3 sends '' for an unset string). */
const set = <T extends Record<string, unknown>>(o: T) =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== '' && v !== undefined)) as {
    [K in keyof T]: Exclude<T[K], undefined>;
  };

/** `lightdom.v1.QueryService`: the same read-model queries and position waiter as the HTTP reads. */
export function createQueryService(deps: QueryServiceDeps) {
  const reads = (): ReadModelQueries => {
    if (!deps.reads) throw new LightdomError('UNAVAILABLE', 'This server has no read-model queries for that call');
    return deps.reads;
  };
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

    async getWorkflow(request: unknown, waitMs: number) {
      const q = parseRequest(byIdRequest, request);
      const info = await awaitPosition(deps.positions, q, waitMs);
      const w = await reads().workflows.get(q.id);
      if (!w) throw new LightdomError('NOT_FOUND', `No workflow ${q.id}`);
      return { workflow: toWorkflowMessage(w), ...info };
    },
    async listWorkflows(request: unknown, waitMs: number) {
      const q = parseRequest(listWorkflowsRequest, request);
      const info = await awaitPosition(deps.positions, q, waitMs);
      const p = await reads().workflows.list(set({ limit: q.limit, status: q.status, cursor: q.cursor }));
      return { items: p.items.map(toWorkflowMessage), nextCursor: p.nextCursor ?? '', ...info };
    },
    async getRun(request: unknown, waitMs: number) {
      const q = parseRequest(byIdRequest, request);
      const info = await awaitPosition(deps.positions, q, waitMs);
      const r = await reads().runs.get(q.id);
      if (!r) throw new LightdomError('NOT_FOUND', `No workflow run ${q.id}`);
      return { run: toRunMessage(r), ...info };
    },
    async listRuns(request: unknown, waitMs: number) {
      const q = parseRequest(listRunsRequest, request);
      const info = await awaitPosition(deps.positions, q, waitMs);
      const p = await reads().runs.list(
        set({ limit: q.limit, workflowId: q.workflowId, status: q.status, cursor: q.cursor }),
      );
      return { items: p.items.map(toRunMessage), nextCursor: p.nextCursor ?? '', ...info };
    },
    async getAiTask(request: unknown, waitMs: number) {
      const q = parseRequest(byIdRequest, request);
      const info = await awaitPosition(deps.positions, q, waitMs);
      const t = await reads().aiTasks.get(q.id);
      if (!t) throw new LightdomError('NOT_FOUND', `No AI task ${q.id}`);
      return { task: toAiTaskMessage(t), ...info };
    },
    async listAiTasks(request: unknown, waitMs: number) {
      const q = parseRequest(listAiTasksRequest, request);
      const info = await awaitPosition(deps.positions, q, waitMs);
      const p = await reads().aiTasks.list(set({ limit: q.limit, status: q.status, model: q.model, cursor: q.cursor }));
      return { items: p.items.map(toAiTaskMessage), nextCursor: p.nextCursor ?? '', ...info };
    },
    async getCampaignMetrics(request: unknown, waitMs: number) {
      const q = parseRequest(metricsRequest, request);
      const info = await awaitPosition(deps.positions, q, waitMs);
      const p = await reads().metrics.series(
        set({ campaignId: q.campaignId, bucket: q.bucket, from: q.from, to: q.to, limit: q.limit, cursor: q.cursor }),
      );
      return { campaignId: q.campaignId, bucket: q.bucket, points: p.items, nextCursor: p.nextCursor ?? '', ...info };
    },
    async getStats(request: unknown, waitMs: number) {
      const q = parseRequest(statsRequest, request);
      const info = await awaitPosition(deps.positions, q, waitMs);
      const st = await reads().stats.read(q.minPosition ?? 0);
      return {
        campaignsByStatus: st.campaigns.byStatus,
        campaignTotals: st.campaigns.totals,
        topCampaignsBySpend: st.campaigns.topBySpend,
        runsByStatus: st.runs.byStatus,
        aiTasksByStatus: st.aiTasks.byStatus,
        source: st.source,
        ...info,
      };
    },
  };
}
