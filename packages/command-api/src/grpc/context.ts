import { randomUUID } from 'node:crypto';
import type { Metadata } from '@grpc/grpc-js';
import { type CommandMetadata, LightdomError } from '@lightdom/domain';

/** Who is calling and what the call belongs to, read from its metadata. */
export interface CallContext {
  actor: string;
  requestId: string;
  correlationId: string;
  traceparent?: string;
}

const first = (md: Metadata, key: string): string | undefined => {
  const v = md.get(key)[0];
  return typeof v === 'string' && v.length > 0 ? v : undefined;
};

/** The same bearer tokens as HTTP, in `authorization: Bearer <token>`; `anonymous` when auth is off. */
export function actorOf(md: Metadata, tokens: Map<string, string>): string {
  if (tokens.size === 0) return 'anonymous';
  const auth = first(md, 'authorization') ?? '';
  const token = auth.startsWith('Bearer ') ? auth.slice(7).trim() : undefined;
  const actor = token ? tokens.get(token) : undefined;
  if (!actor) throw new LightdomError('UNAUTHORIZED', 'A valid bearer token is required');
  return actor;
}

/** `x-request-id`, `x-correlation-id` and `traceparent` metadata, as the HTTP headers of the same names. */
export function callContext(md: Metadata, tokens: Map<string, string>): CallContext {
  const given = first(md, 'x-request-id');
  const requestId = given && given.length <= 200 ? given : randomUUID();
  const traceparent = first(md, 'traceparent');
  return {
    actor: actorOf(md, tokens),
    requestId,
    correlationId: first(md, 'x-correlation-id') ?? requestId,
    ...(traceparent ? { traceparent } : {}),
  };
}

export const commandMetadata = (ctx: CallContext): CommandMetadata => ({
  actor: ctx.actor,
  correlationId: ctx.correlationId,
  causationId: ctx.requestId,
  ...(ctx.traceparent ? { traceparent: ctx.traceparent } : {}),
});
