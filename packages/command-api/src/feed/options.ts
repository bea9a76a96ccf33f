import { type CommandApiConfig, commandApiConfigSchema } from '../config.js';
import type { FeedHubOptions } from './types.js';

/** The hub's options from the parsed configuration. */
export const feedHubOptions = (c: CommandApiConfig): FeedHubOptions => ({
  maxSubscriptions: c.FEED_MAX_SUBSCRIPTIONS,
  maxConcurrentReads: c.FEED_MAX_CONCURRENT_READS,
  readPageCommits: c.FEED_READ_PAGE_COMMITS,
  queueCommits: c.FEED_QUEUE_COMMITS,
  replayCommits: c.FEED_REPLAY_COMMITS,
  idleStopMs: c.FEED_IDLE_STOP_MS,
});

/** The configuration's defaults (they live once, in the config schema), for callers without a config. */
export const configDefaults: CommandApiConfig = commandApiConfigSchema.parse({});

export const feedHubDefaults: FeedHubOptions = Object.freeze(feedHubOptions(configDefaults));
