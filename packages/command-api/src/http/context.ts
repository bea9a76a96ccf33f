import { randomUUID } from 'node:crypto';
import type { Credentials, RequestContext } from '@lightdom/app';
import { LightdomError } from '@lightdom/domain';
import { traceIdPattern } from '@lightdom/eventstore';
import { bearerToken } from '@lightdom/runtime';
import type { FastifyRequest } from 'fastify';

const header = (req: FastifyRequest, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/** What the caller presents: the `Authorization: Bearer <token>` header. The core decides who that is. */
export const credentialsOf = (req: FastifyRequest): Credentials => ({ token: bearerToken(req.headers.authorization) });

/**
 * `X-Correlation-Id` when it is 1-128 characters of A-Z, a-z, 0-9, `.`, `_`, `:` or `-`;
 * otherwise (absent, too long, other characters) the request id replaces it. The answer's
 * `X-Correlation-Id` header says which one the request carries.
 */
export function correlationIdOf(req: FastifyRequest): string {
  const given = header(req, 'x-correlation-id');
  return given !== undefined && traceIdPattern.test(given) ? given : req.id;
}

/** `X-Request-Id` under the same rule as correlation ids, or a fresh id. */
export function requestIdOf(headers: Record<string, string | string[] | undefined>): string {
  const given = headers['x-request-id'];
  return typeof given === 'string' && traceIdPattern.test(given) ? given : randomUUID();
}

/** Where a call comes from: correlation id, this request as the causation, the trace. */
export function requestContext(req: FastifyRequest): RequestContext {
  const traceparent = header(req, 'traceparent');
  return {
    correlationId: correlationIdOf(req),
    causationId: req.id,
    edge: 'http',
    ...(traceparent ? { traceparent } : {}),
  };
}

/** `If-Match: "3"` (or `W/"3"`) → 3; the ETag of a campaign is its version. */
export function versionFromIfMatch(req: FastifyRequest): number | undefined {
  const v = header(req, 'if-match');
  if (!v || v === '*') return undefined;
  const m = /^(?:W\/)?"?(\d+)"?$/.exec(v.trim());
  if (!m) {
    throw new LightdomError('VALIDATION_FAILED', 'If-Match must be a version ETag such as "3"', {
      issues: [{ field: 'If-Match', message: 'must be a version ETag such as "3"' }],
    });
  }
  return Number(m[1]);
}

export const idempotencyKeyOf = (req: FastifyRequest) => header(req, 'idempotency-key');
