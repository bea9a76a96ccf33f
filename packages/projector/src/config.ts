import {
  hostConfig,
  identityConfig,
  natsConfig,
  parseConfig,
  port,
  positiveInt,
  type TokenRegistry,
  tokenRegistryFrom,
  tracingConfig,
  url,
} from '@lightdom/runtime';
import { z } from 'zod';

export const projectorConfigSchema = z.object({
  ...natsConfig,
  // OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME: traces over OTLP/HTTP when the endpoint is set.
  ...tracingConfig,
  ...hostConfig,
  // API_TOKENS / API_TOKENS_FILE / AUTH: token holders see /ready's details and /metrics from anywhere.
  ...identityConfig,
  PORT: port(3003),
  DATABASE_URL: url(['postgres', 'postgresql'], 'postgres://postgres@127.0.0.1:5432/lightdom'),
  DB_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*$/, 'must be a lower-case SQL identifier')
    .default('public'),
  REDIS_URL: url(['redis', 'rediss'], 'redis://127.0.0.1:6379'),
  REDIS_KEY_PREFIX: z.string().default('lightdom:'),
  REDIS_CHANNEL_PREFIX: z.string().default(''),
  PROJECTOR_DURABLE: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'must be letters, digits, _ or -')
    .default('projector'),
  // 2000: measured by `npm run bench` (projector-rebuild, docs/BENCHMARKS.md) against 25-500; a batch
  // still closes early when the consumer is caught up, so live latency does not wait for it.
  PROJECTOR_BATCH_SIZE: positiveInt(2000),
  /**
   * `off`: a batch's commit does not wait for Postgres to flush its WAL (about 1.5 ms each,
   * 10 ms and more at p99 here); a Postgres crash may lose the last batches, which are then
   * applied again from the log. `on`: every batch waits for the flush. See docs/decisions.md.
   */
  PROJECTOR_SYNCHRONOUS_COMMIT: z.enum(['on', 'off']).default('off'),
  // --- stalled projections (issue 7) ---
  /** While a projection is stalled: how often it retries the commit and looks for a skip decision, in ms. */
  PROJECTOR_STALL_RETRY_MS: positiveInt(5000),
  /** How often the hot views in Redis are checked (and rebuilt from Postgres when Redis lost them), in ms. */
  PROJECTOR_VIEWS_CHECK_MS: positiveInt(1000),
  /** Fault-suite switch; see ProjectorOptions.unsafeCheckpointOutsideTransaction. */
  PROJECTOR_UNSAFE_CHECKPOINT: z.enum(['0', '1']).default('0'),
  // --- scale-out (issue 15): one active projector per schema and durable, the others stand by ---
  /** `on`: hold a Postgres advisory lock before projecting; a second instance waits as a standby. */
  PROJECTOR_LEASE: z.enum(['on', 'off']).default('off'),
  /** While standing by: how often the lease is tried, in ms (the takeover time after the holder dies). */
  PROJECTOR_LEASE_RETRY_MS: positiveInt(500),
});

export type ProjectorConfig = z.infer<typeof projectorConfigSchema> & { tokens: TokenRegistry };

/** With the token registry built from API_TOKENS / API_TOKENS_FILE / AUTH (a bad entry names its variable). */
const withTokens = projectorConfigSchema.transform(
  (v, ctx): ProjectorConfig => ({ ...v, tokens: tokenRegistryFrom(v, ctx) }),
);

export const loadProjectorConfig = (env: NodeJS.ProcessEnv = process.env): ProjectorConfig =>
  parseConfig(withTokens, env);
