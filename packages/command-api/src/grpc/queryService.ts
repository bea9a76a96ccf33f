import type { Application, Consistency } from '@lightdom/app';
import { aggregateIdSchema, LightdomError } from '@lightdom/domain';
import type { ReadModelQueries } from '@lightdom/readmodel';
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
import { toAiTaskMessage, toRunMessage, toWorkflowMessage } from './readModelMessages.js';

export interface QueryServiceDeps {
  campaigns: CampaignQueries;
  app: Pick<Application, 'read'>;
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

/** The read-your-writes wait of a request, as the core takes it. */
const consistencyOf = (q: { minPosition?: number | undefined; allowStale: boolean }, waitMs: number): Consistency => ({
  ...(q.minPosition !== undefined ? { minPosition: q.minPosition } : {}),
  waitMs,
  allowStale: q.allowStale,
});

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
  status: z.enum(['', 'requested', 'started', 'paused', 'succeeded', 'failed', 'cancelled']),
  parentRunId: z.union([z.literal(''), aggregateIdSchema]),
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

/**
 * `lightdom.v1.QueryService`: the same read-model queries as the HTTP reads, through the
 * core's `read`: with `minPosition` the read waits until the read models have applied that
 * position, at most `waitMs` (never past the call's deadline); on time-out STALE_READ, or
 * with `allowStale` the data there is, marked stale.
 */
export function createQueryService(deps: QueryServiceDeps) {
  /**
   * Runs `query` through the core's `read` (authorised; with `minPosition`, after waiting at
   * most `waitMs` for it): the value with the position it reflects and whether it is stale.
   */
  const readWith = async <T>(
    ctx: CallContext,
    q: { minPosition?: number | undefined; allowStale: boolean },
    waitMs: number,
    query: () => Promise<T>,
  ) => {
    const r = await deps.app.read(ctx.identity, consistencyOf(q, waitMs), query);
    return { value: r.value, info: { stale: r.stale, readModelPosition: r.position } };
  };
  const reads = (): ReadModelQueries => {
    if (!deps.reads) throw new LightdomError('UNAVAILABLE', 'This server has no read-model queries for that call');
    return deps.reads;
  };
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

    async getWorkflow(request: unknown, ctx: CallContext, waitMs: number) {
      const q = parseRequest(byIdRequest, request);
      const { value: w, info } = await readWith(ctx, q, waitMs, () => reads().workflows.get(q.id));
      if (!w) throw new LightdomError('NOT_FOUND', `No workflow ${q.id}`);
      return { workflow: toWorkflowMessage(w), ...info };
    },
    async listWorkflows(request: unknown, ctx: CallContext, waitMs: number) {
      const q = parseRequest(listWorkflowsRequest, request);
      const { value: p, info } = await readWith(ctx, q, waitMs, () =>
        reads().workflows.list(set({ limit: q.limit, status: q.status, cursor: q.cursor })),
      );
      return { items: p.items.map(toWorkflowMessage), nextCursor: p.nextCursor ?? '', ...info };
    },
    async getRun(request: unknown, ctx: CallContext, waitMs: number) {
      const q = parseRequest(byIdRequest, request);
      const { value: r, info } = await readWith(ctx, q, waitMs, () => reads().runs.get(q.id));
      if (!r) throw new LightdomError('NOT_FOUND', `No workflow run ${q.id}`);
      return { run: toRunMessage(r), ...info };
    },
    async listRuns(request: unknown, ctx: CallContext, waitMs: number) {
      const q = parseRequest(listRunsRequest, request);
      const { value: p, info } = await readWith(ctx, q, waitMs, () =>
        reads().runs.list(
          set({
            limit: q.limit,
            workflowId: q.workflowId,
            status: q.status,
            parentRunId: q.parentRunId,
            cursor: q.cursor,
          }),
        ),
      );
      return { items: p.items.map(toRunMessage), nextCursor: p.nextCursor ?? '', ...info };
    },
    async getAiTask(request: unknown, ctx: CallContext, waitMs: number) {
      const q = parseRequest(byIdRequest, request);
      const { value: t, info } = await readWith(ctx, q, waitMs, () => reads().aiTasks.get(q.id));
      if (!t) throw new LightdomError('NOT_FOUND', `No AI task ${q.id}`);
      return { task: toAiTaskMessage(t), ...info };
    },
    async listAiTasks(request: unknown, ctx: CallContext, waitMs: number) {
      const q = parseRequest(listAiTasksRequest, request);
      const { value: p, info } = await readWith(ctx, q, waitMs, () =>
        reads().aiTasks.list(set({ limit: q.limit, status: q.status, model: q.model, cursor: q.cursor })),
      );
      return { items: p.items.map(toAiTaskMessage), nextCursor: p.nextCursor ?? '', ...info };
    },
    async getCampaignMetrics(request: unknown, ctx: CallContext, waitMs: number) {
      const q = parseRequest(metricsRequest, request);
      const { value: p, info } = await readWith(ctx, q, waitMs, () =>
        reads().metrics.series(
          set({ campaignId: q.campaignId, bucket: q.bucket, from: q.from, to: q.to, limit: q.limit, cursor: q.cursor }),
        ),
      );
      return { campaignId: q.campaignId, bucket: q.bucket, points: p.items, nextCursor: p.nextCursor ?? '', ...info };
    },
    async getStats(request: unknown, ctx: CallContext, waitMs: number) {
      const q = parseRequest(statsRequest, request);
      const { value: st, info } = await readWith(ctx, q, waitMs, () => reads().stats.read(q.minPosition ?? 0));
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
