import { createApplication, type RequestContext } from '@lightdom/app';
import type { AiTaskState, Identity, StoredCommit } from '@lightdom/domain';
import {
  createCommandHandler,
  createCommitConsumer,
  createEventStore,
  createIdleSweep,
  SpanKind,
  startSpan,
} from '@lightdom/eventstore';
import { type Logger, natsCheck, type ReadinessCheck, type TokenRegistry } from '@lightdom/runtime';
import type { JsMsg, NatsConnection, Subscription } from 'nats';
import type { Ollama } from 'ollama';
import type { Registry } from 'prom-client';
import { ollamaCheck, ollamaErrorReason } from './checks.js';
import { abandonedFailure } from './failures.js';
import { createAiWorkerMetrics } from './metrics.js';
import { answerPresence, askClaimant, presenceSubject } from './presence.js';
import { type RunningAttempt, runClaimed } from './runClaimed.js';
import { AttemptLostError, aiTaskAggregate, isRejection, type TaskCommands } from './taskWriter.js';
import { type AttemptRequest, requestedAttempt, retryWaitMs } from './triggers.js';

export { aiTaskAggregate };

export interface AiWorkerDeps {
  nc: NatsConnection;
  /** The token registry (API_TOKENS); the application core the worker records through reads it. */
  tokens: TokenRegistry;
  /** Who the worker is: its SERVICE_TOKEN's identity (role `service`, or `admin`); every command is recorded as it. */
  identity: Identity;
  /** Whether NATS is reachable now (from connectNats); lets /ready fail fast. */
  isConnected?: () => boolean;
  /** An `ollama` client for readiness checks; every attempt gets its own client for `ollamaUrl`. */
  ollama: Ollama;
  logger: Logger;
  /** Where the worker's metrics are registered. */
  registry: Registry;
}

export interface AiWorkerOptions {
  /** Event stream name, e.g. `EVENTS`. */
  stream: string;
  /** First subject token of the event stream, e.g. `events`. */
  subjectPrefix: string;
  /** Durable consumer name; workers sharing it compete for tasks. */
  durable: string;
  /** Base URL of the Ollama HTTP API, e.g. `http://127.0.0.1:11434`. */
  ollamaUrl: string;
  /** Model used when a task names none, e.g. `deepseek-r1:7b`. */
  defaultModel: string;
  /** Names this worker in `AiTaskStarted`; unique per running worker. */
  workerId: string;
  /** Attempts run at a time. Default 2. */
  concurrency?: number;
  /** One attempt's limit, in ms; past it the attempt fails retryable. Default 600 000. */
  taskTimeoutMs?: number;
  /** Least time between two progress events of one attempt, in ms. Default 500. */
  progressIntervalMs?: number;
  /** Delay before the second attempt, in ms, doubling after each further one. Default 5000. */
  retryDelayMs?: number;
  /**
   * How long JetStream waits for an ack before it redelivers, in ms. Default 60 000. A
   * running attempt tells JetStream it is working every third of it, so only a dead or
   * cut-off worker's task is redelivered.
   */
  ackWaitMs?: number;
  /** When every slot is busy, a newly delivered task goes back to the consumer for this long, in ms. Default 1000. */
  busyRetryMs?: number;
  /** How long to wait for another worker to say whether it still runs a task, in ms. Default 2000. */
  presenceTimeoutMs?: number;
  /**
   * The task sweep (eventstore's `createIdleSweep`): how often it looks (0: off) and how long
   * a task must be idle before it acts. Default 30 s and 120 s.
   */
  sweep?: { intervalMs?: number; idleMs?: number };
}

export interface AiWorker {
  /** Ensures the event stream and the durable consumer, then starts consuming. */
  start(): Promise<void>;
  /**
   * Stops taking tasks, aborts running attempts and records them as failed retryable
   * (so they go back to `requested` for another worker); the NATS connection stays the caller's.
   */
  stop(): Promise<void>;
  /** Task ids running here now. */
  running(): string[];
  /** One pass of the task sweep now (tests); 0 when the sweep is off. */
  sweep(): Promise<number>;
  /** Readiness checks for the ops server: `nats`, `consumer` and `ollama`. */
  checks: Record<string, ReadinessCheck>;
}

/** The context of a command caused by `event` of `commit`: its correlation id, the event as cause, the attempt's span. */
const causedContext = (commit: StoredCommit, event: { id: string }, traceparent: string): RequestContext => ({
  correlationId: commit.correlationId,
  causationId: event.id,
  traceparent,
});

/**
 * Runs AI tasks through Ollama. A commit that leaves a task `requested` (its request, or a
 * retryable failure with attempts left) is claimed with `StartAiTask` at exactly that
 * version, so of competing workers one wins and the others move on. The winner streams
 * the completion, records throttled progress, and completes or fails the task; the
 * message is acked once that outcome is in the log. Every command goes through the
 * application core (`app.submit`) as `identity`, a service: they are all internal.
 *
 * @example
 * const worker = createAiWorker(
 *   { nc, tokens, identity, ollama: new Ollama({ host }), logger, registry },
 *   { stream: 'EVENTS', subjectPrefix: 'events', durable: 'ai-worker', ollamaUrl: host,
 *     defaultModel: 'deepseek-r1:7b', workerId: 'ai-1' },
 * );
 * await worker.start();
 */
export function createAiWorker(deps: AiWorkerDeps, options: AiWorkerOptions): AiWorker {
  const { nc, ollama, logger, registry } = deps;
  const opts = {
    concurrency: 2,
    taskTimeoutMs: 600_000,
    progressIntervalMs: 500,
    retryDelayMs: 5_000,
    ackWaitMs: 60_000,
    busyRetryMs: 1_000,
    presenceTimeoutMs: 2_000,
    ...options,
  };
  const { stream, subjectPrefix, durable, workerId } = opts;
  const connection = deps.isConnected ? { isConnected: deps.isConnected } : {};
  const store = createEventStore({ nc, logger, ...connection }, { stream, subjectPrefix });
  const handler = createCommandHandler({ store, logger }, { cacheSize: 256 });
  const app = createApplication({ commands: handler, store, tokens: deps.tokens });
  const tasks: TaskCommands = {
    submit: (command, context) => app.submit(deps.identity, command, context),
    repository: handler.repository,
  };
  const metrics = createAiWorkerMetrics(registry);
  const running = new Map<string, RunningAttempt>();
  const claiming = new Set<string>();
  const settings = { ...opts, redeliverMs: opts.busyRetryMs };
  let presence: Subscription | undefined;
  let stopping = false;

  /** What a task handled from the sweep holds instead of a message: nothing to ack or nak. */
  const detached = {
    ack() {},
    nak() {},
    working() {},
    term() {},
    headers: undefined,
  } as unknown as JsMsg;

  /**
   * A task idle with work due that no delivery did (the cluster lost it, see
   * `createIdleSweep`): one left `requested` is claimed here as a delivery would claim it;
   * one left `started` is supervised as its redelivery would be (failed retryable when its
   * claimant is gone). True when that recorded something.
   */
  async function nudge(taskId: string, newest: StoredCommit): Promise<boolean> {
    if (stopping || running.has(taskId) || claiming.has(taskId)) return false;
    const request = requestedAttempt(newest);
    if (request) {
      if (running.size >= opts.concurrency) return false;
      if (retryWaitMs(newest, request, opts.retryDelayMs, Date.now()) > 0) return false;
      await claim(newest, request, detached);
      return running.has(taskId);
    }
    const state = (await tasks.repository.load(aiTaskAggregate, taskId)).state as AiTaskState;
    const event = newest.events.at(-1);
    if (state.status !== 'started' || !event) return false;
    const log = logger.child({ taskId, correlationId: newest.correlationId, attempt: state.attempts });
    await superviseClaim(taskId, state.attempts, causedContext(newest, event, ''), log);
    return ((await store.lastCommit(aiTaskAggregate, taskId))?.position ?? 0) > newest.position;
  }
  const sweepMs = opts.sweep?.intervalMs ?? 30_000;
  const sweep =
    sweepMs > 0
      ? createIdleSweep(
          { store, logger: logger.child({ component: 'task-sweep' }), clock: () => new Date(), nudge },
          {
            aggregateType: aiTaskAggregate,
            ended: (c) =>
              c.events.some(
                (e) =>
                  e.type === 'AiTaskCompleted' ||
                  e.type === 'AiTaskCancelled' ||
                  (e.type === 'AiTaskFailed' && !(e.data as { willRetry?: boolean }).willRetry),
              ),
            intervalMs: sweepMs,
            idleMs: opts.sweep?.idleMs ?? 120_000,
          },
        )
      : undefined;

  const consumer = createCommitConsumer(
    { nc, logger, ...connection },
    { stream, subjectPrefix, durable, aggregateType: aiTaskAggregate, ackWaitMs: opts.ackWaitMs },
    { onCommit, onUndecodable: () => metrics.undecodable.inc() },
  );

  async function onCommit(commit: StoredCommit, msg: JsMsg): Promise<void> {
    for (const event of commit.events) metrics.events.inc({ type: event.type });
    const active = running.get(commit.aggregateId);
    // The task's own subscription usually got here first; this covers a missed message.
    if (active && commit.events.some((e) => e.type === 'AiTaskCancelled')) active.control.stop('cancelled');

    const request = requestedAttempt(commit);
    if (!request) {
      msg.ack();
      return;
    }
    if (active?.attempt === request.attempt) {
      // Redelivered while we still run it (a working signal went missing): keep it.
      active.msg = msg;
      return;
    }
    const wait = retryWaitMs(commit, request, opts.retryDelayMs, Date.now());
    if (wait > 0) {
      msg.nak(wait);
      return;
    }
    if (stopping || running.size >= opts.concurrency) {
      // Hand it back so an idle worker can take it; the durable's other messages keep flowing.
      msg.nak(opts.busyRetryMs);
      return;
    }
    await claim(commit, request, msg);
  }

  async function claim(commit: StoredCommit, request: AttemptRequest, msg: JsMsg): Promise<void> {
    const taskId = commit.aggregateId;
    const { attempt } = request;
    // The attempt's span, below the commit that asked for it: claim, Ollama's stream, outcome.
    const span = startSpan('ai-task', msg.headers?.get('traceparent') || undefined, {
      kind: SpanKind.CONSUMER,
      attributes: { 'lightdom.ai_task.id': taskId, 'lightdom.ai_task.attempt': attempt, 'lightdom.worker': workerId },
    });
    const context = causedContext(commit, request.event, span.traceparent);
    const log = logger.child({ taskId, correlationId: commit.correlationId, attempt });
    // Says "running" to anyone who asks before the claim's reply is in.
    claiming.add(taskId);
    let version: number;
    try {
      const result = await tasks.submit(
        {
          type: 'StartAiTask',
          aggregateId: taskId,
          expectedVersion: commit.version,
          idempotencyKey: `${taskId}:start:${attempt}`,
          data: { workerId },
        },
        context,
      );
      version = result.version;
      if (result.duplicate) throw new AttemptLostError('started');
    } catch (err) {
      claiming.delete(taskId);
      if (!isRejection(err) && !(err instanceof AttemptLostError)) {
        span.end(err);
        throw err;
      }
      log.debug({ reason: (err as Error).message }, 'not claimed: another worker has it or it moved on');
      span.setAttributes({ 'lightdom.ai_task.claimed': false });
      const verdict = await superviseClaim(taskId, attempt, context, log).finally(() => span.end());
      if (verdict === 'recheck') msg.nak(opts.ackWaitMs);
      else msg.ack();
      return;
    }
    metrics.started.inc();
    log.info({ workerId }, 'AI task started');
    const attemptRun = runClaimed({ nc, tasks, store, metrics, running }, settings, {
      taskId,
      attempt,
      version,
      context,
      msg,
      log,
    });
    void attemptRun.done.then(
      () => span.end(),
      (err: unknown) => span.end(err),
    );
    claiming.delete(taskId);
  }

  /**
   * The attempt this message asked for was claimed by someone else (or by an earlier
   * incarnation of this worker). While its claimant runs it, the message is checked again
   * later; once the claimant is gone, or alive but no longer running it, the attempt is
   * failed retryable so the task goes back to `requested` and starts afresh.
   */
  async function superviseClaim(
    taskId: string,
    attempt: number,
    context: RequestContext,
    log: Logger,
  ): Promise<'done' | 'recheck'> {
    const loaded = await tasks.repository.load(aiTaskAggregate, taskId, { verify: true });
    const state = loaded.state as AiTaskState;
    if (state.status !== 'started' || state.attempts !== attempt || running.has(taskId)) return 'done';
    const claimant = state.workerId ?? '';
    const answer =
      claimant === workerId
        ? 'idle'
        : await askClaimant(nc, presenceSubject(stream, claimant), taskId, opts.presenceTimeoutMs);
    if (answer === 'running' || answer === 'unknown') {
      log.debug({ claimant, answer }, 'the claimant still runs it (or may); checking again later');
      return 'recheck';
    }
    try {
      await tasks.submit(
        {
          type: 'FailAiTask',
          aggregateId: taskId,
          expectedVersion: loaded.version,
          idempotencyKey: `${taskId}:fail:${attempt}`,
          data: abandonedFailure(attempt, state.workerId),
        },
        context,
      );
      metrics.failed.inc({ retryable: 'true' });
      log.warn({ claimant, answer }, 'AI task attempt abandoned by its worker; failed it retryable');
    } catch (err) {
      if (!isRejection(err)) throw err;
    }
    return 'done';
  }

  /** A missing default model is worth a warning, not a refusal: it may be pulled later. */
  async function warnIfDefaultModelMissing(): Promise<void> {
    try {
      const { models } = await ollama.list();
      if (!models.some((m) => m.name === opts.defaultModel || m.model === opts.defaultModel)) {
        logger.warn({ model: opts.defaultModel, ollama: opts.ollamaUrl }, 'default model is not pulled');
      }
    } catch (err) {
      logger.warn({ ollama: opts.ollamaUrl, reason: ollamaErrorReason(err) }, 'Ollama does not answer yet');
    }
  }

  return {
    async start() {
      stopping = false;
      presence ??= answerPresence(
        nc,
        presenceSubject(stream, workerId),
        (taskId) => running.has(taskId) || claiming.has(taskId),
      );
      await consumer.start();
      sweep?.start();
      logger.info({ workerId, concurrency: opts.concurrency, durable }, 'AI worker consuming');
      void warnIfDefaultModelMissing();
    },
    async stop() {
      stopping = true;
      await Promise.all([consumer.stop(), sweep?.stop()]);
      const attempts = [...running.values()];
      for (const a of attempts) a.control.stop('shutdown');
      await Promise.allSettled(attempts.map((a) => a.done));
      presence?.unsubscribe();
      presence = undefined;
    },
    running: () => [...running.keys()],
    sweep: () => sweep?.sweep() ?? Promise.resolve(0),
    checks: {
      nats: natsCheck(nc, deps.isConnected),
      consumer: () => consumer.check(),
      ollama: ollamaCheck(ollama, opts.ollamaUrl),
    },
  };
}
