import { createMetricsRegistry, type Logger, startOpsServer } from '@lightdom/runtime';
import type { ProjectorConfig } from './config.js';
import { createProjectorLease, type ProjectorLease } from './lease.js';

/**
 * PROJECTOR_LEASE=on: waits until this instance holds the lease of its schema and durable.
 * Meanwhile a standby ops server answers /health (alive) and /ready 503 (standby) on the
 * projector's port, so an orchestrator neither restarts nor routes to a standby; it is
 * closed before the real one opens. A lost lease ends the process (exit 1): an instance
 * that cannot know whether a standby took over must not write another batch.
 */
export async function holdLease(config: ProjectorConfig, logger: Logger): Promise<ProjectorLease | undefined> {
  if (config.PROJECTOR_LEASE !== 'on') return undefined;
  const lease = createProjectorLease(
    { connectionString: config.DATABASE_URL, logger },
    {
      name: `lightdom-projector:${config.DB_SCHEMA}:${config.PROJECTOR_DURABLE}`,
      retryMs: config.PROJECTOR_LEASE_RETRY_MS,
    },
  );
  const standby = await startOpsServer({
    service: 'projector',
    host: config.HOST,
    port: config.PORT,
    logger,
    tokens: config.tokens,
    registry: createMetricsRegistry('projector'),
    checks: { lease: () => lease.check() },
  });
  try {
    await lease.acquire();
  } finally {
    await standby.close();
  }
  void lease.lost.then(() => process.exit(1));
  return lease;
}
