import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import { bearerToken } from './bearer.js';
import { defaultHttpBounds, type HttpBounds } from './configPieces.js';
import { Fastify, httpServerOptions, quietRequestLogs } from './fastify.js';
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
   * Bearer tokens (token → actor). When there are any, only their holders see `/ready`'s
   * details (service, each check and its error, which may name internal addresses);
   * everyone else gets `{status}`. Empty or absent: authentication is off, everyone sees them.
   */
  tokens?: ReadonlyMap<string, string>;
  /** More for `/ready`'s detailed answer (e.g. the projector's lag per projection), beside the checks. */
  details?: () => Record<string, unknown>;
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
  const mayReadDetails = (req: FastifyRequest) => {
    if (!opts.tokens || opts.tokens.size === 0) return true;
    const token = bearerToken(req.headers.authorization);
    return token !== undefined && opts.tokens.has(token);
  };
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
  app.get('/metrics', async (_req, reply) => {
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
