import type { Redis } from 'ioredis';
import type { DashboardStats } from '../queries/statsQueries.js';
import { topCampaignsCount } from '../queries/statsQueries.js';
import { type HotViewOptions, type HotViewType, hotViewKey, viewKeys } from './keys.js';

/** Reads the dashboard's numbers from the hot views; null while they are absent or being rebuilt. */
export function createHotViewReader(redis: Redis, opts: HotViewOptions) {
  const keys = viewKeys(opts);
  async function byStatus(type: HotViewType): Promise<Record<string, number>> {
    const statuses = (await redis.smembers(keys.statuses(type))).sort();
    if (statuses.length === 0) return {};
    const pipeline = redis.pipeline();
    for (const s of statuses) pipeline.scard(`${keys.statusPrefix(type)}${s}`);
    const counts = ((await pipeline.exec()) ?? []).map(([err, n]) => {
      if (err) throw err;
      return Number(n);
    });
    return Object.fromEntries(statuses.map((s, i) => [s, counts[i]!]).filter(([, n]) => (n as number) > 0));
  }
  return {
    /** The position the views reflect, or null when they are not complete. */
    async position(): Promise<number | null> {
      const p = await redis.get(keys.position);
      return p === null ? null : Number(p);
    },
    async stats(): Promise<(DashboardStats & { position: number }) | null> {
      const p = await redis.get(keys.position);
      if (p === null) return null;
      const [campaigns, runs, aiTasks, totals, top] = await Promise.all([
        byStatus('campaign'),
        byStatus('workflowRun'),
        byStatus('aiTask'),
        redis.hgetall(keys.totals('campaign')),
        redis.zrevrange(keys.bySpend, 0, topCampaignsCount - 1, 'WITHSCORES'),
      ]);
      const ids = top.filter((_, i) => i % 2 === 0);
      const names = ids.length
        ? await Promise.all(ids.map((id) => redis.hget(hotViewKey(opts, 'campaign', id), 'name')))
        : [];
      const n = (k: string) => Number(totals[k] ?? 0);
      return {
        campaigns: {
          byStatus: campaigns,
          totals: {
            impressions: n('impressions'),
            clicks: n('clicks'),
            conversions: n('conversions'),
            spend: n('spend_cents') / 100,
            budget: n('budget_cents') / 100,
          },
          topBySpend: ids.map((id, i) => ({ id, name: names[i] ?? '', spend: Number(top[i * 2 + 1]) })),
        },
        runs: { byStatus: runs },
        aiTasks: { byStatus: aiTasks },
        position: Number(p),
      };
    },
  };
}

export type HotViewReader = ReturnType<typeof createHotViewReader>;
