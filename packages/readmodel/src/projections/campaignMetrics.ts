import type { StoredCommit } from '@lightdom/domain';
import type pg from 'pg';
import { liveTables, qualified, type TableNames } from '../schema/tables.js';
import { commitTime, dataOf, eventsOf, idOf, num, typeOf } from './coerce.js';
import type { Projection } from './projection.js';

export type MetricsBucket = 'hour' | 'day';
export const metricsBuckets: readonly MetricsBucket[] = ['hour', 'day'];

/** `YYYY-MM-DDTHH:mm:ss.sssZ`, as `toISOString` writes years 0-9999 (and `commitTime` gives). */
const isoUtc = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** Start of the UTC hour or day holding `iso`. */
export function bucketStart(iso: string, bucket: MetricsBucket): string {
  // The common case without a Date: cut the canonical text at the hour or the day.
  if (isoUtc.test(iso))
    return bucket === 'day' ? `${iso.slice(0, 10)}T00:00:00.000Z` : `${iso.slice(0, 13)}:00:00.000Z`;
  const d = new Date(iso);
  if (bucket === 'day') d.setUTCHours(0, 0, 0, 0);
  else d.setUTCMinutes(0, 0, 0);
  return d.toISOString();
}

/** `a + b`, or `a` when a forged amount would make it infinite. */
const add = (a: number, b: number): number => (Number.isFinite(a + b) ? a + b : a);

interface Sums {
  campaign_id: string;
  bucket: MetricsBucket;
  bucket_start: string;
  impressions: number;
  clicks: number;
  conversions: number;
  spend: number;
  position: number;
}

/**
 * `campaign_metrics`: what `CampaignMetricsRecorded` events added, summed per campaign in
 * UTC hour and day buckets of the commit's time. The batch's sums are added to the rows
 * in one statement; the checkpoint in the same transaction makes that exactly once.
 */
export function createCampaignMetricsProjection(tables: TableNames = liveTables): Projection {
  return {
    name: 'campaign_metrics',
    aggregateTypes: ['campaign'],
    async apply(client: pg.PoolClient, schema: string, commits: StoredCommit[]) {
      const sums = new Map<string, Sums>();
      for (const commit of commits) {
        if (commit.aggregateType !== 'campaign') continue;
        let at: string | undefined;
        let id: string | undefined;
        for (const event of eventsOf(commit)) {
          if (typeOf(event) !== 'CampaignMetricsRecorded') continue;
          const d = dataOf(event);
          at ??= commitTime(commit);
          id ??= idOf(commit);
          for (const bucket of metricsBuckets) {
            const start = bucketStart(at, bucket);
            const key = `${bucket}|${start}|${id}`;
            const s = sums.get(key) ?? {
              campaign_id: id,
              bucket,
              bucket_start: start,
              impressions: 0,
              clicks: 0,
              conversions: 0,
              spend: 0,
              position: 0,
            };
            s.impressions = add(s.impressions, num(d.impressions));
            s.clicks = add(s.clicks, num(d.clicks));
            s.conversions = add(s.conversions, num(d.conversions));
            // Cents, so sums of two-decimal amounts stay exact.
            s.spend = add(s.spend, Math.round(num(d.spend) * 100));
            s.position = commit.position;
            sums.set(key, s);
          }
        }
      }
      if (sums.size === 0) return [];
      const target = qualified(schema, tables.campaignMetrics);
      await client.query(
        `insert into ${target} (campaign_id, bucket, bucket_start, impressions, clicks, conversions, spend, position)
         select campaign_id, bucket, bucket_start, impressions, clicks, conversions, spend / 100, position
         from jsonb_to_recordset($1::jsonb) as x(campaign_id text, bucket text, bucket_start timestamptz,
           impressions numeric, clicks numeric, conversions numeric, spend numeric, position bigint)
         on conflict (campaign_id, bucket, bucket_start) do update set
           impressions = ${target}.impressions + excluded.impressions,
           clicks = ${target}.clicks + excluded.clicks,
           conversions = ${target}.conversions + excluded.conversions,
           spend = ${target}.spend + excluded.spend,
           position = excluded.position`,
        [JSON.stringify([...sums.values()])],
      );
      return [];
    },
  };
}
