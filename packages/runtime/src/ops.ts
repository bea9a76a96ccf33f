import type { Logger } from '@lightdom/events';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { Fastify, quietRequestLogs } from './fastify.js';

/** A readiness check: resolves when the dependency answers, throws when it does not. */
export type ReadinessCheck = () => Promise<unknown>;

export interface OpsRoutesOptions {
  service: string;
  registry: Registry;
  checks: Record<string, ReadinessCheck>;
  /** Per-check time limit in ms. Default 1000. */
  checkTimeoutMs?: number;
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
  app.get('/ready', async (_req, reply) => {
    const names = Object.keys(opts.checks);
    const results = await Promise.all(names.map((n) => runCheck(opts.checks[n]!, timeoutMs)));
    const checks = Object.fromEntries(names.map((n, i) => [n, results[i]]));
    const ready = results.every((r) => r === 'ok');
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', service: opts.service, checks });
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
  opts: OpsRoutesOptions & { host: string; port: number; logger: Logger },
): Promise<OpsServer> {
  // Probes every few seconds would drown the log; ops servers log no requests.
  const app = Fastify({ loggerInstance: opts.logger, logController: quietRequestLogs() }) as unknown as FastifyInstance;
  registerOpsRoutes(app, opts);
  const url = await app.listen({ host: opts.host, port: opts.port });
  return { app, url, close: () => app.close() };
}
