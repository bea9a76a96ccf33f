import { randomUUID } from 'node:crypto';
import type { Metadata } from '@grpc/grpc-js';
import type { Application, RequestContext } from '@lightdom/app';
import type { Identity } from '@lightdom/domain';

/** Who is calling and what the call belongs to, read from its metadata. */
export interface CallContext {
  identity: Identity;
  requestId: string;
  correlationId: string;
  traceparent?: string;
}

const first = (md: Metadata, key: string): string | undefined => {
  const v = md.get(key)[0];
  return typeof v === 'string' && v.length > 0 ? v : undefined;
};

/** The token of `authorization: Bearer <token>`, if the metadata has one. */
export function bearerOf(md: Metadata): string | undefined {
  const auth = first(md, 'authorization') ?? '';
  return auth.startsWith('Bearer ') ? auth.slice(7).trim() : undefined;
}

/**
 * The caller as the core knows it (UNAUTHORIZED → UNAUTHENTICATED), and the `x-request-id`,
 * `x-correlation-id` and `traceparent` metadata, as the HTTP headers of the same names.
 */
export function callContext(md: Metadata, app: Pick<Application, 'authenticate'>): CallContext {
  const given = first(md, 'x-request-id');
  const requestId = given && given.length <= 200 ? given : randomUUID();
  const traceparent = first(md, 'traceparent');
  return {
    identity: app.authenticate({ token: bearerOf(md) }),
    requestId,
    correlationId: first(md, 'x-correlation-id') ?? requestId,
    ...(traceparent ? { traceparent } : {}),
  };
}

/** The core's request context of a call. */
export const requestContext = (ctx: CallContext): RequestContext => ({
  correlationId: ctx.correlationId,
  causationId: ctx.requestId,
  edge: 'grpc',
  ...(ctx.traceparent ? { traceparent: ctx.traceparent } : {}),
});
