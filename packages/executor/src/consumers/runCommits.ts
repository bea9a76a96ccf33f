import { setTimeout as sleep } from 'node:timers/promises';
import {
  commandVisibility,
  type EventRecord,
  LightdomError,
  type StoredCommit,
  type WorkflowStepType,
} from '@lightdom/domain';
import { type AggregateRepository, inSpan, SpanKind, startSpan } from '@lightdom/eventstore';
import type { Logger } from '@lightdom/runtime';
import type { JsMsg } from 'nats';
import { type Activity, type ActivityOutcome, errorText } from '../activities/activity.js';
import { type Cause, causedContext } from '../context.js';
import { activitiesOf, type StepWork, timerOf } from '../engine/commitWork.js';
import { decideNext, type PlannedCommand } from '../engine/decideNext.js';
import { stepKey } from '../engine/keys.js';
import type { RunView } from '../engine/runView.js';
import type { Issuer, StepInfo, Submit } from '../issuer.js';
import type { ExecutorMetrics } from '../metrics.js';
import type { TimerBook } from '../timers.js';
import type { CommitHandler, Disposition } from './pullLoop.js';
import { recordStepOutcome } from './recordOutcome.js';

export interface RunCommitDeps {
  /** Records a command through the application core as the executor. */
  submit: Submit;
  /** Loads RunViews (runViewDecider). */
  runs: AggregateRepository;
  issuer: Issuer;
  activities: Record<WorkflowStepType, Activity>;
  metrics: ExecutorMetrics;
  timers: TimerBook;
  logger: Logger;
  clock: () => Date;
  /** Deliveries of one commit after which the steps it started are failed instead of run. */
  maxDeliveries: number;
}

/** Shortest wait before a timer's message comes back, so a timer that is already due cannot spin. */
const minTimerMs = 20;

export const loadRunView = async (runs: AggregateRepository, runId: string): Promise<RunView> =>
  (await runs.load('workflowRun', runId, { verify: true })).state as RunView;

/** In-process re-reads of a run whose read is behind the commit in hand, before the commit is handed back. */
const staleReadAttempts = 10;
const staleReadPauseMs = 100;

/**
 * The run as of at least `position` (the commit being handled). A read that does not yet
 * hold the commit the consumer just delivered comes from a stream leader that has not
 * applied everything its followers delivered (nats-server 2.9 after a leader change,
 * docs/executor.md "A run requested but never started"): deciding on it would see no run,
 * plan nothing and ack, and the run would never start. Re-read a few times, then throw
 * (UNAVAILABLE): the commit is redelivered instead of acknowledged.
 */
export async function loadRunViewAt(
  runs: AggregateRepository,
  runId: string,
  position: number,
  log?: Logger,
  onStale?: () => void,
): Promise<RunView> {
  for (let attempt = 1; ; attempt++) {
    const loaded = await runs.load('workflowRun', runId, { verify: true });
    if (loaded.position >= position) return loaded.state as RunView;
    if (attempt >= staleReadAttempts) {
      throw new LightdomError(
        'UNAVAILABLE',
        `the log read of run ${runId} ends at position ${loaded.position}, before the commit in hand (${position})`,
      );
    }
    if (attempt === 1) {
      onStale?.();
      log?.warn({ readPosition: loaded.position, position }, 'run read is behind the commit in hand; reading again');
    }
    runs.forget('workflowRun', runId);
    await sleep(staleReadPauseMs);
  }
}

export const stepInfo = (view: RunView, stepId: string | undefined, attempt?: number): StepInfo | undefined => {
  const step = stepId === undefined ? undefined : view.run.steps.find((s) => s.id === stepId);
  if (!step) return undefined;
  return { id: step.id, type: step.type, attempt, startedAt: view.stepStartedAt[step.id] };
};

/** The run commit handler, and a way to decide a run again without a delivery (the sweep). */
export type RunCommitHandler = CommitHandler & {
  /**
   * Issues what `decideNext` says is due for the run now, caused by its newest commit, with
   * the keys a delivery would use. True when that recorded something (a duplicate of what a
   * delivery already did is not counted).
   */
  nudge(runId: string, newest: StoredCommit): Promise<boolean>;
};

/**
 * Handles one workflowRun commit: the engine's loop.
 *
 * 1. Load the run (the newest state, not the commit's) and issue what `decideNext` says.
 * 2. Run the activities the commit asks for (a step it started) and record their outcomes.
 * 3. Ack, or hand the message back to JetStream until the timer it owns falls due.
 *
 * Every command carries its cause (correlation id, causing event, trace) and a key from
 * (run, step, attempt, action), so handling a commit twice (a redelivery, a competing
 * executor) has the effect of once. The run's own commands are internal and recorded as
 * the executor; a public one (a step's campaign command, its AI task, cancelling that
 * task) is authorised against the run's requester and records the executor as `via`.
 */
export function createRunCommitHandler(deps: RunCommitDeps): RunCommitHandler {
  const { runs, issuer, metrics, clock } = deps;

  /**
   * Each command gets its own span in the trace of the commit that caused it. Returns how
   * many of the commands were recorded now (not duplicates, not refused).
   */
  async function issuePlanned(
    runId: string,
    planned: PlannedCommand[],
    cause: Cause,
    view: RunView,
    log: Logger,
  ): Promise<number> {
    let recorded = 0;
    for (const p of planned) {
      const step = stepInfo(view, p.stepId, p.attempt);
      const result = await issuer.issue(
        { type: p.type, aggregateId: p.aggregateId, idempotencyKey: p.idempotencyKey, data: p.data },
        causedContext(cause),
        log,
        p.aggregateType === 'workflowRun' ? step : undefined,
        commandVisibility[p.type] === 'internal' ? undefined : { onBehalfOfRun: runId },
      );
      if (result && !result.duplicate && p.reason === 'deadline-passed' && p.type === 'FailWorkflowStep' && step) {
        metrics.timeouts.inc({ type: step.type });
      }
      if (result && !result.duplicate && result.events.length > 0) recorded++;
    }
    return recorded;
  }

  async function runActivity(
    runId: string,
    work: StepWork,
    cause: { commit: StoredCommit; traceparent: string | undefined },
    signal: AbortSignal,
    log: Logger,
  ): Promise<ActivityOutcome> {
    const { step, attempt } = work;
    // The step's span: what it calls (an HTTP target, the AI worker) and records hangs below it.
    return inSpan(
      `step ${step.type}`,
      cause.traceparent,
      { attributes: { 'lightdom.run.id': runId, 'lightdom.step.id': step.id, 'lightdom.step.attempt': attempt } },
      (span) => runActivityIn(runId, work, { ...cause, traceparent: span.traceparent }, signal, log),
    );
  }

  async function runActivityIn(
    runId: string,
    work: StepWork,
    cause: { commit: StoredCommit; traceparent: string | undefined },
    signal: AbortSignal,
    log: Logger,
  ): Promise<ActivityOutcome> {
    const { step, attempt } = work;
    const stepLog = log.child({ stepId: step.id, attempt, stepType: step.type });
    const context = causedContext({ commit: cause.commit, event: work.event, traceparent: cause.traceparent });
    metrics.activities.inc({ type: step.type });
    let outcome: ActivityOutcome;
    try {
      outcome = await deps.activities[step.type]({
        runId,
        work,
        position: cause.commit.position,
        context,
        submit: (command) => deps.submit(command, context, { onBehalfOfRun: runId }),
        signal,
        now: clock,
        logger: stepLog,
      });
    } finally {
      metrics.activities.dec({ type: step.type });
    }
    const info = { id: step.id, type: step.type, attempt, startedAt: work.startedAt };
    if (outcome.kind === 'complete' || outcome.kind === 'fail') {
      const result = await recordStepOutcome(issuer, runId, info, outcome, context, stepLog);
      if (outcome.kind === 'fail' && outcome.timedOut && result && !result.duplicate) {
        metrics.timeouts.inc({ type: step.type });
      }
    } else if (outcome.kind === 'abandoned') {
      stepLog.info('activity abandoned: the executor is stopping; the step will run again');
    }
    return outcome;
  }

  /**
   * A commit delivered more than `maxDeliveries` times (its handling kept failing, or the
   * executor died mid-call) does not run its steps again: each step it started
   * that is still running fails for good with the reason, so the target is not called
   * again and again. The key makes the failure one event however often this repeats.
   */
  async function giveUp(runId: string, commit: StoredCommit, view: RunView, deliveries: number, log: Logger) {
    const last = lastErrors.get(commit.position);
    for (const work of activitiesOf(commit.events, view)) {
      const { step, attempt } = work;
      const error = `the executor gave up on this step after ${deliveries - 1} deliveries of the commit that started it (EXECUTOR_MAX_DELIVERIES ${deps.maxDeliveries})${last ? `; last error: ${last}` : ''}`;
      log.warn({ stepId: step.id, attempt, deliveries }, 'giving up on a step whose commit keeps coming back');
      const context = causedContext({ commit, event: work.event });
      await issuer.record(
        {
          type: 'FailWorkflowStep',
          aggregateId: runId,
          idempotencyKey: stepKey(runId, step.id, attempt, 'give-up'),
          data: { stepId: step.id, error: errorText(error), retryable: false },
        },
        context,
        log,
        { id: step.id, type: step.type, attempt, startedAt: work.startedAt },
      );
    }
  }

  /** The last error of commits whose handling failed here, quoted when giving up on them. */
  const lastErrors = new Map<number, string>();
  const rememberError = (position: number, err: unknown) => {
    lastErrors.delete(position);
    lastErrors.set(position, String((err as Error)?.message ?? err).slice(0, 500));
    if (lastErrors.size > 1000) lastErrors.delete(lastErrors.keys().next().value as number);
  };

  async function nudge(runId: string, newest: StoredCommit): Promise<boolean> {
    const last = newest.events.at(-1);
    if (!last) return false;
    const log = deps.logger.child({
      correlationId: newest.correlationId,
      runId,
      position: newest.position,
      sweep: true,
    });
    const view = await loadRunViewAt(runs, runId, newest.position, log, () => metrics.staleReads.inc());
    const planned = decideNext(runId, view, clock());
    if (planned.length === 0) return false;
    const span = startSpan(`sweep ${newest.commandType}`, undefined, { attributes: { 'lightdom.run.id': runId } });
    try {
      const cause = { commit: newest, event: last, traceparent: span.traceparent };
      const recorded = await issuePlanned(runId, planned, cause, view, log);
      span.end();
      return recorded > 0;
    } catch (err) {
      span.end(err);
      throw err;
    }
  }

  const handler: CommitHandler = async (commit, msg, signal): Promise<Disposition> => {
    // One span per delivery of a run's commit, below the commit's own span.
    const span = startSpan(`execute ${commit.commandType}`, msg.headers?.get('traceparent') || undefined, {
      kind: SpanKind.CONSUMER,
      attributes: {
        'lightdom.run.id': commit.aggregateId,
        'lightdom.position': commit.position,
        'lightdom.delivery': msg.info.redeliveryCount,
      },
    });
    try {
      const disposition = await handleCommit(commit, msg, signal, span.traceparent);
      span.setAttributes({ 'lightdom.disposition': disposition.kind });
      span.end();
      return disposition;
    } catch (err) {
      span.end(err);
      rememberError(commit.position, err);
      throw err;
    }
  };

  /**
   * A run command the engine just issued that the reloaded run still needs was not
   * recorded, although the command handler answered (a refusal decided on a stale read,
   * or a duplicate the log does not hold): acknowledging now would leave the run where it
   * is with nothing to wake it. Throwing hands the commit back to JetStream instead.
   */
  function assertIssuedLanded(runId: string, planned: PlannedCommand[], view: RunView, log: Logger) {
    // Only commands on this run: what it planned for another aggregate (a parent's step, a
    // child run, an AI task) stays planned whatever became of it, because this run's state
    // does not record it.
    const own = planned.filter((p) => p.aggregateType === 'workflowRun' && p.aggregateId === runId);
    const issued = new Set(own.map((p) => p.idempotencyKey));
    if (issued.size === 0) return;
    const still = decideNext(runId, view, clock()).filter((p) => issued.has(p.idempotencyKey));
    if (still.length === 0) return;
    log.warn(
      { commands: still.map((p) => p.type) },
      'an issued command is not in the log; the commit will be redelivered',
    );
    throw new LightdomError(
      'UNAVAILABLE',
      `issued ${still.map((p) => p.type).join(', ')} for run ${runId}, but the run read afterwards does not hold it`,
    );
  }

  return Object.assign(handler, { nudge });

  async function handleCommit(
    commit: StoredCommit,
    msg: JsMsg,
    signal: AbortSignal,
    traceparent: string,
  ): Promise<Disposition> {
    const runId = commit.aggregateId;
    const log = deps.logger.child({ correlationId: commit.correlationId, runId, position: commit.position });
    if (msg.info.redeliveryCount === 1) for (const e of commit.events) metrics.events.inc({ type: e.type });
    const last: EventRecord | undefined = commit.events.at(-1);
    if (!last) return { kind: 'ack' };

    let view = await loadRunViewAt(runs, runId, commit.position, log, () => metrics.staleReads.inc());
    const deliveries = msg.info.redeliveryCount;
    const exhausted = deliveries > deps.maxDeliveries;
    if (exhausted) {
      await giveUp(runId, commit, view, deliveries, log);
      view = await loadRunView(runs, runId);
    }
    const planned = decideNext(runId, view, clock());
    if (planned.length > 0) {
      await issuePlanned(runId, planned, { commit, event: last, traceparent }, view, log);
      view = await loadRunView(runs, runId);
      assertIssuedLanded(runId, planned, view, log);
    }

    const works = exhausted ? [] : activitiesOf(commit.events, view);
    for (const work of works) {
      const outcome = await runActivity(runId, work, { commit, traceparent }, signal, log);
      if (outcome.kind === 'abandoned') return { kind: 'redeliver', delayMs: 0 };
    }
    if (works.length > 0) view = await loadRunView(runs, runId);

    const wake = timerOf(commit.events, view);
    if (!wake) return { kind: 'ack' };
    deps.timers.arm(commit.position, wake);
    const delayMs = Math.max(minTimerMs, wake.getTime() - clock().getTime());
    log.debug({ wakeAt: wake.toISOString(), delayMs }, 'timer armed');
    return { kind: 'redeliver', delayMs };
  }
}
