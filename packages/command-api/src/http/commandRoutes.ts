import type { CommandHandler, CommandResult } from '@lightdom/events';
import { LightdomError } from '@lightdom/events';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { actorOf, commandMetadata, idempotencyKeyOf, versionFromIfMatch } from './context.js';

export interface CommandRoutesDeps {
  commands: CommandHandler;
  tokens: Map<string, string>;
  onCommand?: (type: string, outcome: string) => void;
}

/** Resource routes are thin: each builds the same envelope that `POST /api/commands` takes. */
const lifecycleRoutes: Record<string, string> = {
  schedule: 'ScheduleCampaign',
  launch: 'LaunchCampaign',
  pause: 'PauseCampaign',
  resume: 'ResumeCampaign',
  complete: 'CompleteCampaign',
  archive: 'ArchiveCampaign',
  metrics: 'RecordCampaignMetrics',
};

const bodyObject = (req: FastifyRequest): Record<string, unknown> => {
  if (req.body === undefined || req.body === null) return {};
  if (typeof req.body !== 'object' || Array.isArray(req.body)) {
    throw new LightdomError('VALIDATION_FAILED', 'The body must be a JSON object', {
      issues: [{ field: '(body)', message: 'must be a JSON object' }],
    });
  }
  return req.body as Record<string, unknown>;
};

export function registerCommandRoutes(app: FastifyInstance, deps: CommandRoutesDeps) {
  async function submit(req: FastifyRequest, envelope: Record<string, unknown>): Promise<CommandResult> {
    const actor = actorOf(req, deps.tokens);
    const type = typeof envelope.type === 'string' ? envelope.type : 'unknown';
    try {
      const result = await deps.commands.handle(envelope, commandMetadata(req, actor));
      deps.onCommand?.(type, result.duplicate ? 'duplicate' : 'accepted');
      return result;
    } catch (err) {
      deps.onCommand?.(type, err instanceof LightdomError ? err.code : 'INTERNAL');
      throw err;
    }
  }

  const envelopeFor = (req: FastifyRequest, type: string, aggregateId: string | undefined, data: unknown) => {
    const q = req.query as { expectedVersion?: string };
    const expectedVersion =
      versionFromIfMatch(req) ?? (q.expectedVersion !== undefined ? Number(q.expectedVersion) : undefined);
    const key = idempotencyKeyOf(req);
    return {
      type,
      data,
      ...(aggregateId !== undefined ? { aggregateId } : {}),
      ...(expectedVersion !== undefined ? { expectedVersion } : {}),
      ...(key ? { idempotencyKey: key } : {}),
    };
  };

  app.post('/api/commands', async (req, reply) => {
    const body = bodyObject(req);
    const key = idempotencyKeyOf(req);
    const result = await submit(
      req,
      key && body.idempotencyKey === undefined ? { ...body, idempotencyKey: key } : body,
    );
    return reply.code(result.duplicate ? 200 : 201).send(result);
  });

  app.post('/api/campaigns', async (req, reply) => {
    const result = await submit(req, envelopeFor(req, 'CreateCampaign', undefined, bodyObject(req)));
    reply.header('location', `/api/campaigns/${result.id}`).header('etag', `"${result.version}"`);
    return reply.code(result.duplicate ? 200 : 201).send(result);
  });

  app.patch<{ Params: { id: string } }>('/api/campaigns/:id', async (req, reply) => {
    const result = await submit(req, envelopeFor(req, 'UpdateCampaign', req.params.id, bodyObject(req)));
    return reply.header('etag', `"${result.version}"`).send(result);
  });

  app.post<{ Params: { id: string; action: string } }>('/api/campaigns/:id/:action', async (req, reply) => {
    const type = lifecycleRoutes[req.params.action];
    if (!type) throw new LightdomError('NOT_FOUND', `No action ${req.params.action} on campaigns`);
    const result = await submit(req, envelopeFor(req, type, req.params.id, bodyObject(req)));
    return reply.header('etag', `"${result.version}"`).send(result);
  });
}
