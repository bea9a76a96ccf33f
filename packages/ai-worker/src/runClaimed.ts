import type { RequestContext } from '@lightdom/app';
import type { AiTaskState } from '@lightdom/domain';
import type { EventStore } from '@lightdom/eventstore';
import type { Logger } from '@lightdom/runtime';
import type { JsMsg, NatsConnection } from 'nats';
import { type AttemptControl, type AttemptReport, createAttemptControl, runAttempt } from './attempt.js';
import type { AiWorkerMetrics } from './metrics.js';
import { aiTaskAggregate, createTaskWriter, type TaskCommands } from './taskWriter.js';
import { foreignChange, watchTask } from './watchTask.js';

/** An attempt running on this worker. */
export interface RunningAttempt {
  attempt: number;
  /** The message that asked for the attempt; replaced when JetStream redelivers it to us. */
  msg: JsMsg;
  control: AttemptControl;
  /** Settles once the outcome is recorded and the message acked (or handed back). */
  done: Promise<void>;
}

export interface RunClaimedDeps {
  nc: NatsConnection;
  tasks: TaskCommands;
  store: EventStore;
  metrics: AiWorkerMetrics;
  /** Attempts running here, by task id; the attempt is in it until it settles. */
  running: Map<string, RunningAttempt>;
}

export interface RunClaimedSettings {
  subjectPrefix: string;
  workerId: string;
  ollamaUrl: string;
  defaultModel: string;
  taskTimeoutMs: number;
  progressIntervalMs: number;
  ackWaitMs: number;
  /** Delay before a message whose outcome could not be recorded is redelivered, in ms. */
  redeliverMs: number;
}

export interface ClaimedAttempt {
  taskId: string;
  attempt: number;
  /** The task's version after `AiTaskStarted`. */
  version: number;
  /** Caused by the commit that asked for the attempt, in its trace. */
  context: RequestContext;
  msg: JsMsg;
  log: Logger;
}

/** Acks, naks and working signals on a closed connection throw; they are best effort here. */
function signal(msg: JsMsg, log: Logger, what: 'ack' | 'nak' | 'working', delayMs?: number): void {
  try {
    if (what === 'ack') msg.ack();
    else if (what === 'nak') msg.nak(delayMs);
    else msg.working();
  } catch (err) {
    log.debug({ err, signal: what }, 'could not signal JetStream; it will redeliver');
  }
}

/**
 * Runs a claimed attempt in the background: keeps its message alive with working
 * signals, watches the task for cancellation, and acks once the outcome is recorded. An
 * outcome that could not be recorded hands the message back, so the attempt is found
 * abandoned and retried.
 */
export function runClaimed(
  deps: RunClaimedDeps,
  settings: RunClaimedSettings,
  claimed: ClaimedAttempt,
): RunningAttempt {
  const { tasks, metrics, running } = deps;
  const { taskId, attempt, log } = claimed;
  const control = createAttemptControl();
  const entry: RunningAttempt = { attempt, msg: claimed.msg, control, done: Promise.resolve() };
  running.set(taskId, entry);
  metrics.inFlight.set(running.size);
  const startedAt = performance.now();
  const heartbeat = setInterval(() => signal(entry.msg, log, 'working'), Math.max(200, settings.ackWaitMs / 3));
  const writer = createTaskWriter(tasks, {
    taskId,
    number: attempt,
    workerId: settings.workerId,
    version: claimed.version,
    context: claimed.context,
  });
  const watch = watchTask(
    deps.nc,
    { subjectPrefix: settings.subjectPrefix, aggregateType: aiTaskAggregate, taskId },
    (c) => {
      const change = foreignChange(c, writer.version);
      if (change) control.stop(change);
    },
  );
  const unwatch = () => {
    if (!watch.isClosed()) watch.unsubscribe();
  };

  async function run(): Promise<AttemptReport> {
    // The task (prompt, model, options) as the claim left it, from the handler's cache.
    const task = (await tasks.repository.load(aiTaskAggregate, taskId)).state as AiTaskState;
    // A change that landed between the claim and the subscription.
    const last = await deps.store.lastCommit(aiTaskAggregate, taskId);
    const early = last ? foreignChange(last, writer.version) : null;
    if (early) control.stop(early);
    return runAttempt({
      writer,
      control,
      logger: log,
      ollamaUrl: settings.ollamaUrl,
      workerId: settings.workerId,
      attempt,
      request: {
        model: task.model || settings.defaultModel,
        prompt: task.prompt,
        messages: task.messages,
        options: task.options,
      },
      timeoutMs: settings.taskTimeoutMs,
      progressIntervalMs: settings.progressIntervalMs,
      onStreamEnd: unwatch,
    });
  }

  entry.done = run()
    .then((report) => {
      metrics.duration.observe({ outcome: report.outcome }, (performance.now() - startedAt) / 1000);
      if (report.outcome === 'unrecorded') {
        signal(entry.msg, log, 'nak', settings.redeliverMs);
        return;
      }
      recordOutcome(metrics, log, report);
      signal(entry.msg, log, 'ack');
    })
    .catch((err: unknown) => {
      log.error({ err }, 'AI task attempt crashed; the task is left for redelivery');
      signal(entry.msg, log, 'nak', settings.redeliverMs);
    })
    .finally(() => {
      clearInterval(heartbeat);
      unwatch();
      running.delete(taskId);
      metrics.inFlight.set(running.size);
    });
  return entry;
}

function recordOutcome(metrics: AiWorkerMetrics, log: Logger, report: AttemptReport): void {
  switch (report.outcome) {
    case 'completed': {
      const { promptTokens = 0, completionTokens = 0, durationMs } = report.result ?? {};
      metrics.completed.inc();
      metrics.tokens.inc({ kind: 'prompt' }, promptTokens);
      metrics.tokens.inc({ kind: 'completion' }, completionTokens);
      log.info({ durationMs, promptTokens, completionTokens }, 'AI task completed');
      return;
    }
    case 'failed':
      metrics.failed.inc({ retryable: String(report.failure?.retryable ?? true) });
      log.warn({ ...report.failure }, 'AI task attempt failed');
      return;
    case 'cancelled':
    case 'superseded':
      metrics.cancelled.inc({ outcome: report.outcome });
      log.info({ outcome: report.outcome }, 'AI task attempt stopped');
      return;
    case 'unrecorded':
      return;
  }
}
