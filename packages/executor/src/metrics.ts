import type { CommandResult } from '@lightdom/domain';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Every series the executor exports; names start with `lightdom_executor_`. */
export function createExecutorMetrics(registry: Registry, activeTimers: () => number) {
  const registers = [registry];
  const m = {
    events: new Counter({
      name: 'lightdom_executor_events_total',
      help: 'Workflow run events the executor handled (first delivery of their commit), by event type',
      labelNames: ['type'],
      registers,
    }),
    undecodable: new Counter({
      name: 'lightdom_executor_undecodable_messages_total',
      help: 'Messages on workflow run subjects that were not a commit; terminated without redelivery',
      registers,
    }),
    runs: new Counter({
      name: 'lightdom_executor_runs_total',
      help: 'Workflow runs the executor started, and runs that succeeded or failed by its commands',
      labelNames: ['outcome'],
      registers,
    }),
    steps: new Counter({
      name: 'lightdom_executor_steps_total',
      help: 'Step attempts started and their recorded outcomes, by step type',
      labelNames: ['type', 'outcome'],
      registers,
    }),
    timeouts: new Counter({
      name: 'lightdom_executor_step_timeouts_total',
      help: 'Step attempts failed because they passed their deadline or HTTP timeout, by step type',
      labelNames: ['type'],
      registers,
    }),
    stepDuration: new Histogram({
      name: 'lightdom_executor_step_duration_seconds',
      help: 'Time from a step attempt starting to its recorded outcome, by step type and outcome',
      labelNames: ['type', 'outcome'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600],
      registers,
    }),
    commands: new Counter({
      name: 'lightdom_executor_commands_total',
      help: 'Commands the executor issued: applied, answered from idempotency (duplicate), or stale (state moved on)',
      labelNames: ['type', 'result'],
      registers,
    }),
    activities: new Gauge({
      name: 'lightdom_executor_activities_in_flight',
      help: 'Activities (HTTP calls, campaign commands, AI requests) running now, by step type',
      labelNames: ['type'],
      registers,
    }),
    handlerErrors: new Counter({
      name: 'lightdom_executor_handler_errors_total',
      help: 'Commits whose handling failed and was left to redelivery, by consumer',
      labelNames: ['consumer'],
      registers,
    }),
    sweepNudges: new Counter({
      name: 'lightdom_executor_sweep_nudges_total',
      help: 'Runs the run sweep found idle with work due and decided again (a delivery that never came: see docs/executor.md)',
      registers,
    }),
    staleReads: new Counter({
      name: 'lightdom_executor_stale_reads_total',
      help: 'Deliveries of a run commit whose first read of the run did not yet hold that commit (read again, or redelivered)',
      registers,
    }),
    scheduleFires: new Counter({
      name: 'lightdom_executor_schedule_fires_total',
      help: 'Schedule slots this executor tried to fire: fired, taken (another executor fired it first) or failed (left to the next tick)',
      labelNames: ['result'],
      registers,
    }),
  };
  new Gauge({
    name: 'lightdom_executor_active_timers',
    help: 'Timers (delays, retries, deadlines) this executor armed in JetStream that have not fallen due',
    registers,
    collect() {
      this.set(activeTimers());
    },
  });
  return m;
}

export type ExecutorMetrics = ReturnType<typeof createExecutorMetrics>;

/** Counts what a command the executor issued did to its run and step. */
export function countResult(
  metrics: ExecutorMetrics,
  command: { type: string },
  result: CommandResult,
  step: { type: string; startedAt?: string | undefined } | undefined,
  now: Date,
): void {
  metrics.commands.inc({ type: command.type, result: result.duplicate ? 'duplicate' : 'applied' });
  if (result.duplicate) return;
  for (const event of result.events) {
    if (event === 'WorkflowRunStarted') metrics.runs.inc({ outcome: 'started' });
    else if (event === 'WorkflowRunSucceeded') metrics.runs.inc({ outcome: 'succeeded' });
    else if (event === 'WorkflowRunFailed') metrics.runs.inc({ outcome: 'failed' });
    else if (step) {
      const outcome = {
        WorkflowStepStarted: 'started',
        WorkflowStepSucceeded: 'succeeded',
        WorkflowStepFailed: 'failed',
        WorkflowStepRetryScheduled: 'retry_scheduled',
      }[event];
      if (!outcome) continue;
      metrics.steps.inc({ type: step.type, outcome });
      if (outcome !== 'started' && step.startedAt) {
        const seconds = Math.max(0, now.getTime() - Date.parse(step.startedAt)) / 1000;
        metrics.stepDuration.observe({ type: step.type, outcome }, seconds);
      }
    }
  }
}
