import { parseConfig } from '@lightdom/events';
import { authConfig, hostConfig, natsConfig, port, positiveInt, subjectToken } from '@lightdom/runtime';
import { z } from 'zod';

const bucketName = (fallback: string) =>
  z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'must be letters, digits, _ or -')
    .default(fallback);

/** The executor's environment; every variable also accepts `<NAME>_FILE`. */
export const executorConfigSchema = z.object({
  ...natsConfig,
  ...hostConfig,
  // API_TOKENS: only their holders see /ready's details (issue 7).
  ...authConfig,
  /** Port of /health, /ready and /metrics. */
  PORT: port(3002),
  /** Durable consumer of workflowRun commits; executors sharing it compete for work. */
  EXECUTOR_DURABLE: subjectToken('executor'),
  /** Durable consumer of aiTask commits (to learn when a requested AI task ended). */
  EXECUTOR_AI_DURABLE: subjectToken('executor-ai-tasks'),
  /** workflowRun commits handled at once (each may be running an activity). */
  EXECUTOR_CONCURRENCY: positiveInt(16).pipe(z.number().max(1000, 'must be at most 1000')),
  /** How long JetStream waits for an ack or heartbeat before redelivering, in ms. */
  EXECUTOR_ACK_WAIT_MS: positiveInt(30_000).pipe(z.number().min(1000, 'must be at least 1000')),
  /** Unacknowledged workflowRun commits allowed: running activities plus armed timers. */
  EXECUTOR_MAX_ACK_PENDING: positiveInt(10_000),
  /** Timeout of an http.request step that has no timeoutMs, in ms. */
  HTTP_STEP_DEFAULT_TIMEOUT_MS: positiveInt(30_000),
  /** Largest http.request response body kept as a step's output, in bytes. */
  HTTP_STEP_MAX_RESPONSE_BYTES: positiveInt(1_048_576),
  /** Model of an ai.generate step whose input names none. */
  AI_DEFAULT_MODEL: z.string().min(1).default('deepseek-r1:7b'),
  /** KV bucket remembering idempotency keys beyond JetStream's duplicate window (shared with command-api). */
  IDEMPOTENCY_BUCKET: bucketName('LIGHTDOM_IDEMPOTENCY'),
  IDEMPOTENCY_TTL_MS: positiveInt(24 * 3600_000),
});

export type ExecutorConfig = z.infer<typeof executorConfigSchema>;

/** Throws a ConfigError naming every bad variable. */
export const loadExecutorConfig = (env: NodeJS.ProcessEnv = process.env): ExecutorConfig =>
  parseConfig(executorConfigSchema, env);
