import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import { bearerToken } from './bearer.js';
import { defaultHttpBounds, type HttpBounds } from './configPieces.js';
import { Fastify, httpServerOptions, quietRequestLogs } from './fastify.js';
import type { TokenRegistry } from './identity.js';
import type { Logger } from './logger.js';

/** A readiness check: resolves when the dependency answers, throws when it does not. */
export type ReadinessCheck = () => Promise<unknown>;

export interface OpsRoutesOptions {
  service: string;
  registry: Registry;
  checks: Record<string, ReadinessCheck>;
  /** Per-check time limit in ms. Default 1000. */
  checkTimeoutMs?: number;
  /**
   * The token registry (`identityConfig` → `tokenRegistryFrom`). A caller with a valid
   * bearer token (any role) sees `/ready`'s details (service, each check and its error, which
   * may name internal addresses) and may read `/metrics` from anywhere; everyone else gets
   * `/ready` as `{status}` and `/metrics` only from a loopback address (401 otherwise).
   * With `AUTH=off` (`enabled: false`) both are open to all, and a warning is logged.
   *
   * The old token → actor Map is still accepted while services move to the registry
   * (an empty Map then means the old "authentication off").
   */
  tokens?: TokenRegistry | ReadonlyMap<string, string>;
  /** More for `/ready`'s detailed answer (e.g. the projector's lag per projection), beside the checks. */
  details?: () => Record<string, unknown>;
}

/** Whether a socket's peer is this machine (127.0.0.0/8, ::1, or an IPv4-mapped 127.x). */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4.startsWith('127.') || address === '::1';
}

/** The ops routes' view of a token: is it valid, and is authentication on at all. */
function tokenCheck(tokens: OpsRoutesOptions['tokens']): { enabled: boolean; valid: (token: string) => boolean } {
  if (tokens === undefined) return { enabled: true, valid: () => false };
  if (tokens instanceof Map) return { enabled: tokens.size > 0, valid: (t) => tokens.has(t) };
  const registry = tokens as TokenRegistry;
  return { enabled: registry.enabled, valid: (t) => registry.lookup(t) !== undefined };
}

async function runCheck(check: ReadinessCheck, timeoutMs: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return 'ok';
  } catch (err) {
    return (err as Error).message || 'failed';
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `/health` (the process is alive), `/ready` (every dependency answers) and `/metrics`
 * (Prometheus text format).
 */
export function registerOpsRoutes(app: FastifyInstance, opts: OpsRoutesOptions): void {
  const timeoutMs = opts.checkTimeoutMs ?? 1000;
  app.get('/health', async () => ({ status: 'ok', service: opts.service, uptimeSeconds: process.uptime() }));
  const tokens = tokenCheck(opts.tokens);
  if (!tokens.enabled && !(opts.tokens instanceof Map)) {
    app.log.warn(
      { service: opts.service, auth: 'off' },
      `AUTHENTICATION IS OFF (AUTH=off): every caller of ${opts.service} is an anonymous admin, and /ready details and /metrics are open to anyone who can reach it. Never run like this outside a development machine.`,
    );
  }
  const hasToken = (req: FastifyRequest) => {
    if (!tokens.enabled) return true;
    const token = bearerToken(req.headers.authorization);
    return token !== undefined && tokens.valid(token);
  };
  const mayReadDetails = hasToken;
  // The socket's own peer, never X-Forwarded-For: behind a proxy the proxy is the peer, and
  // a forwarded header is whatever the client wrote.
  const mayReadMetrics = (req: FastifyRequest) => isLoopbackAddress(req.socket.remoteAddress) || hasToken(req);
  app.get('/ready', async (req, reply) => {
    const names = Object.keys(opts.checks);
    const results = await Promise.all(names.map((n) => runCheck(opts.checks[n]!, timeoutMs)));
    const ready = results.every((r) => r === 'ok');
    const status = ready ? 'ready' : 'not ready';
    reply.code(ready ? 200 : 503);
    if (!mayReadDetails(req)) return reply.send({ status });
    const checks = Object.fromEntries(names.map((n, i) => [n, results[i]]));
    return reply.send({ status, service: opts.service, checks, ...(opts.details?.() ?? {}) });
  });
  app.get('/metrics', async (req, reply) => {
    if (!mayReadMetrics(req)) {
      reply.code(401).header('www-authenticate', 'Bearer realm="metrics"').type('application/problem+json');
      return reply.send({
        type: 'https://lightdom.dev/problems/unauthorized',
        title: 'UNAUTHORIZED',
        status: 401,
        detail:
          '/metrics answers a loopback caller, or any caller with a valid bearer token (Authorization: Bearer <token>)',
        code: 'UNAUTHORIZED',
        retryable: false,
      });
    }
    reply.header('content-type', opts.registry.contentType);
    return opts.registry.metrics();
  });
}

export interface OpsServer {
  app: FastifyInstance;
  /** The address it listens on, e.g. `http://127.0.0.1:3002`. */
  url: string;
  close(): Promise<void>;
}

/** A small HTTP server with only the ops routes, for services without an API of their own. */
export async function startOpsServer(
  opts: OpsRoutesOptions & { host: string; port: number; logger: Logger; httpBounds?: HttpBounds },
): Promise<OpsServer> {
  // Probes every few seconds would drown the log; ops servers log no requests.
  const app = Fastify({
    loggerInstance: opts.logger,
    logController: quietRequestLogs(),
    ...httpServerOptions(opts.httpBounds ?? defaultHttpBounds()),
  }) as unknown as FastifyInstance;
  registerOpsRoutes(app, opts);
  const url = await app.listen({ host: opts.host, port: opts.port });
  return { app, url, close: () => app.close() };
}
