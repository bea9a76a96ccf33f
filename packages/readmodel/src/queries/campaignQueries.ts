import type pg from 'pg';
import { qualified, readModelTables } from '../schema/tables.js';
import { decodeCursor, encodeCursor } from './paging.js';
import { readQuery } from './readQuery.js';

/** A campaign as the API shows it. */
export interface CampaignView {
  id: string;
  name: string;
  description: string;
  status: string;
  channels: string[];
  budget: { amount: number; currency: string };
  owner: string | null;
  schedule: { startAt: string; endAt?: string } | null;
  launchedAt: string | null;
  metrics: { impressions: number; clicks: number; conversions: number; spend: number };
  version: number;
  /** Position of the last commit reflected in this view. */
  position: number;
  createdAt: string;
  updatedAt: string;
}

type Row = Record<string, unknown>;
const iso = (v: unknown) => (v === null || v === undefined ? null : new Date(v as string).toISOString());

export function toCampaignView(r: Row): CampaignView {
  return {
    id: r.id as string,
    name: r.name as string,
    description: r.description as string,
    status: r.status as string,
    channels: r.channels as string[],
    budget: { amount: Number(r.budget_amount), currency: r.budget_currency as string },
    owner: (r.owner as string | null) ?? null,
    schedule: (r.schedule as CampaignView['schedule']) ?? null,
    launchedAt: iso(r.launched_at),
    metrics: {
      impressions: Number(r.impressions),
      clicks: Number(r.clicks),
      conversions: Number(r.conversions),
      spend: Number(r.spend),
    },
    version: r.version as number,
    position: Number(r.position),
    createdAt: iso(r.created_at) as string,
    updatedAt: iso(r.updated_at) as string,
  };
}

export interface ListCampaignsQuery {
  status?: string;
  limit: number;
  /** Opaque cursor from a previous page. */
  cursor?: string;
}

export function createCampaignQueries(pool: pg.Pool, schema: string) {
  const table = qualified(schema, readModelTables.campaigns);
  return {
    async get(id: string): Promise<CampaignView | null> {
      const { rows } = await readQuery(pool, `select * from ${table} where id = $1`, [id]);
      return rows[0] ? toCampaignView(rows[0]) : null;
    },
    /** Keyset paging by id: stable under concurrent inserts, no offset scans. */
    async list(q: ListCampaignsQuery): Promise<{ items: CampaignView[]; nextCursor: string | null }> {
      const params: unknown[] = [];
      const where: string[] = [];
      if (q.status) {
        params.push(q.status);
        where.push(`status = $${params.length}`);
      }
      if (q.cursor) {
        params.push(decodeCursor(q.cursor));
        where.push(`id > $${params.length}`);
      }
      params.push(q.limit + 1);
      const { rows } = await readQuery(
        pool,
        `select * from ${table} ${where.length ? `where ${where.join(' and ')}` : ''} order by id limit $${params.length}`,
        params,
      );
      const items = rows.slice(0, q.limit).map(toCampaignView);
      const last = items.at(-1);
      return { items, nextCursor: rows.length > q.limit && last ? encodeCursor(last.id) : null };
    },
    async stats(): Promise<{ byStatus: Record<string, number>; totals: CampaignView['metrics'] & { budget: number } }> {
      const { rows } = await readQuery<{
        status: string;
        n: string;
        i: string;
        c: string;
        v: string;
        s: string;
        b: string;
      }>(
        pool,
        `select status, count(*) n, sum(impressions) i, sum(clicks) c, sum(conversions) v, sum(spend) s, sum(budget_amount) b
         from ${table} group by status`,
      );
      const totals = { impressions: 0, clicks: 0, conversions: 0, spend: 0, budget: 0 };
      const byStatus: Record<string, number> = {};
      for (const r of rows) {
        byStatus[r.status] = Number(r.n);
        totals.impressions += Number(r.i);
        totals.clicks += Number(r.c);
        totals.conversions += Number(r.v);
        totals.spend += Number(r.s);
        totals.budget += Number(r.b);
      }
      return { byStatus, totals };
    },
  };
}

export type CampaignQueries = ReturnType<typeof createCampaignQueries>;
