import { hostname } from 'node:os';
import {
  hostConfig,
  identityConfig,
  natsConfig,
  parseConfig,
  port,
  positiveInt,
  type ServiceAuth,
  serviceAuthFrom,
  serviceTokenConfig,
  subjectToken,
  tracingConfig,
  url,
} from '@lightdom/runtime';
import { z } from 'zod';

/** The AI worker's environment; every variable also accepts `<NAME>_FILE`. */
export const aiWorkerConfigSchema = z.object({
  ...natsConfig,
  // OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME: traces over OTLP/HTTP when the endpoint is set.
  ...tracingConfig,
  ...hostConfig,
  // API_TOKENS, API_TOKENS_FILE, AUTH: the token registry every service reads; its holders see /ready's details.
  ...identityConfig,
  // SERVICE_TOKEN: the worker's own token (role service); required unless AUTH=off.
  ...serviceTokenConfig,
  /** Port of /health, /ready and /metrics. */
  PORT: port(3004),
  /** Base URL of the Ollama HTTP API. */
  OLLAMA_URL: url(['http', 'https'], 'http://127.0.0.1:11434'),
  /** Model used when an AI task names none. */
  AI_DEFAULT_MODEL: z.string().min(1).default('deepseek-r1:7b'),
  /** Name of the durable JetStream consumer; workers sharing it compete for tasks. */
  AI_WORKER_DURABLE: subjectToken('ai-worker'),
  /** Names this worker in `AiTaskStarted`; must differ between running workers. Default `<hostname>-<pid>`. */
  AI_WORKER_ID: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .default(() => `${hostname()}-${process.pid}`),
  /** Tasks this worker runs at a time. */
  AI_WORKER_CONCURRENCY: positiveInt(2).pipe(z.number().max(64, 'must be at most 64')),
  /** One attempt's limit, in ms; past it the stream is aborted and the attempt fails retryable. 10 minutes. */
  AI_TASK_TIMEOUT_MS: positiveInt(600_000),
  /** Least time between two progress events of one task, in ms. */
  AI_PROGRESS_INTERVAL_MS: positiveInt(500),
  /** Delay before a retry attempt, in ms; doubles with every further attempt, at most 5 minutes. */
  AI_RETRY_DELAY_MS: positiveInt(5_000),
  /** How long JetStream waits for an ack (or a working signal) before it redelivers, in ms. */
  AI_WORKER_ACK_WAIT_MS: positiveInt(60_000).pipe(z.number().min(1_000, 'must be at least 1000')),
  /**
   * How often the task sweep looks for tasks with work due that no delivery did, in ms; 0
   * turns it off (docs/ai-worker.md, "Tasks no delivery reached").
   */
  AI_WORKER_SWEEP_MS: z.coerce.number({ invalid_type_error: 'must be a number' }).int().min(0).default(30_000),
  /** How long a task's newest commit stays the newest before the sweep acts on it, in ms. */
  AI_WORKER_SWEEP_IDLE_MS: positiveInt(120_000).pipe(z.number().min(1000, 'must be at least 1000')),
});

/** The parsed variables, with the token registry and the worker's own identity resolved from them. */
export type AiWorkerConfig = z.infer<typeof aiWorkerConfigSchema> & ServiceAuth;

/**
 * Throws a ConfigError naming every bad variable, and refuses a missing `SERVICE_TOKEN`
 * (unless `AUTH=off`), one the registry does not hold, or one whose role is not `service`
 * (or `admin`).
 */
export function loadAiWorkerConfig(env: NodeJS.ProcessEnv = process.env): AiWorkerConfig {
  const config = parseConfig(aiWorkerConfigSchema, env);
  return { ...config, ...serviceAuthFrom(config, 'ai-worker') };
}
