import { type Application, signalCommand, toCodedError } from '@lightdom/app';
import type { CommandResult } from '@lightdom/domain';
import { LightdomError } from '@lightdom/domain';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { credentialsOf, idempotencyKeyOf, requestContext, versionFromIfMatch } from './context.js';
import { routeDoc } from './openapi.js';
import { pathId, positionParam } from './params.js';
import { parseQuery } from './query.js';
import {
  aiTaskBody,
  cancelAiTaskBody,
  cancelRunBody,
  commandBody,
  defineWorkflowBody,
  freeBody,
  parseBody,
  signalRunBody,
  startRunBody,
} from './schemas.js';

/** `?expectedVersion=`: the same digits-only, safe-integer rule as a position. */
const versionQuery = z.object({ expectedVersion: positionParam.optional() });
const noQuery = z.object({});

export interface CommandRoutesDeps {
  app: Application;
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

const bodyObject = (req: FastifyRequest): Record<string, unknown> => parseBody(freeBody, req.body);

const status = (r: CommandResult) => (r.duplicate ? 200 : 201);

/**
 * The command routes: each authenticates through the core, builds a command envelope from
 * the path, the body and the headers, and submits it to the core. Nothing here decides who
 * may do what or whether a run matches its workflow.
 */
export function registerCommandRoutes(app: FastifyInstance, deps: CommandRoutesDeps) {
  async function submit(req: FastifyRequest, envelope: Record<string, unknown>): Promise<CommandResult> {
    const type = envelope.type;
    try {
      const identity = deps.app.authenticate(credentialsOf(req));
      const result = await deps.app.submit(identity, envelope, requestContext(req));
      deps.onCommand?.(type, result.duplicate ? 'duplicate' : 'accepted');
      return result;
    } catch (err) {
      deps.onCommand?.(type, toCodedError(err).code);
      throw err;
    }
  }

  const envelopeFor = (
    req: FastifyRequest,
    type: string,
    aggregateId: string | undefined,
    data: unknown,
    bodyKey?: string,
  ) => {
    const expectedVersion = versionFromIfMatch(req) ?? parseQuery(versionQuery, req.query).expectedVersion;
    const key = bodyKey ?? idempotencyKeyOf(req);
    return {
      type,
      data,
      ...(aggregateId !== undefined ? { aggregateId } : {}),
      ...(expectedVersion !== undefined ? { expectedVersion } : {}),
      ...(key ? { idempotencyKey: key } : {}),
    };
  };

  app.post(
    '/api/commands',
    routeDoc({
      tags: ['commands'],
      summary: 'Send any public command of the catalogue',
      description:
        'The envelope every protocol takes. A `RequestWorkflowRun` carries `{workflowId, definitionVersion?, input}`: the steps come from the definition.',
      body: commandBody,
      command: true,
    }),
    async (req, reply) => {
      parseQuery(noQuery, req.query);
      const body = bodyObject(req);
      const key = idempotencyKeyOf(req);
      const result = await submit(
        req,
        key && body.idempotencyKey === undefined ? { ...body, idempotencyKey: key } : body,
      );
      return reply.code(status(result)).send(result);
    },
  );

  app.post(
    '/api/campaigns',
    routeDoc({ tags: ['campaigns'], summary: 'Create a campaign (CreateCampaign)', body: freeBody, command: true }),
    async (req, reply) => {
      const result = await submit(req, envelopeFor(req, 'CreateCampaign', undefined, bodyObject(req)));
      reply.header('location', `/api/campaigns/${result.id}`).header('etag', `"${result.version}"`);
      return reply.code(status(result)).send(result);
    },
  );

  app.patch<{ Params: { id: string } }>(
    '/api/campaigns/:id',
    routeDoc({
      tags: ['campaigns'],
      summary: 'Update a campaign (UpdateCampaign); If-Match or ?expectedVersion= for optimistic concurrency',
      params: ['id'],
      query: versionQuery,
      body: freeBody,
      command: true,
    }),
    async (req, reply) => {
      const result = await submit(req, envelopeFor(req, 'UpdateCampaign', pathId(req.params.id), bodyObject(req)));
      return reply.header('etag', `"${result.version}"`).send(result);
    },
  );

  app.post<{ Params: { id: string; action: string } }>(
    '/api/campaigns/:id/:action',
    routeDoc({
      tags: ['campaigns'],
      summary: `A campaign's lifecycle: ${Object.keys(lifecycleRoutes).join(', ')}`,
      params: ['id', 'action'],
      query: versionQuery,
      body: freeBody,
      command: true,
    }),
    async (req, reply) => {
      const { action } = req.params;
      // Own properties only: `constructor` is not an action.
      const type = Object.hasOwn(lifecycleRoutes, action) ? lifecycleRoutes[action] : undefined;
      if (!type) throw new LightdomError('NOT_FOUND', `No such action on campaigns`);
      const result = await submit(req, envelopeFor(req, type, pathId(req.params.id), bodyObject(req)));
      return reply.header('etag', `"${result.version}"`).send(result);
    },
  );

  app.post(
    '/api/workflows',
    routeDoc({
      tags: ['workflows'],
      summary: 'Define a workflow (DefineWorkflow)',
      body: defineWorkflowBody,
      command: true,
    }),
    async (req, reply) => {
      parseQuery(noQuery, req.query);
      const result = await submit(req, envelopeFor(req, 'DefineWorkflow', undefined, bodyObject(req)));
      return reply.code(status(result)).send(result);
    },
  );

  app.post<{ Params: { id: string } }>(
    '/api/workflows/:id/runs',
    routeDoc({
      tags: ['workflows'],
      summary: "Start a run of a workflow (RequestWorkflowRun); the steps are the definition's",
      params: ['id'],
      body: startRunBody,
      command: true,
    }),
    async (req, reply) => {
      parseQuery(noQuery, req.query);
      const workflowId = pathId(req.params.id);
      const body = parseBody(startRunBody, req.body ?? {});
      const data = {
        workflowId,
        input: body.input,
        ...(body.definitionVersion !== undefined ? { definitionVersion: body.definitionVersion } : {}),
        ...(body.source !== undefined ? { source: body.source } : {}),
      };
      const result = await submit(req, envelopeFor(req, 'RequestWorkflowRun', undefined, data, body.idempotencyKey));
      return reply.code(status(result)).send(result);
    },
  );

  app.post<{ Params: { id: string } }>(
    '/api/runs/:id/cancel',
    routeDoc({
      tags: ['workflows'],
      summary: 'Cancel a workflow run (CancelWorkflowRun)',
      params: ['id'],
      body: cancelRunBody,
      command: true,
    }),
    async (req, reply) => {
      parseQuery(noQuery, req.query);
      const result = await submit(req, envelopeFor(req, 'CancelWorkflowRun', pathId(req.params.id), bodyObject(req)));
      return reply.send(result);
    },
  );

  app.post<{ Params: { id: string; name: string } }>(
    '/api/runs/:id/signals/:name',
    routeDoc({
      tags: ['workflows'],
      summary: 'Send a signal to a run (SignalWorkflowRun): its wait.signal step takes the payload as output',
      params: ['id', 'name'],
      body: signalRunBody,
      command: true,
    }),
    async (req, reply) => {
      parseQuery(noQuery, req.query);
      const body = parseBody(signalRunBody, req.body ?? {});
      // The name is checked by the command's schema in the core, naming data.name.
      const { data } = signalCommand(pathId(req.params.id), req.params.name, body.payload);
      const result = await submit(req, envelopeFor(req, 'SignalWorkflowRun', pathId(req.params.id), data));
      return reply.code(status(result)).send(result);
    },
  );

  app.post(
    '/api/ai-tasks',
    routeDoc({ tags: ['ai-tasks'], summary: 'Request an AI task (RequestAiTask)', body: aiTaskBody, command: true }),
    async (req, reply) => {
      parseQuery(noQuery, req.query);
      const result = await submit(req, envelopeFor(req, 'RequestAiTask', undefined, bodyObject(req)));
      return reply.code(status(result)).send(result);
    },
  );

  app.post<{ Params: { id: string } }>(
    '/api/ai-tasks/:id/cancel',
    routeDoc({
      tags: ['ai-tasks'],
      summary: 'Cancel an AI task (CancelAiTask)',
      params: ['id'],
      body: cancelAiTaskBody,
      command: true,
    }),
    async (req, reply) => {
      parseQuery(noQuery, req.query);
      const result = await submit(req, envelopeFor(req, 'CancelAiTask', pathId(req.params.id), bodyObject(req)));
      return reply.send(result);
    },
  );
}
