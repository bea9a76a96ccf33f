import { randomUUID } from 'node:crypto';
import { type CommandHandler, type EventStore, LightdomError, type Logger } from '@lightdom/events';
import { Fastify, quietRequestLogs, type ReadinessCheck, registerOpsRoutes } from '@lightdom/runtime';
import type { FastifyInstance } from 'fastify';
import { Counter, Histogram, type Registry } from 'prom-client';
import { createFeedHub } from './feed/hub.js';
import { configDefaults, feedHubDefaults } from './feed/options.js';
import type { FeedHub } from './feed/types.js';
import { registerCommandRoutes } from './http/commandRoutes.js';
import { registerHistoryRoutes } from './http/historyRoutes.js';
import { liveFeed } from './http/liveFeed.js';
import { sendProblem, toLightdomError } from './http/problems.js';
import { registerReadRoutes } from './http/readRoutes.js';
import type { CampaignQueries } from './readModel/campaignQueries.js';
import type { PositionWaiter } from './readModel/positionWaiter.js';

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
}

export interface AppOptions {
  /** Largest request body, in bytes. Default 1 MiB. */
  bodyLimit: number;
  /** Longest `minPosition` wait, in ms. Default 5000. */
  maxWaitMs: number;
  /** Bearer token → actor. Empty: no authentication. */
  tokens: Map<string, string>;
  /** Subscriptions one WebSocket may hold. Default FEED_MAX_SUBSCRIPTIONS_PER_SOCKET's. */
  maxSubscriptionsPerSocket: number;
}

/** The HTTP edge: command routes, dashboard reads and the ops routes on one fastify. */
export function buildApp(deps: AppDeps, options: Partial<AppOptions> = {}): FastifyInstance {
  const opts: AppOptions = {
    bodyLimit: 1_048_576,
    maxWaitMs: 5000,
    tokens: new Map(),
    maxSubscriptionsPerSocket: configDefaults.FEED_MAX_SUBSCRIPTIONS_PER_SOCKET,
    ...options,
  };
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: opts.bodyLimit,
    // One log line per request (below) instead of fastify's two.
    logController: quietRequestLogs(),
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && given.length <= 200 ? given : randomUUID();
    },
  }) as unknown as FastifyInstance;

  // Commands are JSON only: any other body type is a 415, not a string to mis-validate.
  app.removeContentTypeParser('text/plain');

  const httpDuration = new Histogram({
    name: 'lightdom_http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [deps.registry],
  });
  const commandsTotal = new Counter({
    name: 'lightdom_commands_total',
    help: 'Commands handled by type and outcome (accepted, duplicate or an error code)',
    labelNames: ['type', 'outcome'],
    registers: [deps.registry],
  });

  app.addHook('onRequest', async (req, reply) => {
    const correlationId = (req.headers['x-correlation-id'] as string | undefined) ?? req.id;
    req.log = req.log.child({ correlationId });
    reply.header('x-request-id', req.id);
    reply.header('x-correlation-id', correlationId);
  });
  const probes = new Set(['/health', '/ready', '/metrics']);
  app.addHook('onResponse', async (req, reply) => {
    if (!probes.has(req.routeOptions.url ?? ''))
      req.log.info(
        { method: req.method, url: req.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 },
        'request',
      );
    httpDuration.observe(
      { method: req.method, route: req.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  app.setErrorHandler((err, req, reply) => {
    const problem = toLightdomError(err);
    if (problem.code === 'INTERNAL') req.log.error({ err }, 'request failed');
    else req.log.info({ code: problem.code, detail: problem.message }, 'request rejected');
    return sendProblem(reply, problem, req.url);
  });
  app.setNotFoundHandler((req, reply) =>
    sendProblem(reply, new LightdomError('NOT_FOUND', `No route ${req.method} ${req.url}`), req.url),
  );

  registerOpsRoutes(app, { service: 'command-api', registry: deps.registry, checks: deps.checks });
  registerCommandRoutes(app, {
    commands: deps.commands,
    tokens: opts.tokens,
    onCommand: (type, outcome) => commandsTotal.inc({ type, outcome }),
  });
  registerHistoryRoutes(app, { store: deps.store, tokens: opts.tokens });
  const feed = deps.feed ?? createFeedHub({ store: deps.store, logger: deps.logger }, feedHubDefaults);
  if (!deps.feed) app.addHook('onClose', () => feed.stop());
  app.register(
    liveFeed(
      { feed, commands: deps.commands, tokens: opts.tokens, logger: deps.logger },
      { maxSubscriptions: opts.maxSubscriptionsPerSocket },
    ),
  );
  registerReadRoutes(app, {
    store: deps.store,
    campaigns: deps.campaigns,
    positions: deps.positions,
    tokens: opts.tokens,
    maxWaitMs: opts.maxWaitMs,
  });
  return app;
}
