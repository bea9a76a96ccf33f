import { storableText } from '../storable.js';

export interface HotViewOptions {
  /** Prefix of every key. Default `lightdom:`. */
  keyPrefix: string;
  /** Prefix of every Pub/Sub channel. Default empty, so channels read `campaign:events`. */
  channelPrefix: string;
}

/** The aggregate types with a hot view, and the table each is rebuilt from. */
export const hotViewTypes = ['campaign', 'workflowRun', 'aiTask'] as const;
export type HotViewType = (typeof hotViewTypes)[number];

/** `<channelPrefix><aggregateType>:events`: every event of that aggregate type, as the log holds it. */
export const eventsChannel = (opts: HotViewOptions, aggregateType: string) =>
  `${opts.channelPrefix}${storableText(String(aggregateType))}:events`;
/** `<channelPrefix>cache:invalidate`: `{aggregateType, aggregateId, position}` per commit. */
export const invalidationChannel = (opts: HotViewOptions) => `${opts.channelPrefix}cache:invalidate`;
/** `<keyPrefix><aggregateType>:<id>`: the row as the Postgres read model holds it, one field per column. */
export const hotViewKey = (opts: HotViewOptions, aggregateType: string, id: string) =>
  `${opts.keyPrefix}${storableText(String(aggregateType))}:${storableText(String(id))}`;

/** The keys beside the per-aggregate hashes, under `<keyPrefix>views:`. */
export const viewKeys = (opts: HotViewOptions) => {
  const v = `${opts.keyPrefix}views:`;
  return {
    /** Every hot view reflects the log up to here; absent: the views are being built (or Redis lost them). */
    position: `${v}position`,
    /** Held while the views are rebuilt from Postgres; a flush in between makes the rebuild start over. */
    epoch: `${v}epoch`,
    /** Set of the statuses `type` has members in. */
    statuses: (type: HotViewType) => `${v}${type}:statuses`,
    /** Prefix of the set of ids with one status: `<prefix><status>`. */
    statusPrefix: (type: HotViewType) => `${v}${type}:status:`,
    /** Hash of sums over every aggregate of `type` (campaigns: budget_cents, spend_cents, impressions, clicks, conversions). */
    totals: (type: HotViewType) => `${v}${type}:totals`,
    /** Sorted set of campaign ids by spend. */
    bySpend: `${v}campaign:by-spend`,
  };
};

/** `text` with Redis glob characters escaped, for SCAN MATCH. */
export const globEscape = (text: string): string => text.replace(/[*?[\]\\]/g, '\\$&');
