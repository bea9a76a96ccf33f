/**
 * The one catalogue of error codes. Every edge (HTTP, gRPC, AMQP, WebSocket) maps a
 * code to its own status exactly once; the domain never speaks a transport.
 */
export const ErrorCodes = {
  VALIDATION_FAILED: { retryable: false, message: 'The request is not valid' },
  UNKNOWN_COMMAND: { retryable: false, message: 'The command type is not known' },
  NOT_FOUND: { retryable: false, message: 'The resource does not exist' },
  ALREADY_EXISTS: { retryable: false, message: 'The aggregate already exists' },
  INVALID_TRANSITION: { retryable: false, message: 'The lifecycle does not allow this transition' },
  INVARIANT_VIOLATION: { retryable: false, message: 'The command would break an invariant' },
  CONCURRENCY_CONFLICT: { retryable: true, message: 'The aggregate changed concurrently' },
  VERSION_MISMATCH: { retryable: false, message: 'The expected version does not match' },
  IDEMPOTENCY_KEY_REUSED: {
    retryable: false,
    message: 'The idempotency key was used for a different command',
  },
  PAYLOAD_TOO_LARGE: { retryable: false, message: 'The request body is too large' },
  UNSUPPORTED_MEDIA_TYPE: { retryable: false, message: 'The request body must be JSON' },
  UNAUTHORIZED: { retryable: false, message: 'Credentials are missing or wrong' },
  /** The caller is known but its role does not allow this. */
  FORBIDDEN: { retryable: false, message: 'The caller may not do this' },
  UNAVAILABLE: { retryable: true, message: 'A backing service is unavailable' },
  /** A configured cap (e.g. subscriptions per socket or per process) is reached. */
  LIMIT_EXCEEDED: { retryable: true, message: 'A server limit is reached' },
  STALE_READ: { retryable: true, message: 'The read model has not reached the position yet' },
  INTEGRITY_VIOLATION: { retryable: false, message: 'The log failed an integrity check' },
  INTERNAL: { retryable: true, message: 'An unexpected error happened' },
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export interface FieldIssue {
  /** Dotted path of the offending field, e.g. `data.budget.amount`. */
  field: string;
  message: string;
}

export interface LightdomErrorOptions {
  details?: Record<string, unknown>;
  issues?: FieldIssue[];
  cause?: unknown;
}

export class LightdomError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;
  readonly issues: FieldIssue[] | undefined;

  constructor(code: ErrorCode, message?: string, options: LightdomErrorOptions = {}) {
    super(message ?? ErrorCodes[code].message, { cause: options.cause });
    this.name = 'LightdomError';
    this.code = code;
    this.retryable = ErrorCodes[code].retryable;
    this.details = options.details;
    this.issues = options.issues;
  }
}

export function isLightdomError(err: unknown, code?: ErrorCode): err is LightdomError {
  return err instanceof LightdomError && (code === undefined || err.code === code);
}

export const validationError = (issues: FieldIssue[], message?: string): LightdomError =>
  new LightdomError('VALIDATION_FAILED', message ?? `Invalid ${issues.map((i) => i.field || '(body)').join(', ')}`, {
    issues,
  });
