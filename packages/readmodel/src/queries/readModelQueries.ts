import type { Logger } from '@lightdom/runtime';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import type { HotViewOptions } from '../hotViews/keys.js';
import { createHotViewReader } from '../hotViews/reader.js';
import { createAiTaskQueries } from './aiTaskQueries.js';
import { createCampaignQueries } from './campaignQueries.js';
import { createDashboardStats } from './dashboardStats.js';
import { createMetricsQueries } from './metricsQueries.js';
import { createRunQueries } from './runQueries.js';
import { createScheduleQueries } from './scheduleQueries.js';
import { createStatsQueries } from './statsQueries.js';
import { createWorkflowQueries } from './workflowQueries.js';

/**
 * Every query the edges run on the read model, over one pool and schema; `/api/stats`
 * also over the Redis hot views when a client is given.
 *
 * @example
 * const reads = createReadModelQueries({ pool, schema: 'public', redis }, { keyPrefix: 'lightdom:', channelPrefix: '' });
 * const run = await reads.runs.get(runId);
 */
export function createReadModelQueries(
  deps: { pool: pg.Pool; schema: string; redis?: Redis; logger?: Logger },
  hotViews?: HotViewOptions,
) {
  const { pool, schema } = deps;
  return {
    campaigns: createCampaignQueries(pool, schema),
    workflows: createWorkflowQueries(pool, schema),
    runs: createRunQueries(pool, schema),
    schedules: createScheduleQueries(pool, schema),
    aiTasks: createAiTaskQueries(pool, schema),
    metrics: createMetricsQueries(pool, schema),
    stats: createDashboardStats({
      postgres: createStatsQueries(pool, schema),
      ...(deps.redis && hotViews ? { redis: createHotViewReader(deps.redis, hotViews) } : {}),
      ...(deps.logger ? { logger: deps.logger } : {}),
    }),
  };
}

export type ReadModelQueries = ReturnType<typeof createReadModelQueries>;
