import type { CommandResult } from '@lightdom/domain';
import { LightdomError } from '@lightdom/domain';
import type { CommandHandler } from '@lightdom/eventstore';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { actorOf, commandMetadata, idempotencyKeyOf, versionFromIfMatch } from './context.js';
import { pathId, positionParam } from './params.js';
import { parseQuery } from './query.js';

/** `?expectedVersion=`: the same digits-only, safe-integer rule as a position. */
const versionQuery = z.object({ expectedVersion: positionParam.optional() }).passthrough();

export interface CommandRoutesDeps {
  commands: CommandHandler;
  tokens: Map<string, string>;
  /** Called once per command with its type as sent (the caller bounds it) and its outcome. */
  onCommand?: (type: unknown, outcome: string) => void;
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
    const type = envelope.type;
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
    const expectedVersion = versionFromIfMatch(req) ?? parseQuery(versionQuery, req.query).expectedVersion;
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
    const result = await submit(req, envelopeFor(req, 'UpdateCampaign', pathId(req.params.id), bodyObject(req)));
    return reply.header('etag', `"${result.version}"`).send(result);
  });

  app.post<{ Params: { id: string; action: string } }>('/api/campaigns/:id/:action', async (req, reply) => {
    const { action } = req.params;
    // Own properties only: `constructor` is not an action.
    const type = Object.hasOwn(lifecycleRoutes, action) ? lifecycleRoutes[action] : undefined;
    if (!type) throw new LightdomError('NOT_FOUND', `No such action on campaigns`);
    const result = await submit(req, envelopeFor(req, type, pathId(req.params.id), bodyObject(req)));
    return reply.header('etag', `"${result.version}"`).send(result);
  });
}
