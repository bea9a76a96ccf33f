import {
  type GrpcObject,
  loadPackageDefinition,
  Server,
  ServerCredentials,
  type ServiceClientConstructor,
  type ServiceDefinition,
} from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { type Application, createApplication } from '@lightdom/app';
import type { CommandHandler, EventStore } from '@lightdom/eventstore';
import type { ReadModelQueries } from '@lightdom/readmodel';
import { createTokenRegistry, type Logger, type ReadinessCheck, type TokenRegistry } from '@lightdom/runtime';
import { Counter, Histogram, type Registry } from 'prom-client';
import { createFeedHub } from '../feed/hub.js';
import { feedHubDefaults } from '../feed/options.js';
import type { FeedFilter, FeedHub, FeedStart, FeedSubscription } from '../feed/types.js';
import type { CampaignQueries } from '../readModel/campaignQueries.js';
import type { PositionWaiter } from '../readModel/positionWaiter.js';
import { type GrpcBounds, grpcBoundsDefaults, grpcChannelOptions } from './bounds.js';
import { type CallKit, serverStream, unary } from './call.js';
import { requestContext } from './context.js';
import { createEventService } from './eventService.js';
import { createHealthReporter } from './health.js';
import type {
  CommandRequestMessage,
  CommandResultMessage,
  EventMessage,
  ExecuteWorkflowRequestMessage,
  GetCampaignRequestMessage,
  GetCampaignResponseMessage,
  ListCampaignsRequestMessage,
  ListCampaignsResponseMessage,
  ReadRequestMessage,
  ReadResponseMessage,
  SignalRunRequestMessage,
  SubscribeRequestMessage,
} from './messages.js';
import { parseJsonObject } from './messages.js';
import { loadGrpcPackage } from './protos.js';
import { createQueryService } from './queryService.js';
import { createWorkflowService } from './workflowService.js';

export interface GrpcServerDeps {
  commands: CommandHandler;
  store: EventStore;
  campaigns: CampaignQueries;
  /** Workflows, runs, AI tasks, metrics and stats for the QueryService; absent: those calls answer UNAVAILABLE. */
  reads?: ReadModelQueries;
  positions: PositionWaiter;
  logger: Logger;
  /** The readiness checks behind `/ready`; they drive grpc.health.v1. */
  checks: Record<string, ReadinessCheck>;
  /** Where call metrics go; none when omitted. */
  registry?: Registry;
  /** The process's feed hub, shared with HTTP; absent: the server makes (and stops) its own. */
  feed?: FeedHub;
  /**
   * The application core (main.ts shares one with HTTP and AMQP); absent: one is built from
   * the deps above and `options.tokens`.
   */
  application?: Application<FeedFilter, FeedStart, FeedSubscription>;
}

export interface GrpcServerOptions extends GrpcBounds {
  /** Interface to bind. Default `127.0.0.1`. */
  host: string;
  /** Who each bearer token is, when `deps.application` is absent. Default: no token (every call UNAUTHENTICATED). */
  tokens: TokenRegistry;
  /** Longest `minPosition` wait, in ms (capped by the core's own limit). Default 5000. */
  maxWaitMs: number;
  /** Largest request message, in bytes; larger ones fail with RESOURCE_EXHAUSTED. Default 1 MiB. */
  maxMessageBytes: number;
  /** How long `stop()` lets calls finish before cutting them off, in ms. Default 5000. */
  shutdownTimeoutMs: number;
  /** How often health Watch streams are refreshed, in ms. Default 5000. */
  healthIntervalMs: number;
}

export interface GrpcServer {
  /** Binds and serves; resolves with the bound port (useful with port 0). */
  start(port: number): Promise<number>;
  /** Reports NOT_SERVING, ends open streams with UNAVAILABLE, then shuts down (forced after the timeout). */
  stop(): Promise<void>;
  readonly server: Server;
}

export const lightdomServices = [
  'lightdom.v1.CommandService',
  'lightdom.v1.EventService',
  'lightdom.v1.QueryService',
  'lightdom.v1.WorkflowService',
] as const;

function serviceOf(pkg: GrpcObject, name: string): ServiceDefinition {
  const found = name.split('.').reduce<unknown>((o, part) => (o as Record<string, unknown>)?.[part], pkg) as
    | ServiceClientConstructor
    | undefined;
  if (!found?.service) throw new Error(`gRPC service ${name} is not in the loaded protos`);
  return found.service;
}

/** Time left before the call's deadline, capped at `max`, in ms. */
function waitBudget(deadline: Date | number, max: number): number {
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  if (!Number.isFinite(at)) return max;
  // Answer before the deadline (by a tenth of it, at least 100 ms), so the client gets
  // STALE_READ rather than its own time-out.
  const left = at - Date.now();
  return Math.max(0, Math.min(max, left - Math.max(100, left / 10)));
}

/**
 * The gRPC edge: `lightdom.v1` Command, Event, Query and Workflow services, standard
 * health checking and server reflection, on one @grpc/grpc-js server.
 *
 * @example
 * const grpc = createGrpcServer({ commands, store, campaigns, positions, logger, checks, application }, {});
 * const port = await grpc.start(50051);
 * // … later
 * await grpc.stop();
 */
export function createGrpcServer(deps: GrpcServerDeps, options: Partial<GrpcServerOptions> = {}): GrpcServer {
  const opts: GrpcServerOptions = {
    host: '127.0.0.1',
    tokens: createTokenRegistry([]),
    maxWaitMs: 5000,
    maxMessageBytes: 1_048_576,
    shutdownTimeoutMs: 5000,
    healthIntervalMs: 5000,
    ...grpcBoundsDefaults,
    ...options,
  };
  const definition = loadGrpcPackage();
  const pkg = loadPackageDefinition(definition);
  const server = new Server(grpcChannelOptions(opts));
  const ownFeed = !deps.feed;
  const feed = deps.feed ?? createFeedHub({ store: deps.store, logger: deps.logger }, feedHubDefaults);
  const app =
    deps.application ??
    createApplication({
      commands: deps.commands,
      store: deps.store,
      tokens: opts.tokens,
      positions: deps.positions,
      feed,
      maxWaitMs: opts.maxWaitMs,
    });

  const calls = deps.registry
    ? new Counter({
        name: 'lightdom_grpc_calls_total',
        help: 'gRPC calls by method and status code',
        labelNames: ['method', 'code'],
        registers: [deps.registry],
      })
    : undefined;
  const durations = deps.registry
    ? new Histogram({
        name: 'lightdom_grpc_unary_duration_seconds',
        help: 'gRPC unary call duration by method and status code',
        labelNames: ['method', 'code'],
        buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
        registers: [deps.registry],
      })
    : undefined;
  const kit: CallKit = {
    app,
    logger: deps.logger,
    streams: new Set(),
    observe(method, code, seconds) {
      calls?.inc({ method, code });
      if (seconds !== undefined) durations?.observe({ method, code }, seconds);
    },
  };

  const events = createEventService({ app });
  const queries = createQueryService({ campaigns: deps.campaigns, app, ...(deps.reads ? { reads: deps.reads } : {}) });
  const workflows = createWorkflowService({ app });

  server.addService(serviceOf(pkg, 'lightdom.v1.CommandService'), {
    Submit: unary<CommandRequestMessage, CommandResultMessage>(kit, 'Submit', (req, ctx) =>
      app.submit(
        ctx.identity,
        {
          type: req.type,
          data: parseJsonObject('data', req.data),
          ...(req.aggregateId ? { aggregateId: req.aggregateId } : {}),
          ...(req.expectedVersion !== undefined ? { expectedVersion: req.expectedVersion } : {}),
          ...(req.idempotencyKey ? { idempotencyKey: req.idempotencyKey } : {}),
        },
        requestContext(ctx),
      ),
    ),
  });
  server.addService(serviceOf(pkg, 'lightdom.v1.EventService'), {
    Read: unary<ReadRequestMessage, ReadResponseMessage>(kit, 'Read', (req, ctx) => events.read(req, ctx)),
    Subscribe: serverStream<SubscribeRequestMessage, EventMessage>(kit, 'Subscribe', (call, ctx, signal) =>
      events.subscribe(call, ctx, signal),
    ),
  });
  server.addService(serviceOf(pkg, 'lightdom.v1.QueryService'), {
    GetCampaign: unary<GetCampaignRequestMessage, GetCampaignResponseMessage>(kit, 'GetCampaign', (req, ctx, call) =>
      queries.getCampaign(req, ctx, waitBudget(call.getDeadline(), opts.maxWaitMs)),
    ),
    ListCampaigns: unary<ListCampaignsRequestMessage, ListCampaignsResponseMessage>(
      kit,
      'ListCampaigns',
      (req, ctx, call) => queries.listCampaigns(req, ctx, waitBudget(call.getDeadline(), opts.maxWaitMs)),
    ),
    ...Object.fromEntries(
      (
        [
          ['GetWorkflow', queries.getWorkflow],
          ['ListWorkflows', queries.listWorkflows],
          ['GetRun', queries.getRun],
          ['ListRuns', queries.listRuns],
          ['GetAiTask', queries.getAiTask],
          ['ListAiTasks', queries.listAiTasks],
          ['GetCampaignMetrics', queries.getCampaignMetrics],
          ['GetStats', queries.getStats],
        ] as const
      ).map(([method, read]) => [
        method,
        unary<unknown, unknown>(kit, method, (req, ctx, call) =>
          read(req, ctx, waitBudget(call.getDeadline(), opts.maxWaitMs)),
        ),
      ]),
    ),
  });
  server.addService(serviceOf(pkg, 'lightdom.v1.WorkflowService'), {
    ExecuteWorkflow: unary<ExecuteWorkflowRequestMessage, CommandResultMessage>(kit, 'ExecuteWorkflow', (req, ctx) =>
      workflows.executeWorkflow(req, ctx),
    ),
    SignalRun: unary<SignalRunRequestMessage, CommandResultMessage>(kit, 'SignalRun', (req, ctx) =>
      workflows.signalRun(req, ctx),
    ),
  });

  // Probes and tooling need no token, as `/health` and `/ready` need none over HTTP.
  const health = createHealthReporter(deps.checks, deps.logger, {
    services: [...lightdomServices],
    intervalMs: opts.healthIntervalMs,
  });
  health.addToServer(server);
  new ReflectionService(definition).addToServer(server);

  let started = false;
  /** Ends open streams with UNAVAILABLE, then waits for calls (cut off after the timeout). */
  async function shutdown() {
    for (const stream of kit.streams) stream.abort();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        deps.logger.warn('gRPC calls still open after the shutdown timeout: cutting them off');
        server.forceShutdown();
        resolve();
      }, opts.shutdownTimeoutMs);
      timer.unref();
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  return {
    server,
    async start(port) {
      const bound = await new Promise<number>((resolve, reject) =>
        server.bindAsync(`${opts.host}:${port}`, ServerCredentials.createInsecure(), (err, p) =>
          err ? reject(err) : resolve(p),
        ),
      );
      started = true;
      await health.refresh();
      return bound;
    },
    async stop() {
      health.shutdown();
      if (started) await shutdown();
      if (ownFeed) await feed.stop();
    },
  };
}
