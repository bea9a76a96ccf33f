import { toCodedError } from '@lightdom/app';
import { type ErrorCode, isLightdomError, LightdomError } from '@lightdom/domain';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { problemTypeOf } from './problemPages.js';

/** HTTP status of every error code: the one mapping at this edge. */
export const httpStatusOf: Record<ErrorCode, number> = {
  VALIDATION_FAILED: 400,
  UNKNOWN_COMMAND: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  INVALID_TRANSITION: 409,
  CONCURRENCY_CONFLICT: 409,
  VERSION_MISMATCH: 412,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  INVARIANT_VIOLATION: 422,
  IDEMPOTENCY_KEY_REUSED: 422,
  LIMIT_EXCEEDED: 429,
  INTEGRITY_VIOLATION: 500,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  STALE_READ: 504,
};

const pathProblem = (message: string) =>
  new LightdomError('VALIDATION_FAILED', message, { issues: [{ field: '(path)', message }] });

/** fastify's messages may quote the request (a path, a header): an answer quotes at most this much. */
const bounded = (message: string) => (message.length > 200 ? `${message.slice(0, 200)}…` : message);

/** Turns fastify's own errors (routing, body parsing, limits) into domain errors that echo no path. */
function fromFastify(err: FastifyError): LightdomError {
  switch (err.code) {
    case 'FST_ERR_BAD_URL':
      return pathProblem('The path is not a valid URL (bad percent-encoding)');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return pathProblem('A path segment is longer than 100 characters');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new LightdomError('PAYLOAD_TOO_LARGE', err.message);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new LightdomError('UNSUPPORTED_MEDIA_TYPE', 'The body must be application/json', {
        issues: [{ field: '(body)', message: 'content-type must be application/json' }],
      });
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new LightdomError('VALIDATION_FAILED', err.message, {
        issues: [{ field: '(body)', message: err.message }],
      });
  }
  if (err instanceof SyntaxError || (err.statusCode && err.statusCode >= 400 && err.statusCode < 500)) {
    const message = bounded(err.message);
    return new LightdomError('VALIDATION_FAILED', message, { issues: [{ field: '(body)', message }] });
  }
  // Anything else is not the caller's doing: the core's one mapping makes it INTERNAL.
  return toCodedError(err);
}

export function toLightdomError(err: unknown): LightdomError {
  return isLightdomError(err) ? err : fromFastify(err as FastifyError);
}

/**
 * The problem's `instance`: this request, by its id (as in the logs and `X-Request-Id`),
 * never its URL, which may carry a token or a hostile path.
 */
export const instanceOf = (req: FastifyRequest) => `urn:lightdom:request:${req.id}`;

/** Sends an RFC 9457 problem document; `status` overrides the code's own only where HTTP has a finer one. */
export function sendProblem(
  reply: FastifyReply,
  err: LightdomError,
  instance?: string,
  status: number = httpStatusOf[err.code],
) {
  if (err.code === 'UNAVAILABLE') reply.header('retry-after', '1');
  return reply
    .code(status)
    .type('application/problem+json')
    .send({
      type: problemTypeOf(err.code),
      title: err.code,
      status,
      detail: err.message,
      code: err.code,
      retryable: err.retryable,
      ...(instance ? { instance } : {}),
      ...(err.issues ? { errors: err.issues } : {}),
      ...(err.details ? { details: err.details } : {}),
    });
}
