import type { Logger } from '@lightdom/runtime';
import type { HotViewReader } from '../hotViews/reader.js';
import type { DashboardStats, StatsQueries } from './statsQueries.js';

export interface DashboardStatsResult extends DashboardStats {
  /** Where the numbers came from: the Redis hot views, or Postgres when Redis is away, behind or rebuilding. */
  source: 'redis' | 'postgres';
}

/**
 * `/api/stats`: from the Redis hot views when they are complete and at least at
 * `minPosition`; from Postgres otherwise (Redis away, flushed and being rebuilt, behind).
 */
export function createDashboardStats(deps: {
  postgres: StatsQueries;
  redis?: HotViewReader;
  logger?: Logger;
  redisTimeoutMs?: number;
}) {
  return {
    async read(minPosition = 0): Promise<DashboardStatsResult> {
      if (deps.redis) {
        try {
          // Redis that does not answer soon counts as away.
          const hot = await Promise.race([
            deps.redis.stats(),
            new Promise<null>((resolve) => setTimeout(() => resolve(null), deps.redisTimeoutMs ?? 250).unref()),
          ]);
          if (hot && hot.position >= minPosition) {
            const { position: _position, ...stats } = hot;
            return { ...stats, source: 'redis' };
          }
        } catch (err) {
          deps.logger?.debug({ err: (err as Error).message }, 'hot views unreadable; stats from Postgres');
        }
      }
      return { ...(await deps.postgres.read()), source: 'postgres' };
    },
  };
}

export type DashboardStatsReader = ReturnType<typeof createDashboardStats>;
