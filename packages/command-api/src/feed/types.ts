import type { RecordedEvent } from '@lightdom/domain';

/** Which events a subscriber wants. */
export interface FeedFilter {
  aggregateType?: string;
  /** Needs `aggregateType`. */
  aggregateId?: string;
  /** Only these event types; empty or absent: all. */
  types?: readonly string[];
}

/** Where a subscriber starts. */
export interface FeedStart {
  /** Deliver events of commits after this position; absent: from the log head (live only). */
  after?: number;
  /**
   * With `after`: the events of commit `after` up to this index were already seen, so that
   * commit is delivered again from the next index on (resuming inside a multi-event commit).
   */
  afterIndex?: number;
}

/** Events in log order, history first and then live, until `stop()` or an error. */
export interface FeedSubscription extends AsyncIterable<RecordedEvent> {
  /** The position the feed starts after: `after`, or the head when it was omitted. */
  readonly after: number;
  /** Ends the subscription; a pending `next()` resolves as done. Idempotent. */
  stop(): void;
}

export interface FeedHubStats {
  /** Open subscriptions (catching up or live). */
  subscriptions: number;
  /** Subscriptions served from the live fan-out right now. */
  live: number;
  /** History reads running now (each holds one short-lived JetStream consumer). */
  reads: number;
  /** Whether the hub's own JetStream consumer is open (or opening). */
  following: boolean;
}

/**
 * Live subscriptions for one process: one JetStream consumer follows the log and fans out
 * in memory; a subscriber that starts behind reads history first and then joins it.
 */
export interface FeedHub {
  /** Fails with LIMIT_EXCEEDED past the per-process cap, VALIDATION_FAILED for a bad filter. */
  subscribe(filter?: FeedFilter, start?: FeedStart): Promise<FeedSubscription>;
  stats(): FeedHubStats;
  /** Ends every subscription and deletes the hub's consumer. */
  stop(): Promise<void>;
}

export interface FeedHubOptions {
  /** Open subscriptions per process; more fail with LIMIT_EXCEEDED. */
  maxSubscriptions: number;
  /** History reads at once (each one short-lived JetStream consumer). */
  maxConcurrentReads: number;
  /** Commits per history read. */
  readPageCommits: number;
  /** Live commits queued per subscriber before a slow one falls back to history reads. */
  queueCommits: number;
  /** Recent commits kept so a subscriber just behind the head joins without a read. */
  replayCommits: number;
  /** The hub's consumer is deleted after this long without subscribers, in ms (0: at once). */
  idleStopMs: number;
}
