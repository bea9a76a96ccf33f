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
} from '@lightdom/runtime';
import { z } from 'zod';
import { type AllowEntry, parseAllowList } from './egress/addressPolicy.js';

const bucketName = (fallback: string) =>
  z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'must be letters, digits, _ or -')
    .default(fallback);

/** The executor's environment; every variable also accepts `<NAME>_FILE`. */
export const executorConfigSchema = z.object({
  ...natsConfig,
  // OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME: traces over OTLP/HTTP when the endpoint is set.
  ...tracingConfig,
  ...hostConfig,
  // API_TOKENS, API_TOKENS_FILE, AUTH: the token registry every service reads; its holders see /ready's details.
  ...identityConfig,
  // SERVICE_TOKEN: the executor's own token (role service); required unless AUTH=off.
  ...serviceTokenConfig,
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
  /** Largest http.request response body read, in bytes; a longer one fails the step for good. */
  HTTP_STEP_MAX_RESPONSE_BYTES: positiveInt(262_144).pipe(z.number().max(16_777_216, 'must be at most 16777216')),
  /**
   * Largest response body kept in a step's output, in bytes of its JSON encoding; a longer
   * one is kept as a prefix marked `truncated`. At most 256 KiB, so that a completion
   * commit (which may carry the output twice: the step's and the run's) fits in a NATS message.
   */
  HTTP_STEP_MAX_OUTPUT_BYTES: positiveInt(65_536).pipe(z.number().max(262_144, 'must be at most 262144')),
  /** Deepest nesting of a JSON response body; a deeper one fails the step for good. */
  HTTP_STEP_MAX_JSON_DEPTH: positiveInt(32).pipe(z.number().max(256, 'must be at most 256')),
  /** Characters of an error response's body quoted in the step's error. */
  HTTP_STEP_MAX_ERROR_BODY_CHARS: z.coerce
    .number({ invalid_type_error: 'must be a number' })
    .int()
    .min(0)
    .max(2000)
    .default(200),
  /** Redirects an http.request step follows, each checked by the egress policy. */
  HTTP_STEP_MAX_REDIRECTS: z.coerce.number({ invalid_type_error: 'must be a number' }).int().min(0).max(20).default(5),
  /**
   * What http.request steps may reach besides public addresses: comma-separated host
   * names, `host:port`, addresses, `address:port` or CIDRs (`n8n.internal:5678,10.8.0.0/16`).
   */
  HTTP_STEP_ALLOW: z
    .string()
    .default('')
    .transform((text, ctx) => {
      const { entries, problems } = parseAllowList(text);
      for (const message of problems) ctx.addIssue({ code: z.ZodIssueCode.custom, message });
      return entries;
    }),
  /** Directory of secret files (one per name) that `{"secret": NAME}` header values read when a step runs. */
  EXECUTOR_SECRETS_DIR: z.string().min(1).optional(),
  /**
   * Deliveries of one workflowRun commit before its steps stop being run: a later delivery
   * fails them for good with the reason instead of calling the target again.
   */
  EXECUTOR_MAX_DELIVERIES: positiveInt(5).pipe(z.number().max(100, 'must be at most 100')),
  /**
   * Longest one attempt of a chain.anchor step waits for the anchor service to anchor its
   * position, in ms; then the attempt fails retryably ("not anchored yet").
   */
  CHAIN_ANCHOR_WAIT_MS: positiveInt(60_000).pipe(z.number().max(3_600_000, 'must be at most 3600000')),
  /** How often a waiting chain.anchor step reads the log's checkpoints, in ms. */
  CHAIN_ANCHOR_POLL_MS: positiveInt(1000).pipe(z.number().min(10, 'must be at least 10')),
  /**
   * Longest one attempt of a wait.event step reads the log before failing retryably, in ms
   * (never past the step's deadline).
   */
  WAIT_EVENT_WAIT_MS: positiveInt(60_000).pipe(z.number().max(3_600_000, 'must be at most 3600000')),
  /** How often a waiting wait.event step reads its aggregate's events, in ms. */
  WAIT_EVENT_POLL_MS: positiveInt(500).pipe(z.number().min(10, 'must be at least 10')),
  /**
   * How often the run sweep looks for runs with work due that no delivery did, in ms; 0
   * turns it off (docs/executor.md, "A run requested but never started").
   */
  EXECUTOR_SWEEP_MS: z.coerce.number({ invalid_type_error: 'must be a number' }).int().min(0).default(30_000),
  /** How long a run's newest commit stays the newest before the sweep decides the run again, in ms. */
  EXECUTOR_SWEEP_IDLE_MS: positiveInt(120_000).pipe(z.number().min(1000, 'must be at least 1000')),
  /** `off`: this executor fires no schedules (others sharing the log still do). */
  EXECUTOR_SCHEDULES: z.enum(['on', 'off']).default('on'),
  /** How often the scheduler looks for due slots, in ms; a slot fires at most this late. */
  SCHEDULE_TICK_MS: positiveInt(1000).pipe(
    z.number().min(10, 'must be at least 10').max(60_000, 'must be at most 60000'),
  ),
  /** Model of an ai.generate step whose input names none. */
  AI_DEFAULT_MODEL: z.string().min(1).default('deepseek-r1:7b'),
  /** KV bucket remembering idempotency keys beyond JetStream's duplicate window (shared with command-api). */
  IDEMPOTENCY_BUCKET: bucketName('LIGHTDOM_IDEMPOTENCY'),
  IDEMPOTENCY_TTL_MS: positiveInt(24 * 3600_000),
});

/** The variables as parsed. */
export type ExecutorVariables = z.infer<typeof executorConfigSchema>;

/** The parsed variables, with the token registry and the executor's own identity resolved from them. */
export type ExecutorConfig = ExecutorVariables & ServiceAuth;

/**
 * Throws a ConfigError naming every bad variable, and refuses a missing `SERVICE_TOKEN`
 * (unless `AUTH=off`), one the registry does not hold, or one whose role is not `service`
 * (or `admin`).
 */
export function loadExecutorConfig(env: NodeJS.ProcessEnv = process.env): ExecutorConfig {
  const config = parseConfig(executorConfigSchema, env);
  return { ...config, ...serviceAuthFrom(config, 'executor') };
}

/** What http.request steps are allowed and how much of an answer they keep (see docs/executor.md). */
export interface HttpStepOptions {
  /** Timeout of a step without `timeoutMs`, in ms. */
  defaultTimeoutMs: number;
  /** Largest response body read, in bytes. */
  maxResponseBytes: number;
  /** Largest body kept in the output, in bytes of its JSON encoding. */
  maxOutputBytes: number;
  maxJsonDepth: number;
  maxErrorBodyChars: number;
  maxRedirects: number;
  /** Parsed `HTTP_STEP_ALLOW`. */
  allow: AllowEntry[];
  /** Where `{"secret": NAME}` values are read from; none: every secret is missing. */
  secretsDir?: string | undefined;
}

/** The http.request options of a parsed configuration. */
export const httpStepOptions = (config: ExecutorVariables): HttpStepOptions => ({
  defaultTimeoutMs: config.HTTP_STEP_DEFAULT_TIMEOUT_MS,
  maxResponseBytes: config.HTTP_STEP_MAX_RESPONSE_BYTES,
  maxOutputBytes: config.HTTP_STEP_MAX_OUTPUT_BYTES,
  maxJsonDepth: config.HTTP_STEP_MAX_JSON_DEPTH,
  maxErrorBodyChars: config.HTTP_STEP_MAX_ERROR_BODY_CHARS,
  maxRedirects: config.HTTP_STEP_MAX_REDIRECTS,
  allow: config.HTTP_STEP_ALLOW,
  secretsDir: config.EXECUTOR_SECRETS_DIR,
});

/** The defaults, from the schema (they are written nowhere else). */
export const defaultHttpStepOptions = (): HttpStepOptions => httpStepOptions(executorConfigSchema.parse({}));
