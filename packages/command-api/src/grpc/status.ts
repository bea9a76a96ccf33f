import { Metadata, type ServiceError, status as Status, type StatusObject } from '@grpc/grpc-js';
import { type ErrorCode, ErrorCodes, type FieldIssue, isLightdomError, LightdomError } from '@lightdom/domain';

/**
 * gRPC status of every error code: the one mapping at this edge. VERSION_MISMATCH is
 * ABORTED, as the gRPC guide asks for a failed test-and-set: the client should re-read
 * and decide again, not retry the same call (its `lightdom-retryable` is false).
 */
export const grpcStatusOf: Record<ErrorCode, Status> = {
  VALIDATION_FAILED: Status.INVALID_ARGUMENT,
  UNKNOWN_COMMAND: Status.INVALID_ARGUMENT,
  UNSUPPORTED_MEDIA_TYPE: Status.INVALID_ARGUMENT,
  NOT_FOUND: Status.NOT_FOUND,
  ALREADY_EXISTS: Status.ALREADY_EXISTS,
  INVALID_TRANSITION: Status.FAILED_PRECONDITION,
  INVARIANT_VIOLATION: Status.FAILED_PRECONDITION,
  IDEMPOTENCY_KEY_REUSED: Status.FAILED_PRECONDITION,
  VERSION_MISMATCH: Status.ABORTED,
  CONCURRENCY_CONFLICT: Status.ABORTED,
  UNAUTHORIZED: Status.UNAUTHENTICATED,
  FORBIDDEN: Status.PERMISSION_DENIED,
  UNAVAILABLE: Status.UNAVAILABLE,
  STALE_READ: Status.DEADLINE_EXCEEDED,
  PAYLOAD_TOO_LARGE: Status.RESOURCE_EXHAUSTED,
  LIMIT_EXCEEDED: Status.RESOURCE_EXHAUSTED,
  INTEGRITY_VIOLATION: Status.INTERNAL,
  INTERNAL: Status.INTERNAL,
};

/** Trailing metadata keys that carry the domain error next to the gRPC status. */
export const errorMetadataKeys = {
  code: 'lightdom-error-code',
  retryable: 'lightdom-retryable',
  /** JSON array of `{field, message}`. */
  issues: 'lightdom-errors',
  /** JSON object, e.g. `{"expectedVersion":1,"currentVersion":2}`. */
  details: 'lightdom-error-details',
} as const;

/** Metadata values must be printable ASCII: escape the rest as JSON `\u` sequences. */
const asciiJson = (value: unknown) =>
  JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/** Headers share one size limit (8 KiB by default): keep the issue list well below it. */
const maxIssuesBytes = 4096;

function issuesJson(issues: FieldIssue[]): string {
  let kept = issues.slice(0, 50);
  let json = asciiJson(kept);
  while (json.length > maxIssuesBytes && kept.length > 1) {
    kept = kept.slice(0, Math.ceil(kept.length / 2));
    json = asciiJson(kept);
  }
  return json.length > maxIssuesBytes ? asciiJson([{ field: kept[0]?.field ?? '', message: 'invalid' }]) : json;
}

export const toLightdomError = (err: unknown): LightdomError =>
  isLightdomError(err) ? err : new LightdomError('INTERNAL', undefined, { cause: err });

/** The status a handler fails a call with: code, message and the domain error in trailing metadata. */
export function toServiceError(err: LightdomError): Partial<StatusObject> & { code: Status; details: string } {
  const metadata = new Metadata();
  metadata.set(errorMetadataKeys.code, err.code);
  metadata.set(errorMetadataKeys.retryable, String(err.retryable));
  if (err.issues?.length) metadata.set(errorMetadataKeys.issues, issuesJson(err.issues));
  if (err.details) {
    const details = asciiJson(err.details);
    if (details.length <= maxIssuesBytes) metadata.set(errorMetadataKeys.details, details);
  }
  return { code: grpcStatusOf[err.code], details: err.message, metadata };
}

const isErrorCode = (v: unknown): v is ErrorCode => typeof v === 'string' && Object.hasOwn(ErrorCodes, v);

const parseJson = (v: unknown) => {
  try {
    return typeof v === 'string' ? (JSON.parse(v) as unknown) : undefined;
  } catch {
    return undefined;
  }
};

/**
 * For clients: the domain error behind a failed call, read back from its trailing
 * metadata. A status without it (a deadline, a dropped connection) becomes UNAVAILABLE
 * or INTERNAL.
 */
export function lightdomErrorOf(err: ServiceError): LightdomError {
  const md = err.metadata ?? new Metadata();
  const [code] = md.get(errorMetadataKeys.code);
  const issues = parseJson(md.get(errorMetadataKeys.issues)[0]);
  const details = parseJson(md.get(errorMetadataKeys.details)[0]);
  const fallback: ErrorCode =
    err.code === Status.UNAVAILABLE || err.code === Status.DEADLINE_EXCEEDED ? 'UNAVAILABLE' : 'INTERNAL';
  return new LightdomError(isErrorCode(code) ? code : fallback, err.details || undefined, {
    ...(Array.isArray(issues) ? { issues: issues as FieldIssue[] } : {}),
    ...(details && typeof details === 'object' ? { details: details as Record<string, unknown> } : {}),
    cause: err,
  });
}
