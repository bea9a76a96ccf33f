import type { Server, ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger, ReadinessCheck } from '@lightdom/runtime';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';

export interface HealthReporterOptions {
  /** Service names reported besides `""` (the whole server). */
  services: string[];
  /** Per-check time limit, in ms. Default 1000. */
  checkTimeoutMs: number;
  /** How often Watch subscribers are refreshed, in ms. Default 5000. */
  intervalMs: number;
  /** A Check reuses a result younger than this, in ms. Default 1000. */
  freshMs: number;
}

export interface HealthReporter {
  addToServer(server: Server): void;
  /** Runs the checks now (at most one run at a time); true when every one answered. */
  refresh(): Promise<boolean>;
  /** Reports NOT_SERVING from now on (the server is stopping) and stops refreshing. */
  shutdown(): void;
}

async function passes(check: ReadinessCheck, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Standard `grpc.health.v1.Health` (grpc-health-check's implementation) fed by the
 * readiness checks behind `/ready`: SERVING while every check answers, NOT_SERVING
 * otherwise. A Check runs the checks first (or reuses a result younger than `freshMs`);
 * Watch streams see a change within `intervalMs`.
 */
export function createHealthReporter(
  checks: Record<string, ReadinessCheck>,
  logger: Logger,
  options: Partial<HealthReporterOptions> = {},
): HealthReporter {
  const opts: HealthReporterOptions = {
    services: [],
    checkTimeoutMs: 1000,
    intervalMs: 5000,
    freshMs: 1000,
    ...options,
  };
  const names = ['', ...opts.services];
  const health = new HealthImplementation(Object.fromEntries(names.map((n) => [n, 'NOT_SERVING' as ServingStatus])));
  let stopped = false;
  let running: Promise<boolean> | undefined;
  let last: { at: number; ok: boolean } | undefined;

  const set = (status: ServingStatus) => {
    for (const name of names) health.setStatus(name, status);
  };

  function refresh(): Promise<boolean> {
    running ??= (async () => {
      const results = await Promise.all(
        Object.entries(checks).map(async ([name, check]) => [name, await passes(check, opts.checkTimeoutMs)] as const),
      );
      const ok = results.every(([, pass]) => pass);
      if (last && last.ok !== ok) {
        const failing = results.filter(([, pass]) => !pass).map(([name]) => name);
        if (ok) logger.info('grpc health: SERVING');
        else logger.warn({ failing }, 'grpc health: NOT_SERVING');
      }
      last = { at: Date.now(), ok };
      if (!stopped) set(ok ? 'SERVING' : 'NOT_SERVING');
      return ok;
    })().finally(() => {
      running = undefined;
    });
    return running;
  }

  const timer = setInterval(() => void refresh(), opts.intervalMs);
  timer.unref();

  return {
    refresh,
    shutdown() {
      stopped = true;
      clearInterval(timer);
      set('NOT_SERVING');
    },
    addToServer(server) {
      // The library answers Check from its status map; refresh the map first so a probe
      // sees the dependencies as they are now, not as they were at the last tick.
      health.addToServer({
        addService(service: ServiceDefinition, impl: UntypedServiceImplementation) {
          const check = impl.check as (call: unknown, callback: unknown) => void;
          server.addService(service, {
            ...impl,
            check: (call: unknown, callback: unknown) => {
              const fresh = last && Date.now() - last.at < opts.freshMs;
              void (fresh ? Promise.resolve() : refresh()).then(() => check(call, callback));
            },
          });
        },
      });
    },
  };
}
