import type pg from 'pg';
import type { MetricsBucket } from '../projections/campaignMetrics.js';
import { qualified, readModelTables as t } from '../schema/tables.js';
import { decodeCursor, iso, type Page, pageOf, whereBuilder } from './paging.js';
import { readQuery } from './readQuery.js';

type Row = Record<string, unknown>;

export interface MetricsPointView {
  /** Start of the UTC hour or day. */
  bucketStart: string;
  impressions: number;
  clicks: number;
  conversions: number;
  spend: number;
  position: number;
}

export interface MetricsQuery {
  campaignId: string;
  bucket: MetricsBucket;
  /** ISO times: buckets starting at or after `from`, before `to`. */
  from?: string;
  to?: string;
  limit: number;
  cursor?: string;
}

const toPoint = (r: Row): MetricsPointView => ({
  bucketStart: iso(r.bucket_start) as string,
  impressions: Number(r.impressions),
  clicks: Number(r.clicks),
  conversions: Number(r.conversions),
  spend: Number(r.spend),
  position: Number(r.position),
});

export function createMetricsQueries(pool: pg.Pool, schema: string) {
  const metrics = qualified(schema, t.campaignMetrics);
  return {
    /** A campaign's buckets in time order; the cursor carries the last bucket's start. */
    async series(q: MetricsQuery): Promise<Page<MetricsPointView>> {
      const w = whereBuilder();
      w.add((p) => `campaign_id = ${p}`, q.campaignId);
      w.add((p) => `bucket = ${p}`, q.bucket);
      if (q.from) w.add((p) => `bucket_start >= ${p}`, q.from);
      if (q.to) w.add((p) => `bucket_start < ${p}`, q.to);
      if (q.cursor) w.add((p) => `bucket_start > ${p}`, decodeCursor(q.cursor));
      const { rows } = await readQuery(
        pool,
        `select * from ${metrics} ${w.sql()} order by bucket_start ${w.limit(q.limit)}`,
        w.params,
      );
      return pageOf(rows, q.limit, toPoint, (r) => iso(r.bucket_start) as string);
    },
  };
}

export type MetricsQueries = ReturnType<typeof createMetricsQueries>;
