import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** How an attempt ended, as this worker saw it. */
export type AttemptOutcome =
  /** `AiTaskCompleted` recorded. */
  | 'completed'
  /** `AiTaskFailed` recorded (retryable or not). */
  | 'failed'
  /** The task was cancelled while running; nothing recorded. */
  | 'cancelled'
  /** Another worker declared the attempt abandoned, or started the next one; nothing recorded. */
  | 'superseded'
  /** The outcome could not be written (NATS unavailable); the message is left for redelivery. */
  | 'unrecorded';

export type AiWorkerMetrics = ReturnType<typeof createAiWorkerMetrics>;

export function createAiWorkerMetrics(registry: Registry) {
  const registers = [registry];
  return {
    events: new Counter({
      name: 'lightdom_ai_worker_events_total',
      help: 'AI task events the worker received and acknowledged, by event type',
      labelNames: ['type'],
      registers,
    }),
    undecodable: new Counter({
      name: 'lightdom_ai_worker_undecodable_messages_total',
      help: 'Messages on AI task subjects that were not a commit; terminated without redelivery',
      registers,
    }),
    started: new Counter({
      name: 'lightdom_ai_worker_tasks_started_total',
      help: 'Attempts this worker claimed (AiTaskStarted recorded)',
      registers,
    }),
    completed: new Counter({
      name: 'lightdom_ai_worker_tasks_completed_total',
      help: 'Attempts this worker completed (AiTaskCompleted recorded)',
      registers,
    }),
    failed: new Counter({
      name: 'lightdom_ai_worker_tasks_failed_total',
      help: 'Attempts this worker recorded as failed, including ones it found abandoned by a dead worker',
      labelNames: ['retryable'],
      registers,
    }),
    cancelled: new Counter({
      name: 'lightdom_ai_worker_tasks_cancelled_total',
      help: 'Attempts this worker stopped because the task was cancelled or taken over',
      labelNames: ['outcome'],
      registers,
    }),
    duration: new Histogram({
      name: 'lightdom_ai_worker_task_duration_seconds',
      help: 'Wall time of one attempt from its start to its outcome, by outcome',
      labelNames: ['outcome'],
      buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1200],
      registers,
    }),
    tokens: new Counter({
      name: 'lightdom_ai_worker_tokens_total',
      help: 'Tokens of completed attempts, by kind (prompt or completion)',
      labelNames: ['kind'],
      registers,
    }),
    inFlight: new Gauge({
      name: 'lightdom_ai_worker_tasks_in_flight',
      help: 'Attempts running on this worker now',
      registers,
    }),
  };
}
