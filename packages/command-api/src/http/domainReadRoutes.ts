import { aggregateIdSchema, LightdomError } from '@lightdom/domain';
import type { ReadModelQueries } from '@lightdom/readmodel';
import { decodeCursor } from '@lightdom/readmodel';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { PositionWaiter } from '../readModel/positionWaiter.js';
import { actorOf } from './context.js';
import { cursorParam, intParam, pathId } from './params.js';
import { parseQuery } from './query.js';
import { awaitPosition, consistency } from './readRoutes.js';

export interface DomainReadRoutesDeps {
  reads: ReadModelQueries;
  positions: PositionWaiter;
  tokens: Map<string, string>;
  /** Longest wait for `minPosition`, in ms. */
  maxWaitMs: number;
}

/** Refuses parameters the route does not know, naming each, then validates the rest. */
function parseKnown<T extends z.AnyZodObject>(schema: T, query: unknown): z.infer<T> {
  const known = new Set(Object.keys(schema.shape));
  const unknown = Object.keys((query as Record<string, unknown>) ?? {}).filter((k) => !known.has(k));
  if (unknown.length > 0) {
    throw new LightdomError('VALIDATION_FAILED', `Unknown query parameters: ${unknown.slice(0, 10).join(', ')}`, {
      issues: unknown
        .slice(0, 10)
        .map((field) => ({ field: field.slice(0, 100), message: 'is not a parameter of this route' })),
    });
  }
  return parseQuery(schema, query);
}

const page = { limit: intParam(1, 500).default('50'), cursor: cursorParam.optional() };
const workflowsQuery = consistency.extend({ status: z.enum(['active', 'deprecated']).optional(), ...page });
const runsQuery = consistency.extend({
  workflowId: aggregateIdSchema.optional(),
  status: z.enum(['requested', 'started', 'succeeded', 'failed', 'cancelled']).optional(),
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

/**
 * Reads of workflows, runs with their steps, AI tasks, campaign metrics over time and the
 * dashboard's stats, with the same read-your-writes (`minPosition`, `waitMs`,
 * `allowStale`) and cursor paging as `/api/campaigns`.
 */
export function registerDomainReadRoutes(app: FastifyInstance, deps: DomainReadRoutesDeps) {
  const auth = (req: FastifyRequest) => actorOf(req, deps.tokens);
  const one = async <T extends { position: number }>(
    req: FastifyRequest,
    reply: FastifyReply,
    what: string,
    read: (id: string) => Promise<T | null>,
  ) => {
    auth(req);
    const id = pathId((req.params as { id: string }).id);
    const q = parseKnown(consistency, req.query);
    const { stale, position } = await awaitPosition(deps, q, reply);
    const found = await read(id);
    if (!found) throw new LightdomError('NOT_FOUND', `No ${what} ${id}`);
    return { ...found, ...(stale ? { stale } : {}), readModelPosition: position };
  };
  const optional = <T extends Record<string, unknown>>(o: T) =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as {
      [K in keyof T]: Exclude<T[K], undefined>;
    };

  app.get('/api/workflows', async (req, reply) => {
    auth(req);
    const q = parseKnown(workflowsQuery, req.query);
    const info = await awaitPosition(deps, q, reply);
    const p = await deps.reads.workflows.list(optional({ limit: q.limit, status: q.status, cursor: q.cursor }));
    return { ...p, ...info };
  });
  app.get('/api/workflows/:id', (req, reply) => one(req, reply, 'workflow', (id) => deps.reads.workflows.get(id)));

  app.get('/api/runs', async (req, reply) => {
    auth(req);
    const q = parseKnown(runsQuery, req.query);
    const info = await awaitPosition(deps, q, reply);
    const p = await deps.reads.runs.list(
      optional({ limit: q.limit, workflowId: q.workflowId, status: q.status, cursor: q.cursor }),
    );
    return { ...p, ...info };
  });
  app.get('/api/runs/:id', (req, reply) => one(req, reply, 'workflow run', (id) => deps.reads.runs.get(id)));

  app.get('/api/ai-tasks', async (req, reply) => {
    auth(req);
    const q = parseKnown(aiTasksQuery, req.query);
    const info = await awaitPosition(deps, q, reply);
    const p = await deps.reads.aiTasks.list(
      optional({ limit: q.limit, status: q.status, model: q.model, cursor: q.cursor }),
    );
    return { ...p, ...info };
  });
  app.get('/api/ai-tasks/:id', (req, reply) => one(req, reply, 'AI task', (id) => deps.reads.aiTasks.get(id)));

  app.get<{ Params: { id: string } }>('/api/campaigns/:id/metrics', async (req, reply) => {
    auth(req);
    const campaignId = pathId(req.params.id);
    const q = parseKnown(metricsQuery, req.query);
    const info = await awaitPosition(deps, q, reply);
    const p = await deps.reads.metrics.series(
      optional({ campaignId, bucket: q.bucket, from: q.from, to: q.to, limit: q.limit, cursor: q.cursor }),
    );
    return { campaignId, bucket: q.bucket, ...p, ...info };
  });

  app.get('/api/stats', async (req, reply) => {
    auth(req);
    const q = parseKnown(consistency, req.query);
    const info = await awaitPosition(deps, q, reply);
    return { ...(await deps.reads.stats.read(q.minPosition ?? 0)), ...info };
  });
}
