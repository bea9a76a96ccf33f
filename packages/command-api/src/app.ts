import { type Application, createApplication } from '@lightdom/app';
import { commandCatalog, ErrorCodes, LightdomError } from '@lightdom/domain';
import type { CommandHandler, EventStore } from '@lightdom/eventstore';
import type { ReadModelQueries } from '@lightdom/readmodel';
import {
  Fastify,
  type HttpBounds,
  httpBoundsFrom,
  httpServerOptions,
  knownLabel,
  type Logger,
  methodLabel,
  quietRequestLogs,
  type ReadinessCheck,
  redactUrl,
  registerOpsRoutes,
  type TokenRegistry,
} from '@lightdom/runtime';
import type { FastifyInstance } from 'fastify';
import { Counter, Histogram, type Registry } from 'prom-client';
import { commandApiDefaults, type LoadedCommandApiConfig } from './config.js';
import { createFeedHub } from './feed/hub.js';
import { feedHubDefaults } from './feed/options.js';
import type { FeedFilter, FeedHub, FeedStart, FeedSubscription } from './feed/types.js';
import { registerCommandRoutes } from './http/commandRoutes.js';
import { correlationIdOf, requestIdOf } from './http/context.js';
import { registerDomainReadRoutes } from './http/domainReadRoutes.js';
import { registerHistoryRoutes } from './http/historyRoutes.js';
import { liveFeed } from './http/liveFeed.js';
import { registerApiDocs } from './http/openapi.js';
import { instanceOf, sendProblem, toLightdomError } from './http/problems.js';
import { registerReadRoutes } from './http/readRoutes.js';
import { registerRunControlRoutes } from './http/runControlRoutes.js';
import type { WsSocketBounds } from './http/wsGuards.js';
import type { CampaignQueries } from './readModel/campaignQueries.js';
import type { PositionWaiter } from './readModel/positionWaiter.js';

/** The application core as the command-api process builds it: subscriptions are the feed hub's. */
export type LightdomApplication = Application<FeedFilter, FeedStart, FeedSubscription>;

export interface AppDeps {
  commands: CommandHandler;
  store: EventStore;
  campaigns: CampaignQueries;
  positions: PositionWaiter;
  registry: Registry;
  logger: Logger;
  checks: Record<string, ReadinessCheck>;
  /** The process's feed hub, shared with gRPC; absent: the app makes (and closes) its own. */
  feed?: FeedHub;
  /**
   * The application core shared with gRPC and AMQP (main.ts builds one per process); absent:
   * the app builds its own from the deps above and `options.tokens`.
   */
  application?: LightdomApplication;
  /** Workflows, runs, AI tasks, metrics and stats; absent: only the campaign reads (and their stats). */
  reads?: ReadModelQueries;
}

export interface AppOptions {
  /** Largest request body (and WebSocket frame), in bytes (`BODY_LIMIT_BYTES`). */
  bodyLimit: number;
  /** Longest `minPosition` wait, in ms (`READ_WAIT_TIMEOUT_MS`). */
  maxWaitMs: number;
  /** Who each bearer token is (`API_TOKENS`, `AUTH`); used when `deps.application` is absent. */
  tokens: TokenRegistry;
  /** Request, header, keep-alive and connection time-outs (`HTTP_*_TIMEOUT_MS`). */
  http: HttpBounds;
  /** `/ws` Origin allow-list, ping interval and idle time-out (`WS_*`). */
  ws: WsSocketBounds;
  /** How long a `/ws` socket opened without a header may take to send its `auth` frame, in ms (`WS_AUTH_TIMEOUT_MS`). */
  wsAuthTimeoutMs: number;
  /** Subscriptions one WebSocket may hold. Default FEED_MAX_SUBSCRIPTIONS_PER_SOCKET's. */
  maxSubscriptionsPerSocket: number;
}

/** The app's options from the parsed configuration; the defaults live in the config schema only. */
export const appOptionsFrom = (c: LoadedCommandApiConfig): AppOptions => ({
  bodyLimit: c.BODY_LIMIT_BYTES,
  maxWaitMs: c.READ_WAIT_TIMEOUT_MS,
  tokens: c.tokens,
  http: httpBoundsFrom(c),
  ws: {
    allowedOrigins: c.WS_ALLOWED_ORIGINS,
    pingIntervalMs: c.WS_PING_INTERVAL_MS,
    idleTimeoutMs: c.WS_IDLE_TIMEOUT_MS,
  },
  wsAuthTimeoutMs: c.WS_AUTH_TIMEOUT_MS,
  maxSubscriptionsPerSocket: c.FEED_MAX_SUBSCRIPTIONS_PER_SOCKET,
});

const outcomes: ReadonlySet<string> = new Set(['accepted', 'duplicate', ...Object.keys(ErrorCodes)]);

/** The HTTP edge: command routes, dashboard reads and the ops routes on one fastify. */
export function buildApp(deps: AppDeps, options: Partial<AppOptions> = {}): FastifyInstance {
  const opts: AppOptions = { ...appOptionsFrom(commandApiDefaults()), ...options };
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: opts.bodyLimit,
    // One log line per request (below) instead of fastify's two.
    logController: quietRequestLogs(),
    genReqId: (req) => requestIdOf(req.headers),
    ...httpServerOptions(opts.http),
    // Routing errors (bad percent-encoding, over-long segments) in the problem format, echoing no path.
    frameworkErrors: (err, req, reply) => {
      sendProblem(reply, toLightdomError(err), instanceOf(req));
    },
  }) as unknown as FastifyInstance;

  // Commands are JSON only: any other body type is a 415, not a string to mis-validate.
  app.removeContentTypeParser('text/plain');

  // Every label comes from a known set: distinct bad inputs must not add series.
  const httpDuration = new Histogram({
    name: 'lightdom_http_request_duration_seconds',
    help: 'HTTP request duration by method, route pattern (or unmatched) and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [deps.registry],
  });
  const commandsTotal = new Counter({
    name: 'lightdom_commands_total',
    help: 'Commands by type (unknown for any type outside the catalogue) and outcome (accepted, duplicate or an error code)',
    labelNames: ['type', 'outcome'],
    registers: [deps.registry],
  });

  app.addHook('onRequest', async (req, reply) => {
    const correlationId = correlationIdOf(req);
    req.log = req.log.child({ correlationId });
    if (req.headers['x-correlation-id'] !== undefined && correlationId !== req.headers['x-correlation-id']) {
      req.log.info({ givenLength: String(req.headers['x-correlation-id']).length }, 'correlation id replaced');
    }
    reply.header('x-request-id', req.id);
    reply.header('x-correlation-id', correlationId);
  });
  const probes = new Set(['/health', '/ready', '/metrics']);
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url;
    if (!probes.has(route ?? ''))
      req.log.info(
        {
          method: req.method,
          url: redactUrl(req.url),
          status: reply.statusCode,
          ms: Math.round(reply.elapsedTime * 10) / 10,
        },
        'request',
      );
    httpDuration.observe(
      { method: methodLabel(req.method), route: route ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  // Route schemas document the API (OpenAPI); the zod schemas they come from validate it, in
  // the routes, with errors naming each field. Fastify neither validates nor reshapes answers.
  app.setValidatorCompiler(() => (value) => ({ value }));
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  app.setErrorHandler((err, req, reply) => {
    const problem = toLightdomError(err);
    if (problem.code === 'INTERNAL') req.log.error({ err }, 'request failed');
    else req.log.info({ code: problem.code, detail: problem.message }, 'request rejected');
    return sendProblem(reply, problem, instanceOf(req));
  });
  app.setNotFoundHandler((req, reply) =>
    sendProblem(
      reply,
      new LightdomError('NOT_FOUND', `No route for ${methodLabel(req.method)} on this path`),
      instanceOf(req),
    ),
  );

  const feed = deps.feed ?? createFeedHub({ store: deps.store, logger: deps.logger }, feedHubDefaults);
  if (!deps.feed) app.addHook('onClose', () => feed.stop());
  const core: LightdomApplication =
    deps.application ??
    createApplication({
      commands: deps.commands,
      store: deps.store,
      tokens: opts.tokens,
      positions: deps.positions,
      feed,
      maxWaitMs: opts.maxWaitMs,
    });
  const tokens = deps.application?.deps.tokens ?? opts.tokens;

  // The documentation plugin goes first: it sees every route registered after it.
  registerApiDocs(app);
  app.register(async (api) => {
    registerOpsRoutes(api, {
      service: 'command-api',
      registry: deps.registry,
      checks: deps.checks,
      tokens,
    });
    registerCommandRoutes(api, {
      app: core,
      onCommand: (type, outcome) =>
        commandsTotal.inc({
          type: knownLabel(type, commandCatalog),
          outcome: knownLabel(outcome, outcomes, 'INTERNAL'),
        }),
    });
    registerRunControlRoutes(api, { app: core });
    registerHistoryRoutes(api, { app: core });
    registerReadRoutes(api, { app: core, campaigns: deps.campaigns, statsElsewhere: deps.reads !== undefined });
    if (deps.reads) registerDomainReadRoutes(api, { app: core, reads: deps.reads });
    await api.register(
      liveFeed(
        { app: core, logger: deps.logger },
        {
          socket: opts.ws,
          authTimeoutMs: opts.wsAuthTimeoutMs,
          maxPayloadBytes: opts.bodyLimit,
          maxSubscriptions: opts.maxSubscriptionsPerSocket,
        },
      ),
    );
  });
  return app;
}
