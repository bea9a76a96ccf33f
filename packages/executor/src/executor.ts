import { createApplication } from '@lightdom/app';
import { type AnyDecider, type Identity, upcastEvent, type WorkflowStepType } from '@lightdom/domain';
import {
  createAggregateRepository,
  createCommandHandler,
  createCommitConsumer,
  createEventStore,
  type IdempotencyStore,
} from '@lightdom/eventstore';
import { type Logger, natsCheck, type ReadinessCheck, type TokenRegistry } from '@lightdom/runtime';
import type { NatsConnection } from 'nats';
import type { Registry } from 'prom-client';
import type { Activity } from './activities/activity.js';
import { createAiGenerateActivity } from './activities/aiGenerate.js';
import { campaignCommandActivity } from './activities/campaignCommand.js';
import { createChainAnchorActivity } from './activities/chainAnchor.js';
import { createHttpActivity } from './activities/httpRequest.js';
import { createWaitEventActivity } from './activities/waitEvent.js';
import { workflowRunActivity } from './activities/workflowRun.js';
import { defaultHttpStepOptions, executorConfigSchema, type HttpStepOptions } from './config.js';
import { createAiTaskCommitHandler } from './consumers/aiTaskCommits.js';
import { type PullLoop, startPullLoop } from './consumers/pullLoop.js';
import { createRunCommitHandler } from './consumers/runCommits.js';
import { createRunSweep, type RunSweep } from './consumers/runSweep.js';
import { createEgressPolicy } from './egress/addressPolicy.js';
import { type Connector, directConnector, type Resolver, systemResolver } from './egress/egressClient.js';
import { runViewDecider } from './engine/runView.js';
import { createIssuer, type Submit } from './issuer.js';
import { createExecutorMetrics } from './metrics.js';
import { createScheduler, type Scheduler } from './schedules/scheduler.js';
import { createSecretSource } from './secrets.js';
import { createTimerBook } from './timers.js';

export interface ExecutorDeps {
  nc: NatsConnection;
  /** The token registry (API_TOKENS); the application core the executor records through reads it. */
  tokens: TokenRegistry;
  /**
   * Who the executor is: its SERVICE_TOKEN's identity (role `service`, or `admin`). The
   * run's own commands are recorded as it; a step's campaign command or AI task is
   * recorded as the run's requester, with this actor as `via`.
   */
  identity: Identity;
  /** Whether NATS is reachable now (from connectNats); lets /ready fail fast. */
  isConnected?: () => boolean;
  logger: Logger;
  /** Where the executor's metrics are registered. */
  registry: Registry;
  /**
   * Remembers idempotency keys beyond JetStream's duplicate window (2 min by default).
   * Without it, a command repeated later is refused by its decider instead, which the
   * executor also treats as done.
   */
  idempotency?: IdempotencyStore;
  /** Source of time for decisions. Default `() => new Date()`. */
  clock?: () => Date;
  /**
   * How http.request steps resolve names and open connections. Default: the system
   * resolver and a direct TCP/TLS connection to the checked address. Tests inject
   * counting versions to see that a refusal comes before any connection.
   */
  egress?: { resolve?: Resolver; connect?: Connector };
}

export interface ExecutorOptions {
  /** Event stream name, e.g. `EVENTS`. */
  stream: string;
  /** First subject token of the event stream, e.g. `events`. */
  subjectPrefix: string;
  /** Durable consumer of workflowRun commits; executors sharing it compete for work. */
  durable: string;
  /** Durable consumer of aiTask commits. Default `<durable>-ai-tasks`. */
  aiDurable?: string;
  /** workflowRun commits handled at once. Default 16. */
  concurrency?: number;
  /** How long JetStream waits for an ack or a heartbeat before it redelivers, in ms. Default 30 000. */
  ackWaitMs?: number;
  /** Unacknowledged workflowRun commits allowed (running activities plus armed timers). Default 10 000. */
  maxAckPending?: number;
  /** Egress policy and bounds of http.request steps; unset fields take the config schema's defaults. */
  http?: Partial<HttpStepOptions>;
  /** Deliveries of one workflowRun commit before its steps are failed instead of run. Default: the config schema's. */
  maxDeliveries?: number;
  /** Model of an ai.generate step that names none. Default `deepseek-r1:7b`. */
  aiDefaultModel?: string;
  /** How chain.anchor steps wait for the anchor service. Default: the config schema's. */
  chainAnchor?: { waitMs?: number; pollMs?: number };
  /** How a wait.event step reads the log: defaults WAIT_EVENT_WAIT_MS / WAIT_EVENT_POLL_MS. */
  waitEvent?: { waitMs?: number; pollMs?: number };
  /** Whether this executor fires schedules, and how often it looks. Default: the config schema's (on, 1000 ms). */
  schedules?: { enabled?: boolean; tickMs?: number };
  /**
   * The run sweep (consumers/runSweep.ts): how often it looks (0: off) and how long a run
   * must be idle before it is decided again. Default: the config schema's (30 s, 120 s).
   */
  sweep?: { intervalMs?: number; idleMs?: number };
}

export interface Executor {
  /** Ensures the event stream and both durable consumers, then starts consuming. */
  start(): Promise<void>;
  /**
   * Stops consuming. Activities in flight are aborted and their commits handed back to
   * JetStream, so another executor (or this one restarted) runs them again. The NATS
   * connection stays the caller's.
   */
  stop(): Promise<void>;
  /** Readiness checks for the ops server: `nats` and `consumer`. */
  checks: Record<string, ReadinessCheck>;
}

/**
 * A step's output may appear twice in one commit (WorkflowStepSucceeded and the run's
 * WorkflowRunSucceeded): refuse to start when two outputs and room for the rest would
 * not fit in the server's largest message. A run whose final outputs together do not
 * fit still ends: the outcome that cannot be recorded fails the step (runCommits).
 */
function assertOutputsFit(nc: NatsConnection, maxOutputBytes: number): void {
  const maxPayload = nc.info?.max_payload;
  if (maxPayload !== undefined && 2 * maxOutputBytes + 65_536 > maxPayload) {
    throw new Error(
      `HTTP_STEP_MAX_OUTPUT_BYTES (${maxOutputBytes}) is too large for this NATS server's max_payload (${maxPayload}): at most ${Math.floor((maxPayload - 65_536) / 2)}`,
    );
  }
}

/** The aggregate type whose commits drive the executor. */
export const workflowRunAggregate = 'workflowRun';

/**
 * The workflow engine: a process manager over workflowRun commits. It decides each run's
 * next commands with the pure `decideNext`, runs step activities (HTTP calls, campaign
 * commands, AI task requests), records every outcome as a command, and keeps timers
 * (delays, retries, deadlines) as messages JetStream redelivers when they fall due.
 * Every command goes through the application core (`app.submit`) as `identity`; a step's
 * public commands on behalf of the run's requester.
 *
 * @example
 * const executor = createExecutor(
 *   { nc, tokens, identity, logger, registry, idempotency },
 *   { stream: 'EVENTS', subjectPrefix: 'events', durable: 'executor' },
 * );
 * await executor.start();
 */
export function createExecutor(deps: ExecutorDeps, options: ExecutorOptions): Executor {
  const { nc, logger, registry } = deps;
  const clock = deps.clock ?? (() => new Date());
  const ackWaitMs = options.ackWaitMs ?? 30_000;
  const connection = { nc, logger, ...(deps.isConnected ? { isConnected: deps.isConnected } : {}) };
  const store = createEventStore(connection, {
    stream: options.stream,
    subjectPrefix: options.subjectPrefix,
    upcast: upcastEvent,
  });
  const commands = createCommandHandler({
    store,
    logger,
    clock,
    ...(deps.idempotency ? { idempotency: deps.idempotency } : {}),
  });
  const app = createApplication({ commands, store, tokens: deps.tokens });
  const submit: Submit = (command, context, submitOptions) =>
    app.submit(deps.identity, command, context, submitOptions);
  const runs = createAggregateRepository({
    store,
    deciders: { workflowRun: runViewDecider as AnyDecider },
    logger,
  });
  const timers = createTimerBook(clock);
  const metrics = createExecutorMetrics(registry, () => timers.active());
  const issuer = createIssuer({ submit, metrics, clock });
  const http: HttpStepOptions = { ...defaultHttpStepOptions(), ...options.http };
  const activities: Record<WorkflowStepType, Activity> = {
    'http.request': createHttpActivity({
      ...http,
      egress: {
        policy: createEgressPolicy(http.allow),
        resolve: deps.egress?.resolve ?? systemResolver,
        connect: deps.egress?.connect ?? directConnector,
      },
      secrets: createSecretSource(http.secretsDir),
    }),
    'campaign.command': campaignCommandActivity,
    'ai.generate': createAiGenerateActivity({ defaultModel: options.aiDefaultModel ?? 'deepseek-r1:7b' }),
    'chain.anchor': createChainAnchorActivity({
      store,
      waitMs: options.chainAnchor?.waitMs ?? executorConfigSchema.shape.CHAIN_ANCHOR_WAIT_MS.parse(undefined),
      pollMs: options.chainAnchor?.pollMs ?? executorConfigSchema.shape.CHAIN_ANCHOR_POLL_MS.parse(undefined),
    }),
    'wait.event': createWaitEventActivity({
      store,
      waitMs: options.waitEvent?.waitMs ?? executorConfigSchema.shape.WAIT_EVENT_WAIT_MS.parse(undefined),
      pollMs: options.waitEvent?.pollMs ?? executorConfigSchema.shape.WAIT_EVENT_POLL_MS.parse(undefined),
    }),
    'workflow.run': workflowRunActivity,
    // Delays are timers the engine decides on, and a signal arrives as a command: no I/O.
    delay: async () => ({ kind: 'pending' }),
    'wait.signal': async () => ({ kind: 'pending' }),
  };
  const onRunCommit = createRunCommitHandler({
    submit,
    runs,
    issuer,
    activities,
    metrics,
    timers,
    logger,
    clock,
    maxDeliveries: options.maxDeliveries ?? executorConfigSchema.shape.EXECUTOR_MAX_DELIVERIES.parse(undefined),
  });
  const aiConsumer = createCommitConsumer(
    connection,
    {
      stream: options.stream,
      subjectPrefix: options.subjectPrefix,
      durable: options.aiDurable ?? `${options.durable}-ai-tasks`,
      aggregateType: 'aiTask',
      ackWaitMs,
    },
    {
      onCommit: createAiTaskCommitHandler({ commands, runs, issuer, logger }),
      onUndecodable: () => metrics.undecodable.inc(),
    },
  );
  const scheduler: Scheduler | undefined =
    options.schedules?.enabled === false
      ? undefined
      : createScheduler(
          {
            store,
            submit,
            logger: logger.child({ component: 'scheduler' }),
            clock,
            onFire: (result) => metrics.scheduleFires.inc({ result }),
          },
          { tickMs: options.schedules?.tickMs ?? executorConfigSchema.shape.SCHEDULE_TICK_MS.parse(undefined) },
        );
  const sweepMs = options.sweep?.intervalMs ?? executorConfigSchema.shape.EXECUTOR_SWEEP_MS.parse(undefined);
  const sweep: RunSweep | undefined =
    sweepMs > 0
      ? createRunSweep(
          {
            store,
            logger: logger.child({ component: 'run-sweep' }),
            clock,
            nudge: async (runId, newest) => {
              const nudged = await onRunCommit.nudge(runId, newest);
              if (nudged) metrics.sweepNudges.inc();
              return nudged;
            },
          },
          {
            intervalMs: sweepMs,
            idleMs: options.sweep?.idleMs ?? executorConfigSchema.shape.EXECUTOR_SWEEP_IDLE_MS.parse(undefined),
          },
        )
      : undefined;
  let runLoop: PullLoop | undefined;

  return {
    async start() {
      if (runLoop) return;
      assertOutputsFit(nc, http.maxOutputBytes);
      await store.ensureStream();
      runLoop = await startPullLoop(
        {
          nc,
          logger,
          onUndecodable: () => metrics.undecodable.inc(),
          onError: () => metrics.handlerErrors.inc({ consumer: 'workflowRun' }),
        },
        {
          stream: options.stream,
          subjectPrefix: options.subjectPrefix,
          durable: options.durable,
          aggregateType: workflowRunAggregate,
          concurrency: options.concurrency ?? 16,
          ackWaitMs,
          maxAckPending: options.maxAckPending ?? 10_000,
        },
        onRunCommit,
      );
      await aiConsumer.start();
      await scheduler?.start();
      sweep?.start();
      logger.info(
        { durable: options.durable, concurrency: options.concurrency ?? 16, ackWaitMs },
        'executor consuming workflow runs and AI tasks',
      );
    },
    async stop() {
      const loop = runLoop;
      runLoop = undefined;
      await Promise.all([loop?.stop(), aiConsumer.stop(), scheduler?.stop(), sweep?.stop()]);
    },
    checks: {
      nats: natsCheck(nc, deps.isConnected),
      consumer: async () => {
        if (!runLoop) throw new Error('not consuming');
        await Promise.all([runLoop.check(), aiConsumer.check()]);
      },
    },
  };
}
