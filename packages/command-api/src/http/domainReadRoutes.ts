import { type Application, nextSlot, type ScheduleTiming } from '@lightdom/app';
import { aggregateIdSchema, LightdomError } from '@lightdom/domain';
import type { ReadModelQueries } from '@lightdom/readmodel';
import { decodeCursor } from '@lightdom/readmodel';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { credentialsOf } from './context.js';
import { routeDoc } from './openapi.js';
import { cursorParam, intParam, pathId } from './params.js';
import { parseQuery } from './query.js';
import { consistencyQuery as consistency, consistencyOf, positionHeaders } from './readRoutes.js';

const page = { limit: intParam(1, 500).default('50'), cursor: cursorParam.optional() };
const workflowsQuery = consistency.extend({ status: z.enum(['active', 'deprecated']).optional(), ...page });
const runsQuery = consistency.extend({
  workflowId: aggregateIdSchema.optional(),
  status: z.enum(['requested', 'started', 'paused', 'succeeded', 'failed', 'cancelled']).optional(),
  parentRunId: aggregateIdSchema.optional(),
  ...page,
});
// Schedules (issue 14 part B).
const schedulesQuery = consistency.extend({
  workflowId: aggregateIdSchema.optional(),
  status: z.enum(['active', 'paused', 'completed', 'deleted']).optional(),
  ...page,
});
const aiTasksQuery = consistency.extend({
  status: z.enum(['requested', 'started', 'completed', 'failed', 'cancelled']).optional(),
  model: z
    .string()
    .min(1)
    .max(200)
    .regex(/^[A-Za-z0-9._:/@+-]+$/, 'must be a model name, e.g. llama3.2:1b')
    .optional(),
  ...page,
});
const isoTime = z.string().datetime({ offset: true, message: 'must be an ISO-8601 time, e.g. 2026-12-01T00:00:00Z' });
const metricsQuery = consistency.extend({
  bucket: z.enum(['hour', 'day']).default('hour'),
  from: isoTime.optional(),
  to: isoTime.optional(),
  limit: intParam(1, 2000).default('168'),
  cursor: z
    .string()
    .refine(
      (c) => c.length <= 100 && /^[A-Za-z0-9_-]+$/.test(c) && isoTime.safeParse(decodeCursor(c)).success,
      'must be a cursor from nextCursor',
    )
    .optional(),
});

/** A schedule with `nextSlot`: when it fires next (null when it will not), worked out as the executor does. */
const withNextSlot = <T extends ScheduleTiming>(s: T, now = new Date()) => ({ ...s, nextSlot: nextSlot(s, now) });

export interface DomainReadRoutesDeps {
  app: Application;
  reads: ReadModelQueries;
}

const listResponse = { type: 'object', required: ['items', 'nextCursor', 'stale', 'position'] };
const itemResponse = (required: string[]) => ({
  type: 'object',
  required: [...required, 'position', 'readModelPosition'],
});

/**
 * Reads of workflows, runs with their steps, AI tasks, campaign metrics over time and the
 * dashboard's stats, through the application core, with the same read-your-writes
 * (`minPosition`, `waitMs`, `allowStale`) and cursor paging as `/api/campaigns`.
 */
export function registerDomainReadRoutes(app: FastifyInstance, deps: DomainReadRoutesDeps) {
  const core = deps.app;
  const read = async <T>(
    req: FastifyRequest,
    reply: FastifyReply,
    q: z.infer<typeof consistency>,
    query: () => Promise<T>,
  ) => {
    const identity = core.authenticate(credentialsOf(req));
    const r = await core.read(identity, consistencyOf(q), query);
    positionHeaders(reply, r, q.minPosition !== undefined);
    return r;
  };
  const one = async <T extends { position: number }>(
    req: FastifyRequest,
    reply: FastifyReply,
    what: string,
    get: (id: string) => Promise<T | null>,
  ) => {
    const id = pathId((req.params as { id: string }).id);
    const q = parseQuery(consistency, req.query);
    const r = await read(req, reply, q, () => get(id));
    if (!r.value) throw new LightdomError('NOT_FOUND', `No ${what} ${id}`);
    return { ...r.value, ...(r.stale ? { stale: true } : {}), readModelPosition: r.position };
  };
  const optional = <T extends Record<string, unknown>>(o: T) =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as {
      [K in keyof T]: Exclude<T[K], undefined>;
    };
  const list = <T extends object>(r: { value: T; stale: boolean; position: number }) => ({
    ...r.value,
    stale: r.stale,
    position: r.position,
  });

  app.get(
    '/api/workflows',
    routeDoc({
      tags: ['workflows'],
      summary: 'Workflow definitions (latest version of each), paged',
      query: workflowsQuery,
      response: listResponse,
    }),
    async (req, reply) => {
      const q = parseQuery(workflowsQuery, req.query);
      return list(
        await read(req, reply, q, () =>
          deps.reads.workflows.list(optional({ limit: q.limit, status: q.status, cursor: q.cursor })),
        ),
      );
    },
  );
  app.get(
    '/api/workflows/:id',
    routeDoc({
      tags: ['workflows'],
      summary: 'One workflow with every version of its definition',
      params: ['id'],
      query: consistency,
      response: itemResponse(['workflowId']),
    }),
    (req, reply) => one(req, reply, 'workflow', (id) => deps.reads.workflows.get(id)),
  );

  app.get(
    '/api/runs',
    routeDoc({
      tags: ['runs'],
      summary: 'Workflow runs, by workflow, status and parent run, paged',
      query: runsQuery,
      response: listResponse,
    }),
    async (req, reply) => {
      const q = parseQuery(runsQuery, req.query);
      return list(
        await read(req, reply, q, () =>
          deps.reads.runs.list(
            optional({
              limit: q.limit,
              workflowId: q.workflowId,
              status: q.status,
              parentRunId: q.parentRunId,
              cursor: q.cursor,
            }),
          ),
        ),
      );
    },
  );
  app.get(
    '/api/runs/:id',
    routeDoc({
      tags: ['runs'],
      summary: 'One run with its steps (state, attempt, times, error, output summary)',
      params: ['id'],
      query: consistency,
      response: itemResponse(['runId', 'steps']),
    }),
    (req, reply) => one(req, reply, 'workflow run', (id) => deps.reads.runs.get(id)),
  );

  // --- schedules (issue 14 part B) ---
  app.get(
    '/api/schedules',
    routeDoc({
      tags: ['schedules'],
      summary: 'Schedules, by workflow and status, paged',
      query: schedulesQuery,
      response: listResponse,
    }),
    async (req, reply) => {
      const q = parseQuery(schedulesQuery, req.query);
      const r = list(
        await read(req, reply, q, () =>
          deps.reads.schedules.list(
            optional({ limit: q.limit, workflowId: q.workflowId, status: q.status, cursor: q.cursor }),
          ),
        ),
      );
      const now = new Date();
      return { ...r, items: r.items.map((s) => withNextSlot(s, now)) };
    },
  );
  app.get(
    '/api/schedules/:id',
    routeDoc({
      tags: ['schedules'],
      summary: 'One schedule: what it runs, when, its status, its last fired slot and the next (nextSlot)',
      params: ['id'],
      query: consistency,
      response: itemResponse(['scheduleId']),
    }),
    async (req, reply) => withNextSlot(await one(req, reply, 'schedule', (id) => deps.reads.schedules.get(id))),
  );
  // --- end schedules ---

  app.get(
    '/api/ai-tasks',
    routeDoc({
      tags: ['ai-tasks'],
      summary: 'AI tasks, by status and model, paged',
      query: aiTasksQuery,
      response: listResponse,
    }),
    async (req, reply) => {
      const q = parseQuery(aiTasksQuery, req.query);
      return list(
        await read(req, reply, q, () =>
          deps.reads.aiTasks.list(optional({ limit: q.limit, status: q.status, model: q.model, cursor: q.cursor })),
        ),
      );
    },
  );
  app.get(
    '/api/ai-tasks/:id',
    routeDoc({
      tags: ['ai-tasks'],
      summary: 'One AI task: output, reasoning kept apart, tokens, timings, attempts',
      params: ['id'],
      query: consistency,
      response: itemResponse(['taskId']),
    }),
    (req, reply) => one(req, reply, 'AI task', (id) => deps.reads.aiTasks.get(id)),
  );

  app.get<{ Params: { id: string } }>(
    '/api/campaigns/:id/metrics',
    routeDoc({
      tags: ['campaigns'],
      summary: "A campaign's metrics over time in hour or day buckets",
      params: ['id'],
      query: metricsQuery,
      response: { type: 'object', required: ['campaignId', 'bucket', 'items'] },
    }),
    async (req, reply) => {
      const campaignId = pathId(req.params.id);
      const q = parseQuery(metricsQuery, req.query);
      const r = await read(req, reply, q, () =>
        deps.reads.metrics.series(
          optional({ campaignId, bucket: q.bucket, from: q.from, to: q.to, limit: q.limit, cursor: q.cursor }),
        ),
      );
      return { campaignId, bucket: q.bucket, ...list(r) };
    },
  );

  app.get(
    '/api/stats',
    routeDoc({
      tags: ['stats'],
      summary:
        'Campaigns by status, budget and spend, top campaigns by spend, runs and AI tasks by status (Redis, else Postgres)',
      query: consistency,
      response: { type: 'object', required: ['campaigns', 'stale', 'position'] },
    }),
    async (req, reply) => {
      const q = parseQuery(consistency, req.query);
      const r = await read(req, reply, q, () => deps.reads.stats.read(q.minPosition ?? 0));
      return list(r);
    },
  );
}
