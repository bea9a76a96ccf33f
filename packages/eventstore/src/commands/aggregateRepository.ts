import type { StoredCommit } from '@lightdom/domain';
import { type AnyDecider, LightdomError, upcastEvent } from '@lightdom/domain';
import type { Logger } from 'pino';
import type { EventStore } from '../store/eventStore.js';
import type { SnapshotStore } from './snapshots.js';

/** An aggregate's state as folded from its commits. */
export interface LoadedAggregate<S = unknown> {
  aggregateType: string;
  aggregateId: string;
  state: S;
  /** Number of events applied. */
  version: number;
  /** Position of the last commit applied; 0 when the aggregate has none. */
  position: number;
  /** Hash of the last commit applied. */
  hash: string | null;
  /** False when the state came from the cache without asking the log. */
  verified: boolean;
}

export interface AggregateRepositoryOptions {
  /** Aggregates kept in memory (LRU). Default 10,000; 0 turns the cache off. */
  cacheSize: number;
  /** Save a snapshot when a commit crosses a multiple of this many events. Default 100. */
  snapshotEvery: number;
  /** Shape version of every aggregate's state; bump it when a decider's state changes. Default 1. */
  stateVersion: number;
}

export interface AggregateRepository {
  /**
   * Loads an aggregate. With `verify: false` a cached state is returned as is: commands
   * may decide on it because the append's concurrency check catches a stale one.
   */
  load(
    aggregateType: string,
    aggregateId: string,
    opts?: { verify?: boolean; assumeNew?: boolean },
  ): Promise<LoadedAggregate>;
  /** Folds the aggregate from the log up to a position, bypassing the cache. */
  loadAt(aggregateType: string, aggregateId: string, until: number): Promise<LoadedAggregate>;
  /** Records a commit this process just appended. */
  remember(loaded: LoadedAggregate, commit: StoredCommit): LoadedAggregate;
  forget(aggregateType: string, aggregateId: string): void;
}

export function foldCommits(decider: AnyDecider, start: LoadedAggregate, commits: StoredCommit[]) {
  let { state, version, position, hash } = start;
  for (const commit of commits) {
    // Upcasting here as well as in the store keeps folding right whatever store it came from.
    for (const stored of commit.events) {
      const event = upcastEvent(stored);
      state = decider.evolve(state, { type: event.type, data: event.data });
    }
    version = commit.version;
    position = commit.position;
    hash = commit.hash;
  }
  return { ...start, state, version, position, hash };
}

export function createAggregateRepository(
  deps: {
    store: EventStore;
    deciders: Readonly<Record<string, AnyDecider>>;
    snapshots?: SnapshotStore;
    logger?: Logger;
  },
  options: Partial<AggregateRepositoryOptions> = {},
): AggregateRepository {
  const { cacheSize, snapshotEvery, stateVersion } = {
    cacheSize: 10_000,
    snapshotEvery: 100,
    stateVersion: 1,
    ...options,
  };
  const cache = new Map<string, LoadedAggregate>();
  const keyOf = (t: string, id: string) => `${t}\u0000${id}`;

  const deciderFor = (aggregateType: string): AnyDecider => {
    const d = deps.deciders[aggregateType];
    if (!d) throw new LightdomError('NOT_FOUND', `Unknown aggregate type ${aggregateType}`);
    return d;
  };
  const empty = (aggregateType: string, aggregateId: string): LoadedAggregate => ({
    aggregateType,
    aggregateId,
    state: deciderFor(aggregateType).initialState(),
    version: 0,
    position: 0,
    hash: null,
    verified: true,
  });
  const put = (entry: LoadedAggregate) => {
    if (cacheSize <= 0) return;
    const key = keyOf(entry.aggregateType, entry.aggregateId);
    cache.delete(key);
    cache.set(key, entry);
    if (cache.size > cacheSize) cache.delete(cache.keys().next().value as string);
  };

  async function fromSnapshot(aggregateType: string, aggregateId: string): Promise<LoadedAggregate | null> {
    if (!deps.snapshots) return null;
    const snap = await deps.snapshots.get(aggregateType, aggregateId).catch((err) => {
      deps.logger?.warn({ err }, 'snapshot not readable; folding from the log');
      return null;
    });
    if (!snap || snap.stateVersion !== stateVersion) return null;
    return {
      aggregateType,
      aggregateId,
      state: snap.state,
      version: snap.version,
      position: snap.position,
      hash: snap.hash,
      verified: true,
    };
  }

  return {
    async load(aggregateType, aggregateId, opts = {}) {
      const cached = cache.get(keyOf(aggregateType, aggregateId));
      if (cached && !opts.verify) return { ...cached, verified: false };
      // A create skips the read: if the aggregate exists after all, the append's
      // expected position (0) fails and the command is decided again on a verified load.
      if (opts.assumeNew && !opts.verify) return { ...empty(aggregateType, aggregateId), verified: false };
      const start = cached ?? (await fromSnapshot(aggregateType, aggregateId)) ?? empty(aggregateType, aggregateId);
      const commits = await deps.store.readAggregate(aggregateType, aggregateId, { after: start.position });
      const loaded = { ...foldCommits(deciderFor(aggregateType), start, commits), verified: true };
      if (loaded.version > 0) put(loaded);
      return loaded;
    },

    async loadAt(aggregateType, aggregateId, until) {
      const commits = await deps.store.readAggregate(aggregateType, aggregateId, { until });
      return foldCommits(deciderFor(aggregateType), empty(aggregateType, aggregateId), commits);
    },

    remember(loaded, commit) {
      const next = { ...foldCommits(deciderFor(loaded.aggregateType), loaded, [commit]), verified: true };
      put(next);
      if (deps.snapshots && Math.floor(next.version / snapshotEvery) > Math.floor(loaded.version / snapshotEvery)) {
        // Off the command's path: a lost snapshot only costs a longer read next time.
        deps.snapshots
          .put(next.aggregateType, next.aggregateId, {
            state: next.state,
            version: next.version,
            position: next.position,
            hash: next.hash,
            stateVersion,
          })
          .catch((err) => deps.logger?.warn({ err }, 'snapshot not saved'));
      }
      return next;
    },

    forget(aggregateType, aggregateId) {
      cache.delete(keyOf(aggregateType, aggregateId));
    },
  };
}
