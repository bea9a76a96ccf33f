import { type CommandApiConfig, commandApiConfigSchema } from '../config.js';

/**
 * The gateway's limits in memory, time and count (issue 7). Every default lives in the
 * config schema (`AMQP_*` variables); `docs/amqp.md` lists them under "Bounds and defaults".
 */
export interface AmqpBounds {
  /** Open connections (any state); later ones are refused at connection.open with 530. */
  maxConnections: number;
  /** From TCP accept to connection.open-ok, in ms; not reset by traffic. */
  handshakeTimeoutMs: number;
  /** Heartbeat proposed in connection.tune, in seconds. */
  heartbeatSeconds: number;
  /** Longest silence from a client, in ms, whatever heartbeat it negotiated. */
  idleTimeoutMs: number;
  /** Declared body bytes of unfinished publishes one connection may hold. */
  maxUnfinishedContentBytes: number;
  /** Ready messages and body bytes per transient queue before its overflow rule applies. */
  transientQueueMaxMessages: number;
  transientQueueMaxBytes: number;
  /** Body bytes of ready messages in all transient queues together. */
  transientTotalMaxBytes: number;
  /** Ceiling of every prefetch count; 0 (unlimited) means this. */
  maxPrefetch: number;
  /** RSS above which publishing connections are blocked, in bytes. */
  memoryHighWatermarkBytes: number;
  memoryCheckIntervalMs: number;
  /** Deepest nesting of field tables and arrays. */
  maxTableDepth: number;
}

type BoundsConfig = Pick<
  CommandApiConfig,
  | 'AMQP_MAX_CONNECTIONS'
  | 'AMQP_HANDSHAKE_TIMEOUT_MS'
  | 'AMQP_HEARTBEAT_SECONDS'
  | 'AMQP_IDLE_TIMEOUT_MS'
  | 'AMQP_MAX_UNFINISHED_CONTENT_BYTES'
  | 'AMQP_TRANSIENT_QUEUE_MAX_MESSAGES'
  | 'AMQP_TRANSIENT_QUEUE_MAX_BYTES'
  | 'AMQP_TRANSIENT_TOTAL_MAX_BYTES'
  | 'AMQP_MAX_PREFETCH'
  | 'AMQP_MEMORY_HIGH_WATERMARK_MB'
  | 'AMQP_MEMORY_CHECK_INTERVAL_MS'
  | 'AMQP_MAX_TABLE_DEPTH'
>;

/** The bounds of a parsed command-api configuration. */
export function amqpBoundsOf(c: BoundsConfig): AmqpBounds {
  return {
    maxConnections: c.AMQP_MAX_CONNECTIONS,
    handshakeTimeoutMs: c.AMQP_HANDSHAKE_TIMEOUT_MS,
    heartbeatSeconds: c.AMQP_HEARTBEAT_SECONDS,
    idleTimeoutMs: c.AMQP_IDLE_TIMEOUT_MS,
    maxUnfinishedContentBytes: c.AMQP_MAX_UNFINISHED_CONTENT_BYTES,
    transientQueueMaxMessages: c.AMQP_TRANSIENT_QUEUE_MAX_MESSAGES,
    transientQueueMaxBytes: c.AMQP_TRANSIENT_QUEUE_MAX_BYTES,
    transientTotalMaxBytes: c.AMQP_TRANSIENT_TOTAL_MAX_BYTES,
    maxPrefetch: c.AMQP_MAX_PREFETCH,
    memoryHighWatermarkBytes: c.AMQP_MEMORY_HIGH_WATERMARK_MB * 1024 * 1024,
    memoryCheckIntervalMs: c.AMQP_MEMORY_CHECK_INTERVAL_MS,
    maxTableDepth: c.AMQP_MAX_TABLE_DEPTH,
  };
}

/** The defaults of the config schema, for a gateway created without a configuration. */
export const defaultAmqpBounds = (): AmqpBounds =>
  amqpBoundsOf(
    commandApiConfigSchema
      .pick({
        AMQP_MAX_CONNECTIONS: true,
        AMQP_HANDSHAKE_TIMEOUT_MS: true,
        AMQP_HEARTBEAT_SECONDS: true,
        AMQP_IDLE_TIMEOUT_MS: true,
        AMQP_MAX_UNFINISHED_CONTENT_BYTES: true,
        AMQP_TRANSIENT_QUEUE_MAX_MESSAGES: true,
        AMQP_TRANSIENT_QUEUE_MAX_BYTES: true,
        AMQP_TRANSIENT_TOTAL_MAX_BYTES: true,
        AMQP_MAX_PREFETCH: true,
        AMQP_MEMORY_HIGH_WATERMARK_MB: true,
        AMQP_MEMORY_CHECK_INTERVAL_MS: true,
        AMQP_MAX_TABLE_DEPTH: true,
      })
      .parse({}),
  );
