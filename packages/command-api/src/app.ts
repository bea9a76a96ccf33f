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
} from '@lightdom/runtime';
import type { FastifyInstance } from 'fastify';
import { Counter, Histogram, type Registry } from 'prom-client';
import { type CommandApiConfig, loadCommandApiConfig } from './config.js';
import { createFeedHub } from './feed/hub.js';
import { feedHubDefaults } from './feed/options.js';
import type { FeedHub } from './feed/types.js';
import { registerCommandRoutes } from './http/commandRoutes.js';
import { correlationIdOf, requestIdOf } from './http/context.js';
import { registerDomainReadRoutes } from './http/domainReadRoutes.js';
import { registerHistoryRoutes } from './http/historyRoutes.js';
import { liveFeed } from './http/liveFeed.js';
import { instanceOf, sendProblem, toLightdomError } from './http/problems.js';
import { registerReadRoutes } from './http/readRoutes.js';
import type { WsSocketBounds } from './http/wsGuards.js';
import type { CampaignQueries } from './readModel/campaignQueries.js';
import type { PositionWaiter } from './readModel/positionWaiter.js';

export interface AppDeps {
  commands: CommandHandler;
  store: EventStore;
  campaigns: CampaignQueries;
  /** Workflows, runs, AI tasks, metrics and stats; absent: only the campaign reads (and their stats). */
  reads?: ReadModelQueries;
  positions: PositionWaiter;
  registry: Registry;
  logger: Logger;
  checks: Record<string, ReadinessCheck>;
  /** The process's feed hub, shared with gRPC; absent: the app makes (and closes) its own. */
  feed?: FeedHub;
}

export interface AppOptions {
  /** Largest request body (and WebSocket frame), in bytes (`BODY_LIMIT_BYTES`). */
  bodyLimit: number;
  /** Longest `minPosition` wait, in ms (`READ_WAIT_TIMEOUT_MS`). */
  maxWaitMs: number;
  /** Bearer token → actor (`API_TOKENS`). Empty: no authentication. */
  tokens: Map<string, string>;
  /** Request, header, keep-alive and connection time-outs (`HTTP_*_TIMEOUT_MS`). */
  http: HttpBounds;
  /** `/ws` Origin allow-list, ping interval and idle time-out (`WS_*`). */
  ws: WsSocketBounds;
  /** Subscriptions one WebSocket may hold. Default FEED_MAX_SUBSCRIPTIONS_PER_SOCKET's. */
  maxSubscriptionsPerSocket: number;
}

/** The app's options from the parsed configuration; the defaults live in the config schema only. */
export const appOptionsFrom = (c: CommandApiConfig): AppOptions => ({
  bodyLimit: c.BODY_LIMIT_BYTES,
  maxWaitMs: c.READ_WAIT_TIMEOUT_MS,
  tokens: c.API_TOKENS,
  http: httpBoundsFrom(c),
  ws: {
    allowedOrigins: c.WS_ALLOWED_ORIGINS,
    pingIntervalMs: c.WS_PING_INTERVAL_MS,
    idleTimeoutMs: c.WS_IDLE_TIMEOUT_MS,
  },
  maxSubscriptionsPerSocket: c.FEED_MAX_SUBSCRIPTIONS_PER_SOCKET,
});

const outcomes: ReadonlySet<string> = new Set(['accepted', 'duplicate', ...Object.keys(ErrorCodes)]);

/** The HTTP edge: command routes, dashboard reads and the ops routes on one fastify. */
export function buildApp(deps: AppDeps, options: Partial<AppOptions> = {}): FastifyInstance {
  const opts: AppOptions = { ...appOptionsFrom(loadCommandApiConfig({})), ...options };
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

  registerOpsRoutes(app, { service: 'command-api', registry: deps.registry, checks: deps.checks, tokens: opts.tokens });
  registerCommandRoutes(app, {
    commands: deps.commands,
    tokens: opts.tokens,
    onCommand: (type, outcome) =>
      commandsTotal.inc({ type: knownLabel(type, commandCatalog), outcome: knownLabel(outcome, outcomes, 'INTERNAL') }),
  });
  registerHistoryRoutes(app, { store: deps.store, tokens: opts.tokens });
  const feed = deps.feed ?? createFeedHub({ store: deps.store, logger: deps.logger }, feedHubDefaults);
  if (!deps.feed) app.addHook('onClose', () => feed.stop());
  app.register(
    liveFeed(
      { feed, commands: deps.commands, tokens: opts.tokens, logger: deps.logger },
      { socket: opts.ws, maxPayloadBytes: opts.bodyLimit, maxSubscriptions: opts.maxSubscriptionsPerSocket },
    ),
  );
  registerReadRoutes(app, {
    store: deps.store,
    campaigns: deps.campaigns,
    positions: deps.positions,
    tokens: opts.tokens,
    maxWaitMs: opts.maxWaitMs,
    statsElsewhere: deps.reads !== undefined,
  });
  if (deps.reads)
    registerDomainReadRoutes(app, { ...deps, reads: deps.reads, tokens: opts.tokens, maxWaitMs: opts.maxWaitMs });
  return app;
}
