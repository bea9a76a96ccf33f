import type { ErrorCode } from '@lightdom/domain';

/**
 * The AMQP reply code of every LightDom error code: the one mapping at this edge. Command
 * results travel in reply messages, so these appear in the `lightdom-reply-code` header of
 * an error reply; UNAUTHORIZED is also the 403 that refuses a login, and FORBIDDEN the 403
 * that closes the channel of a command the identity may not send.
 */
export const amqpReplyCodeOf: Record<ErrorCode, number> = {
  VALIDATION_FAILED: 406,
  UNKNOWN_COMMAND: 406,
  UNSUPPORTED_MEDIA_TYPE: 406,
  PAYLOAD_TOO_LARGE: 311,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 405,
  INVALID_TRANSITION: 406,
  INVARIANT_VIOLATION: 406,
  IDEMPOTENCY_KEY_REUSED: 406,
  VERSION_MISMATCH: 406,
  CONCURRENCY_CONFLICT: 405,
  UNAUTHORIZED: 403,
  FORBIDDEN: 403,
  UNAVAILABLE: 506,
  LIMIT_EXCEEDED: 506,
  STALE_READ: 506,
  INTEGRITY_VIOLATION: 541,
  INTERNAL: 541,
};
