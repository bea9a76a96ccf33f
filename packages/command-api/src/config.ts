import { parseConfig } from '@lightdom/events';
import { hostConfig, natsConfig, port, positiveInt, url } from '@lightdom/runtime';
import { z } from 'zod';

/** `token:actor` pairs, comma-separated. Empty turns authentication off (local development). */
const apiTokens = z
  .string()
  .default('')
  .transform((v, ctx) => {
    const map = new Map<string, string>();
    for (const pair of v.split(',').filter(Boolean)) {
      const [token, actor] = pair.split(':');
      if (!token || !actor) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be token:actor pairs separated by commas' });
        return z.NEVER;
      }
      map.set(token.trim(), actor.trim());
    }
    return map;
  });

export const commandApiConfigSchema = z.object({
  ...natsConfig,
  ...hostConfig,
  PORT: port(3001),
  /** gRPC port; 0 picks a free one. */
  GRPC_PORT: port(50051),
  /** gRPC listen address; unset: the same as HOST. */
  GRPC_HOST: z.string().min(1).optional(),
  /** AMQP 0-9-1 port; 0 picks a free one. 5672 stays free for a real RabbitMQ. */
  AMQP_PORT: port(5673),
  /** AMQP listen address; unset: the same as HOST. */
  AMQP_HOST: z.string().min(1).optional(),
  /** JetStream stream holding durable AMQP queues' messages. */
  AMQP_STREAM: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'must be letters, digits, _ or -')
    .default('AMQP_QUEUES'),
  /** Subject prefix of that stream: `<prefix>.q.<queue>`. */
  AMQP_SUBJECT_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'must be one subject token')
    .default('amqp'),
  /** KV bucket holding durable exchanges, queues and bindings. */
  AMQP_TOPOLOGY_BUCKET: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'must be letters, digits, _ or -')
    .default('AMQP_TOPOLOGY'),
  DATABASE_URL: url(['postgres', 'postgresql'], 'postgres://postgres@127.0.0.1:5432/lightdom'),
  DB_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*$/, 'must be a lower-case SQL identifier')
    .default('public'),
  BODY_LIMIT_BYTES: positiveInt(1_048_576),
  READ_WAIT_TIMEOUT_MS: positiveInt(5000),
  PUBLISH_TIMEOUT_MS: positiveInt(1500),
  IDEMPOTENCY_BUCKET: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'must be letters, digits, _ or -')
    .default('LIGHTDOM_IDEMPOTENCY'),
  IDEMPOTENCY_TTL_MS: positiveInt(24 * 3600_000),
  SNAPSHOT_BUCKET: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'must be letters, digits, _ or -')
    .default('LIGHTDOM_SNAPSHOTS'),
  SNAPSHOT_EVERY: positiveInt(100),
  AGGREGATE_CACHE_SIZE: z.coerce.number().int().nonnegative().default(10_000),
  DUPLICATE_WINDOW_MS: positiveInt(120_000),
  // --- Feed and gRPC bounds (issue 7) ---
  // Every live subscription (WebSocket, gRPC, AMQP lightdom.events) is served by one feed
  // hub per process; see docs/api.md and docs/grpc.md, "Bounds and defaults".
  /** Live subscriptions one process serves at once (WebSocket + gRPC); more: LIMIT_EXCEEDED. */
  FEED_MAX_SUBSCRIPTIONS: positiveInt(1000),
  /** Subscriptions one WebSocket may hold; more: an error frame with LIMIT_EXCEEDED. */
  FEED_MAX_SUBSCRIPTIONS_PER_SOCKET: positiveInt(16),
  /** History reads (one short-lived JetStream consumer each) running at once for catching-up subscribers. */
  FEED_MAX_CONCURRENT_READS: positiveInt(4),
  /** Commits per history read of a catching-up subscriber. */
  FEED_READ_PAGE_COMMITS: z.coerce.number().int().min(1).max(1000).default(200),
  /** Live commits queued for one subscriber; past this a slow subscriber drops them and reads history instead. */
  FEED_QUEUE_COMMITS: positiveInt(256),
  /** Recent commits the hub keeps, so a subscriber just behind the head joins without a history read. */
  FEED_REPLAY_COMMITS: positiveInt(256),
  /** The hub deletes its JetStream consumer after this long without subscribers, in ms. */
  FEED_IDLE_STOP_MS: z.coerce.number().int().min(0).max(2_147_483_647).default(30_000),
  /**
   * gRPC: ping a connection after this long without frames, in ms (grpc.keepalive_time_ms).
   * A connection that never answers (a silent TCP client without the HTTP/2 preface, too)
   * is closed KEEPALIVE_TIME + KEEPALIVE_TIMEOUT after its last frame.
   */
  GRPC_KEEPALIVE_TIME_MS: z.coerce.number().int().min(1000).max(2_147_483_647).default(60_000),
  /** gRPC: close a connection whose ping is not answered within this, in ms (grpc.keepalive_timeout_ms). */
  GRPC_KEEPALIVE_TIMEOUT_MS: z.coerce.number().int().min(100).max(2_147_483_647).default(20_000),
  /** gRPC: close (GOAWAY) a connection with no call open for this long, in ms (grpc.max_connection_idle_ms). */
  GRPC_MAX_CONNECTION_IDLE_MS: z.coerce.number().int().min(100).max(2_147_483_647).default(300_000),
  /** gRPC: close (GOAWAY) any connection this old, in ms (grpc.max_connection_age_ms); clients reconnect and resume. */
  GRPC_MAX_CONNECTION_AGE_MS: z.coerce.number().int().min(1000).max(2_147_483_647).default(3_600_000),
  /** gRPC: calls still open this long after the age GOAWAY are cut, in ms (grpc.max_connection_age_grace_ms). */
  GRPC_MAX_CONNECTION_AGE_GRACE_MS: z.coerce.number().int().min(0).max(2_147_483_647).default(30_000),
  /** gRPC: concurrent calls (streams) on one connection (grpc.max_concurrent_streams). */
  GRPC_MAX_CONCURRENT_STREAMS: z.coerce.number().int().min(1).max(10_000).default(100),
  /** gRPC: largest response message, in bytes (grpc.max_send_message_length); requests use BODY_LIMIT_BYTES. */
  GRPC_MAX_SEND_MESSAGE_BYTES: positiveInt(16 * 1_048_576),
  API_TOKENS: apiTokens,
});

export type CommandApiConfig = z.infer<typeof commandApiConfigSchema>;

export const loadCommandApiConfig = (env: NodeJS.ProcessEnv = process.env) => parseConfig(commandApiConfigSchema, env);
