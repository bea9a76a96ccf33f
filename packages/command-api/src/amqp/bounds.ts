import type { AmqpBounds } from '@lightdom/amqp-server';
import { type CommandApiConfig, commandApiConfigSchema } from '../config.js';

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

/** The AMQP server's bounds of a parsed command-api configuration (the defaults live in its schema). */
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
