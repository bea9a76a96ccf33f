/**
 * The server's limits in memory, time and count. The embedding application supplies them
 * all (LightDom: from the `AMQP_*` variables of its config schema, where the defaults live;
 * `docs/amqp.md` lists them under "Bounds and defaults").
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
