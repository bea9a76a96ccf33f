import { randomUUID } from 'node:crypto';
import { type CommandMetadata, LightdomError } from '@lightdom/events';
import type { FastifyRequest } from 'fastify';

const header = (req: FastifyRequest, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/** Who is calling: a bearer token mapped to an actor, or `anonymous` when auth is off. */
export function actorOf(req: FastifyRequest, tokens: Map<string, string>): string {
  if (tokens.size === 0) return 'anonymous';
  const auth = header(req, 'authorization') ?? '';
  const token = auth.startsWith('Bearer ') ? auth.slice(7).trim() : undefined;
  const actor = token ? tokens.get(token) : undefined;
  if (!actor) throw new LightdomError('UNAUTHORIZED', 'A valid bearer token is required');
  return actor;
}

export const correlationIdOf = (req: FastifyRequest): string => header(req, 'x-correlation-id') ?? req.id;

export function commandMetadata(req: FastifyRequest, actor: string): CommandMetadata {
  const traceparent = header(req, 'traceparent');
  return {
    actor,
    correlationId: correlationIdOf(req),
    causationId: req.id,
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

export const newRequestId = () => randomUUID();
