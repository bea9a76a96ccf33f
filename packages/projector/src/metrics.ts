import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type ProjectorMetrics = ReturnType<typeof createProjectorMetrics>;

/** The projector's metrics; `projection` labels take only the configured projections' names. */
export function createProjectorMetrics(registry: Registry, projections: readonly string[]) {
  const metrics = {
    applied: new Counter({
      name: 'lightdom_projector_commits_applied_total',
      help: 'Commits applied',
      registers: [registry],
    }),
    checkpoint: new Gauge({
      name: 'lightdom_projector_checkpoint',
      help: 'Last applied position',
      registers: [registry],
    }),
    lag: new Gauge({
      name: 'lightdom_projector_lag',
      help: 'Commits in the log not yet applied (log head minus checkpoint)',
      registers: [registry],
    }),
    batchSeconds: new Histogram({
      name: 'lightdom_projector_batch_duration_seconds',
      help: 'Time to apply one batch',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [registry],
    }),
    skipped: new Counter({
      name: 'lightdom_projector_skipped_messages_total',
      help: 'Messages on the stream that were not commits (skipped, checkpoint moved past them)',
      registers: [registry],
    }),
    redisErrors: new Counter({
      name: 'lightdom_projector_redis_errors_total',
      help: 'Batches whose hot views could not be written',
      registers: [registry],
    }),
    projectionLag: new Gauge({
      name: 'lightdom_projection_lag',
      help: 'Commits in the log a projection has not applied yet (log head minus its checkpoint), as of its last batch',
      labelNames: ['projection'],
      registers: [registry],
    }),
    stuck: new Gauge({
      name: 'lightdom_projection_stuck',
      help: 'Position of the commit a projection cannot apply and waits on (0 when it is not stuck)',
      labelNames: ['projection'],
      registers: [registry],
    }),
    skippedCommits: new Counter({
      name: 'lightdom_projection_skipped_commits_total',
      help: 'Commits a projection passed over on an operator decision (lightdom projections skip)',
      labelNames: ['projection'],
      registers: [registry],
    }),
  };
  for (const projection of projections) {
    metrics.stuck.set({ projection }, 0);
    metrics.projectionLag.set({ projection }, 0);
    metrics.skippedCommits.inc({ projection }, 0);
  }
  return metrics;
}
