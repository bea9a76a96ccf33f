import {
  ConfigError,
  hostConfig,
  httpBoundsConfig,
  identityConfig,
  natsConfig,
  originList,
  parseConfig,
  parseTokenEntries,
  port,
  positiveInt,
  type TokenRegistry,
  tokenRegistryFrom,
  tracingConfig,
  url,
} from '@lightdom/runtime';
import { z } from 'zod';

export const commandApiConfigSchema = z.object({
  ...natsConfig,
  // OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME: traces over OTLP/HTTP when the endpoint is set.
  ...tracingConfig,
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
  /** `true` lets guest/guest log in over AMQP, as a reader (queues and events, no commands). */
  AMQP_ALLOW_GUEST: z
    .enum(['true', 'false'], { errorMap: () => ({ message: 'must be true or false' }) })
    .default('false')
    .transform((v) => v === 'true'),
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
  /**
   * Shared durable queues: how long JetStream waits for a gateway that pulled a message
   * (acks and progress beats) before handing the message to another gateway.
   */
  AMQP_SHARED_ACK_WAIT_MS: positiveInt(30_000),
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
  /** Redis holding the projector's hot views, which `/api/stats` reads first (Postgres when Redis is away). */
  REDIS_URL: url(['redis', 'rediss'], 'redis://127.0.0.1:6379'),
  /** The projector's REDIS_KEY_PREFIX. */
  REDIS_KEY_PREFIX: z.string().default('lightdom:'),
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
  /**
   * Replicas of the event stream when the command-api creates it (1: one server; 3 on a
   * JetStream cluster). An existing stream keeps its own; the idempotency and snapshot
   * buckets follow the stream's.
   */
  EVENTS_REPLICAS: z.coerce
    .number({ invalid_type_error: 'must be a number' })
    .int('must be a whole number')
    .min(1, 'must be at least 1')
    .max(5, 'must be at most 5 (JetStream allows 1 to 5)')
    .default(1),
  // --- AMQP bounds (issue 7) ---
  /** Open AMQP connections (any state) before new ones are refused at connection.open with 530. */
  AMQP_MAX_CONNECTIONS: positiveInt(1000),
  /** From TCP accept to connection.open-ok, in ms; not reset by traffic. RabbitMQ's handshake_timeout. */
  AMQP_HANDSHAKE_TIMEOUT_MS: positiveInt(10_000),
  /** Heartbeat the gateway proposes in connection.tune, in seconds (RabbitMQ's default). */
  AMQP_HEARTBEAT_SECONDS: positiveInt(60),
  /** A connection that sends nothing for this long is closed, whatever heartbeat it negotiated (0 too), in ms. */
  AMQP_IDLE_TIMEOUT_MS: positiveInt(300_000),
  /** Bytes of partially received publishes one connection may hold, all channels together. */
  AMQP_MAX_UNFINISHED_CONTENT_BYTES: positiveInt(16 * 1024 * 1024),
  /** Ready messages one transient queue holds before its overflow rule applies. */
  AMQP_TRANSIENT_QUEUE_MAX_MESSAGES: positiveInt(100_000),
  /** Body bytes of ready messages one transient queue holds before its overflow rule applies. */
  AMQP_TRANSIENT_QUEUE_MAX_BYTES: positiveInt(64 * 1024 * 1024),
  /** Body bytes of ready messages all transient queues of the process hold; above it publishes are rejected. */
  AMQP_TRANSIENT_TOTAL_MAX_BYTES: positiveInt(256 * 1024 * 1024),
  /** Unacknowledged deliveries per consumer (and per channel with global qos); qos 0 or more is capped to it. */
  AMQP_MAX_PREFETCH: positiveInt(1000),
  /** Process RSS, in MiB, above which publishing connections are blocked (connection.blocked). */
  AMQP_MEMORY_HIGH_WATERMARK_MB: positiveInt(1024),
  /** How often the RSS is compared with the watermark, in ms. */
  AMQP_MEMORY_CHECK_INTERVAL_MS: positiveInt(1000),
  /** Deepest nesting of field tables and arrays accepted in a frame; deeper is 502 SYNTAX_ERROR. */
  AMQP_MAX_TABLE_DEPTH: positiveInt(64),

  // --- HTTP and WebSocket bounds (issue 7) ---
  /** HTTP_REQUEST_TIMEOUT_MS, HTTP_HEADERS_TIMEOUT_MS, HTTP_KEEP_ALIVE_TIMEOUT_MS, HTTP_CONNECTION_TIMEOUT_MS. */
  ...httpBoundsConfig,
  /**
   * Origins (scheme://host:port) whose pages may open `/ws`, comma-separated; `*` allows any.
   * An upgrade without an Origin header (not a browser) is allowed.
   */
  WS_ALLOWED_ORIGINS: originList('http://localhost:3000,http://127.0.0.1:3000'),
  /** The server pings every socket this often; one that has not answered the last ping is closed (4408). */
  WS_PING_INTERVAL_MS: positiveInt(30_000),
  /** A socket that sends no frame and holds no subscription for this long is closed (4408). */
  WS_IDLE_TIMEOUT_MS: positiveInt(300_000),
  /** A socket that opened without an `Authorization` header must send its `auth` frame within this, in ms (else 4401). */
  WS_AUTH_TIMEOUT_MS: positiveInt(10_000),

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
  // --- Authentication (issue 8): API_TOKENS, API_TOKENS_FILE, AUTH ---
  ...identityConfig,
  // Checked here too, so a bad entry is reported with every other bad variable at once.
  API_TOKENS: identityConfig.API_TOKENS.superRefine((v, ctx) => {
    for (const message of parseTokenEntries(v).problems) ctx.addIssue({ code: z.ZodIssueCode.custom, message });
  }),
});

/** The variables, parsed. */
export type CommandApiConfig = z.infer<typeof commandApiConfigSchema>;
/** The variables and what is built from them at load time. */
export type LoadedCommandApiConfig = CommandApiConfig & {
  /** Who each configured token is (`API_TOKENS`/`API_TOKENS_FILE`); disabled with `AUTH=off`. */
  tokens: TokenRegistry;
};

/** The message a command-api with no token and authentication on stops with. */
export const noTokenProblem =
  'API_TOKENS: no token is configured and AUTH is on: set API_TOKENS or API_TOKENS_FILE ' +
  '(entries token:actor:role, e.g. s3cret:alice:admin), or AUTH=off to run with no authentication at all';

/**
 * Parses the environment. Secure by default: with authentication on (`AUTH` unset or `on`)
 * and no token configured, the command-api refuses to start (ConfigError, exit code 2)
 * rather than serve an API nobody can call or, worse, everybody can.
 */
export function loadCommandApiConfig(env: NodeJS.ProcessEnv = process.env): LoadedCommandApiConfig {
  const vars = parseConfig(commandApiConfigSchema, env);
  // API_TOKENS and API_TOKENS_FILE are merged (parseConfig leaves a schema's own NAME_FILE alone).
  const tokens = tokenRegistryFrom({
    API_TOKENS: vars.API_TOKENS,
    API_TOKENS_FILE: vars.API_TOKENS_FILE,
    AUTH: vars.AUTH,
  });
  if (tokens.enabled && tokens.size === 0) throw new ConfigError([noTokenProblem]);
  return { ...vars, tokens };
}

/** Every variable at its default, authentication on and no token (every call is a 401): for tests and option defaults. */
export const commandApiDefaults = (): LoadedCommandApiConfig => ({
  ...parseConfig(commandApiConfigSchema, {}),
  tokens: tokenRegistryFrom({ API_TOKENS: '', AUTH: 'on' }),
});
