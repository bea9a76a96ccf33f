import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, FastifySchema, RouteShorthandOptions } from 'fastify';
import type { z } from 'zod';
import { zodToJsonSchema } from 'zod-to-json-schema';
import { asyncApiDocument } from './asyncapi.js';
import { problemPage, problemSlugs } from './problemPages.js';

/** A zod schema as the JSON Schema (2020-12 compatible, no `$ref`s) the OpenAPI document holds. */
export function jsonSchemaOf(schema: z.ZodTypeAny): Record<string, unknown> {
  const { $schema: _, ...json } = zodToJsonSchema(schema, { target: 'jsonSchema7', $refStrategy: 'none' }) as Record<
    string,
    unknown
  >;
  return json;
}

const commandResultSchema = {
  type: 'object',
  description: 'What every protocol answers for an accepted command',
  required: ['id', 'version', 'position', 'duplicate', 'commitId', 'events'],
  properties: {
    id: { type: 'string', description: 'The aggregate id' },
    version: { type: 'integer', description: "The aggregate's version after the command" },
    position: { type: 'integer', description: 'The log position of the commit (use as minPosition)' },
    duplicate: { type: 'boolean', description: 'True: the remembered answer of an earlier identical command' },
    commitId: { type: 'string' },
    events: { type: 'array', items: { type: 'string' }, description: 'The types of the events recorded' },
  },
};

/** RFC 9457 problem details, as every error answer carries them. */
export const problemSchema = {
  type: 'object',
  required: ['type', 'title', 'status', 'detail', 'code', 'retryable'],
  properties: {
    type: { type: 'string', description: "A URI reference to this API's page on the code: `/problems/<code>`" },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    code: { type: 'string', description: 'The LightDom error code (VALIDATION_FAILED, FORBIDDEN, …)' },
    retryable: { type: 'boolean' },
    instance: { type: 'string', description: 'urn:lightdom:request:<request id>' },
    errors: {
      type: 'array',
      description: 'One entry per bad field or parameter',
      items: {
        type: 'object',
        required: ['field', 'message'],
        properties: { field: { type: 'string' }, message: { type: 'string' } },
      },
    },
    details: { type: 'object', additionalProperties: true },
  },
};

const problemResponse = {
  description: 'An error, as problem+json (401 no or wrong token, 403 too little right, 400 a bad field, …)',
  content: { 'application/problem+json': { schema: problemSchema } },
};

export interface RouteDoc {
  tags: string[];
  summary: string;
  description?: string;
  /** Path parameters (each an id: 1-100 characters of A-Z a-z 0-9 _ -). */
  params?: string[];
  query?: z.AnyZodObject;
  body?: z.ZodTypeAny;
  /** A command route: answers the command result (201 new, 200 duplicate). */
  command?: boolean;
  /** The answer's schema (200), for reads. */
  response?: Record<string, unknown>;
  /** Open to everyone (no bearer token). */
  open?: boolean;
}

/**
 * A route's OpenAPI description, from the same zod schemas the route validates with. The
 * route options carry it as `schema`; fastify neither validates nor serialises with it
 * (see buildApp), so it documents and never changes behaviour.
 */
export function routeDoc(doc: RouteDoc): RouteShorthandOptions {
  const schema: FastifySchema = {
    tags: doc.tags,
    summary: doc.summary,
    ...(doc.description ? { description: doc.description } : {}),
    ...(doc.open ? { security: [] } : {}),
    ...(doc.params
      ? {
          params: {
            type: 'object',
            required: doc.params,
            properties: Object.fromEntries(doc.params.map((p) => [p, { type: 'string', maxLength: 100 }])),
          },
        }
      : {}),
    ...(doc.query ? { querystring: jsonSchemaOf(doc.query) } : {}),
    ...(doc.body ? { body: jsonSchemaOf(doc.body) } : {}),
    response: {
      ...(doc.command
        ? {
            200: { ...commandResultSchema, description: 'Accepted (or the duplicate of an earlier identical command)' },
            201: { ...commandResultSchema, description: 'Accepted: the commit was appended' },
          }
        : {}),
      ...(doc.response ? { 200: { description: 'OK', ...doc.response } } : {}),
      default: problemResponse,
    },
  };
  return { schema };
}

/** Routes registered without a schema (the ops routes of every service, the WebSocket): described here. */
const undocumented: Record<string, FastifySchema> = {
  '/health': { tags: ['ops'], summary: 'Liveness: the process answers', security: [] },
  '/ready': {
    tags: ['ops'],
    summary: 'Readiness: every dependency answers (details only with a token)',
    security: [],
  },
  '/metrics': { tags: ['ops'], summary: 'Prometheus metrics (text format)', security: [] },
};

/**
 * `/openapi.json` (OpenAPI 3.1, generated from the routes' schemas), `/docs` (Swagger UI,
 * served from node_modules), `/asyncapi.json` (events and channels) and `/problems/:code`
 * (the page each problem's `type` names). Register before any route: the generator sees
 * only routes added after it.
 */
export function registerApiDocs(app: FastifyInstance): void {
  app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'LightDom command API',
        version: '0.1.0',
        description:
          'Commands, reads, history and live events of LightDom. Every route except the ops and documentation routes needs `Authorization: Bearer <token>`; roles: reader, operator, service, admin (docs/api.md).',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
      tags: [
        { name: 'commands' },
        { name: 'campaigns' },
        { name: 'workflows' },
        { name: 'ai-tasks' },
        { name: 'history' },
        { name: 'live' },
        { name: 'ops' },
        { name: 'docs' },
      ],
    },
    transform: ({ schema, url, route }) => {
      // @fastify/websocket hides its routes from the generator; /ws is part of the contract.
      if ((route as { websocket?: boolean }).websocket) return { schema: { ...schema, hide: false }, url };
      const extra = Object.hasOwn(undocumented, url) ? undocumented[url] : undefined;
      return { schema: extra ? { ...extra, ...schema } : schema, url };
    },
  });
  app.register(swaggerUi, { routePrefix: '/docs' });
  app.register(async (docs) => {
    docs.get(
      '/openapi.json',
      routeDoc({ tags: ['docs'], summary: 'This OpenAPI 3.1 document', open: true, response: { type: 'object' } }),
      async () => docs.swagger(),
    );
    docs.get(
      '/asyncapi.json',
      routeDoc({
        tags: ['docs'],
        summary: 'The AsyncAPI 3 document: the event catalogue and the WebSocket, AMQP and Redis channels',
        open: true,
        response: { type: 'object' },
      }),
      async () => asyncApiDocument(),
    );
    docs.get<{ Params: { code: string } }>(
      '/problems/:code',
      routeDoc({
        tags: ['docs'],
        summary: `The page of a problem type: ${problemSlugs.join(', ')}`,
        params: ['code'],
        open: true,
        response: { type: 'string', description: 'text/html' },
      }),
      async (req, reply) => reply.type('text/html; charset=utf-8').send(problemPage(req.params.code)),
    );
  });
}
