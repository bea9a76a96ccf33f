import { z } from 'zod';

/** Environment pieces every service shares; each service composes its own schema. */
export const port = (fallback: number) =>
  z.coerce.number({ invalid_type_error: 'must be a port number' }).int().min(0).max(65535).default(fallback);

export const url = (protocols: string[], fallback: string) =>
  z
    .string()
    .default(fallback)
    .refine(
      (v) =>
        v.split(',').every((u) => {
          try {
            return protocols.includes(new URL(u.trim()).protocol.replace(':', ''));
          } catch {
            return false;
          }
        }),
      { message: `must be a URL with scheme ${protocols.join(' or ')}` },
    );

export const positiveInt = (fallback: number) =>
  z.coerce.number({ invalid_type_error: 'must be a number' }).int().positive().default(fallback);

export const streamName = (fallback: string) =>
  z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'must be letters, digits, _ or -')
    .default(fallback);

export const subjectToken = (fallback: string) =>
  z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'must be one subject token (letters, digits, _ or -)')
    .default(fallback);

/** The variables every service that touches the log reads. */
export const natsConfig = {
  NATS_URL: url(['nats', 'tls', 'ws', 'wss'], 'nats://127.0.0.1:4222'),
  EVENTS_STREAM: streamName('EVENTS'),
  EVENTS_SUBJECT_PREFIX: subjectToken('events'),
};

/**
 * The address a service listens on. Loopback unless told otherwise: a fresh machine exposes
 * nothing. Containers and hosts behind a proxy set `HOST=0.0.0.0` (or one interface).
 */
export const hostConfig = {
  HOST: z.string().min(1).default('127.0.0.1'),
};

/**
 * Time bounds of every fastify server (ms): a client that trickles its headers or body, or
 * holds a connection without traffic, is cut. `HTTP_HEADERS_TIMEOUT_MS` above
 * `HTTP_REQUEST_TIMEOUT_MS` acts as the request time-out.
 */
export const httpBoundsConfig = {
  /** The whole request, headers and body, must arrive within this; then 408 and the connection is closed. */
  HTTP_REQUEST_TIMEOUT_MS: positiveInt(30_000),
  /** The request headers must arrive within this; then 408 and the connection is closed. */
  HTTP_HEADERS_TIMEOUT_MS: positiveInt(10_000),
  /** A keep-alive connection with no new request for this long is closed. */
  HTTP_KEEP_ALIVE_TIMEOUT_MS: positiveInt(72_000),
  /** A connection with no bytes in either direction for this long is destroyed. */
  HTTP_CONNECTION_TIMEOUT_MS: positiveInt(120_000),
};

export interface HttpBounds {
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
  connectionTimeoutMs: number;
}

/** The parsed `httpBoundsConfig` variables as the options a server factory takes. */
export const httpBoundsFrom = (c: { [K in keyof typeof httpBoundsConfig]: number }): HttpBounds => ({
  requestTimeoutMs: c.HTTP_REQUEST_TIMEOUT_MS,
  headersTimeoutMs: c.HTTP_HEADERS_TIMEOUT_MS,
  keepAliveTimeoutMs: c.HTTP_KEEP_ALIVE_TIMEOUT_MS,
  connectionTimeoutMs: c.HTTP_CONNECTION_TIMEOUT_MS,
});

/** The defaults of `httpBoundsConfig`, for servers whose service does not configure them. */
export const defaultHttpBounds = (): HttpBounds => httpBoundsFrom(z.object(httpBoundsConfig).parse({}));

/**
 * `token:actor` pairs, comma-separated. Empty turns authentication off (local development).
 * @deprecated the old token → actor Map, kept while command-api, executor and ai-worker move
 * to `identityConfig` / `tokenRegistryFrom`; the last one to move deletes it.
 */
export const apiTokens = z
  .string()
  .default('')
  .transform((v, ctx) => {
    const map = new Map<string, string>();
    for (const pair of v.split(',').filter(Boolean)) {
      const [token, actor] = pair.split(':');
      if (!token || !actor) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be token:actor pairs separated by commas' });
        return z.NEVER;
      }
      map.set(token.trim(), actor.trim());
    }
    return map;
  });

/**
 * The bearer tokens a service accepts: the API's, and the ops routes' (`/ready` details).
 * @deprecated see {@link apiTokens}; use `identityConfig`.
 */
export const authConfig = {
  API_TOKENS: apiTokens,
};

/** Comma-separated origins, each exactly as a browser sends it (`http://localhost:3000`), or `*`. */
export const originList = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((v, ctx) => {
      const list = v
        .split(',')
        .map((o) => o.trim())
        .filter(Boolean);
      for (const o of list) {
        let origin: string | undefined;
        try {
          origin = new URL(o).origin;
        } catch {}
        if (o !== '*' && origin !== o) {
          ctx.addIssue({
            code: z.ZodIssueCode.custom,
            message: `must be origins such as http://localhost:3000 (got ${o})`,
          });
          return z.NEVER;
        }
      }
      return list;
    });
