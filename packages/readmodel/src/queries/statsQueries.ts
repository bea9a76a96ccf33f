import type pg from 'pg';
import { qualified, readModelTables as t } from '../schema/tables.js';
import { readQuery } from './readQuery.js';

/** How many campaigns `topBySpend` lists. */
export const topCampaignsCount = 10;

export interface DashboardStats {
  campaigns: {
    byStatus: Record<string, number>;
    totals: { impressions: number; clicks: number; conversions: number; spend: number; budget: number };
    /** Highest spend first; equal spends by id, descending. */
    topBySpend: { id: string; name: string; spend: number }[];
  };
  runs: { byStatus: Record<string, number> };
  aiTasks: { byStatus: Record<string, number> };
}

const byStatus = (rows: { status: string; n: string }[]) =>
  Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));

/** The dashboard's numbers straight from the Postgres tables. */
export function createStatsQueries(pool: pg.Pool, schema: string) {
  const campaigns = qualified(schema, t.campaigns);
  return {
    async read(): Promise<DashboardStats> {
      const [c, top, runs, tasks] = await Promise.all([
        readQuery<{ status: string; n: string; i: string; c: string; v: string; s: string; b: string }>(
          pool,
          `select status, count(*) n, sum(impressions) i, sum(clicks) c, sum(conversions) v, sum(spend) s, sum(budget_amount) b
           from ${campaigns} group by status`,
        ),
        readQuery<{ id: string; name: string; spend: string }>(
          pool,
          `select id, name, spend from ${campaigns} order by spend desc, id desc limit ${topCampaignsCount}`,
        ),
        readQuery<{ status: string; n: string }>(
          pool,
          `select status, count(*) n from ${qualified(schema, t.workflowRuns)} group by status`,
        ),
        readQuery<{ status: string; n: string }>(
          pool,
          `select status, count(*) n from ${qualified(schema, t.aiTasks)} group by status`,
        ),
      ]);
      const totals = { impressions: 0, clicks: 0, conversions: 0, spend: 0, budget: 0 };
      for (const r of c.rows) {
        totals.impressions += Number(r.i);
        totals.clicks += Number(r.c);
        totals.conversions += Number(r.v);
        totals.spend += Number(r.s);
        totals.budget += Number(r.b);
      }
      totals.spend = Math.round(totals.spend * 100) / 100;
      totals.budget = Math.round(totals.budget * 100) / 100;
      return {
        campaigns: {
          byStatus: byStatus(c.rows),
          totals,
          topBySpend: top.rows.map((r) => ({ id: r.id, name: r.name, spend: Number(r.spend) })),
        },
        runs: { byStatus: byStatus(runs.rows) },
        aiTasks: { byStatus: byStatus(tasks.rows) },
      };
    },
  };
}

export type StatsQueries = ReturnType<typeof createStatsQueries>;
