import type { ServerOptions } from '@grpc/grpc-js';
import type { CommandApiConfig } from '../config.js';
import { configDefaults } from '../feed/options.js';

/**
 * How long a gRPC connection may live, idle or stall, and how much it may carry. grpc-js
 * opens its HTTP/2 session when the TCP connection arrives, so these also cut a
 * connection that never sends the preface: its keepalive ping goes unanswered (closed
 * after keepaliveTimeMs + keepaliveTimeoutMs) and it has no call (closed after
 * maxConnectionIdleMs), whichever comes first — measured in test/hostile/feed.grpc.
 */
export interface GrpcBounds {
  /** Ping a connection after this long without frames, in ms. */
  keepaliveTimeMs: number;
  /** Close a connection whose ping is not answered within this, in ms. */
  keepaliveTimeoutMs: number;
  /** Close (GOAWAY) a connection with no open call for this long, in ms. */
  maxConnectionIdleMs: number;
  /** Close (GOAWAY) every connection at this age (±10 % jitter), in ms. */
  maxConnectionAgeMs: number;
  /** Cut calls still open this long after the age GOAWAY, in ms. */
  maxConnectionAgeGraceMs: number;
  /** Concurrent calls on one connection. */
  maxConcurrentStreams: number;
  /** Largest response message, in bytes. */
  maxSendMessageBytes: number;
}

export const grpcBounds = (c: CommandApiConfig): GrpcBounds => ({
  keepaliveTimeMs: c.GRPC_KEEPALIVE_TIME_MS,
  keepaliveTimeoutMs: c.GRPC_KEEPALIVE_TIMEOUT_MS,
  maxConnectionIdleMs: c.GRPC_MAX_CONNECTION_IDLE_MS,
  maxConnectionAgeMs: c.GRPC_MAX_CONNECTION_AGE_MS,
  maxConnectionAgeGraceMs: c.GRPC_MAX_CONNECTION_AGE_GRACE_MS,
  maxConcurrentStreams: c.GRPC_MAX_CONCURRENT_STREAMS,
  maxSendMessageBytes: c.GRPC_MAX_SEND_MESSAGE_BYTES,
});

/** The configuration's defaults, for callers that pass no options. */
export const grpcBoundsDefaults: GrpcBounds = Object.freeze(grpcBounds(configDefaults));

/** grpc-js server options for the bounds and the largest request. */
export const grpcChannelOptions = (b: GrpcBounds & { maxMessageBytes: number }): ServerOptions => ({
  'grpc.max_receive_message_length': b.maxMessageBytes,
  'grpc.max_send_message_length': b.maxSendMessageBytes,
  // Subscribe streams live long: find dead peers instead of writing into the void.
  'grpc.keepalive_time_ms': b.keepaliveTimeMs,
  'grpc.keepalive_timeout_ms': b.keepaliveTimeoutMs,
  'grpc.max_connection_idle_ms': b.maxConnectionIdleMs,
  'grpc.max_connection_age_ms': b.maxConnectionAgeMs,
  'grpc.max_connection_age_grace_ms': b.maxConnectionAgeGraceMs,
  'grpc.max_concurrent_streams': b.maxConcurrentStreams,
});
