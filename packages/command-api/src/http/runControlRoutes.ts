import type { Application } from '@lightdom/app';
import { type CommandResult, commandCatalog } from '@lightdom/domain';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { credentialsOf, idempotencyKeyOf, requestContext } from './context.js';
import { routeDoc } from './openapi.js';
import { pathId } from './params.js';
import { parseQuery } from './query.js';
import { freeBody, parseBody } from './schemas.js';

export interface RunControlRoutesDeps {
  app: Application;
}

const noQuery = z.object({});
const dataSchema = (type: string) => {
  const spec = commandCatalog[type];
  if (!spec) throw new Error(`${type} is not in the command catalogue`);
  return spec.schema;
};

/** A route that sends one command about the aggregate in its path, its body as the data. */
interface ControlRoute {
  path: string;
  method: 'post' | 'delete';
  type: string;
  summary: string;
  tags: string[];
  /** The path parameter naming the aggregate; `stepId` goes into the data. */
  params: string[];
  /** A create command: no id in the path, 201. */
  create?: boolean;
}

const routes: ControlRoute[] = [
  {
    path: '/api/runs/:id/pause',
    method: 'post',
    type: 'PauseWorkflowRun',
    summary: 'Pause a run (PauseWorkflowRun): no new step starts; running steps finish',
    tags: ['workflows'],
    params: ['id'],
  },
  {
    path: '/api/runs/:id/resume',
    method: 'post',
    type: 'ResumeWorkflowRun',
    summary: 'Resume a paused run (ResumeWorkflowRun)',
    tags: ['workflows'],
    params: ['id'],
  },
  {
    path: '/api/runs/:id/steps/:stepId/retry',
    method: 'post',
    type: 'RetryWorkflowStep',
    summary: 'Retry the failed step of a failed run by hand (RetryWorkflowStep): its next attempt starts',
    tags: ['workflows'],
    params: ['id', 'stepId'],
  },
  {
    path: '/api/schedules',
    method: 'post',
    type: 'CreateSchedule',
    summary: 'Start runs of a workflow on a cron schedule in a time zone, or once at a time (CreateSchedule)',
    tags: ['schedules'],
    params: [],
    create: true,
  },
  {
    path: '/api/schedules/:id/pause',
    method: 'post',
    type: 'PauseSchedule',
    summary: 'Pause a schedule (PauseSchedule): slots that fall due while paused do not fire',
    tags: ['schedules'],
    params: ['id'],
  },
  {
    path: '/api/schedules/:id/resume',
    method: 'post',
    type: 'ResumeSchedule',
    summary: 'Resume a schedule (ResumeSchedule): the next slot after now fires',
    tags: ['schedules'],
    params: ['id'],
  },
  {
    path: '/api/schedules/:id',
    method: 'delete',
    type: 'DeleteSchedule',
    summary: 'Delete a schedule (DeleteSchedule); its history stays in the log',
    tags: ['schedules'],
    params: ['id'],
  },
];

/**
 * Run control and schedules over REST. Each route builds the command envelope from the
 * path and the body and submits it to the core, which authenticates, applies the roles
 * (public commands: operators and admins) and records it.
 */
export function registerRunControlRoutes(app: FastifyInstance, deps: RunControlRoutesDeps) {
  async function submit(req: FastifyRequest, envelope: Record<string, unknown>): Promise<CommandResult> {
    const identity = deps.app.authenticate(credentialsOf(req));
    return deps.app.submit(identity, envelope, requestContext(req));
  }

  for (const route of routes) {
    const schema = dataSchema(route.type);
    const body = route.params.includes('stepId') ? z.object({}).strict() : schema;
    app[route.method]<{ Params: Record<string, string> }>(
      route.path,
      routeDoc({
        tags: route.tags,
        summary: route.summary,
        ...(route.params.length > 0 ? { params: route.params } : {}),
        body,
        command: true,
      }),
      async (req, reply) => {
        parseQuery(noQuery, req.query);
        const data: Record<string, unknown> = parseBody(freeBody, req.body ?? {});
        if (route.params.includes('stepId')) {
          parseBody(body, data);
          data.stepId = pathId(req.params.stepId ?? '', 'stepId');
        }
        const key = idempotencyKeyOf(req);
        const result = await submit(req, {
          type: route.type,
          data,
          ...(route.create ? {} : { aggregateId: pathId(req.params.id ?? '') }),
          ...(key ? { idempotencyKey: key } : {}),
        });
        return reply.code(route.create && !result.duplicate ? 201 : 200).send(result);
      },
    );
  }
}
