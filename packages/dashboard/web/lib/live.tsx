import { useQueryClient } from '@tanstack/react-query';
import { createContext, type ReactNode, useContext, useEffect, useState, useSyncExternalStore } from 'react';
import { type FeedEvent, type FeedFilter, type FeedIdentity, type FeedState, LiveFeed } from './feed';

/** The newest events since sign-in, for the overview's live feed. */
class RecentEvents {
  private events: FeedEvent[] = [];
  private readonly listeners = new Set<() => void>();
  constructor(private readonly max: number) {}
  add(e: FeedEvent) {
    this.events = [...this.events.slice(-(this.max - 1)), e];
    for (const fn of this.listeners) fn();
  }
  subscribe = (fn: () => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };
  snapshot = () => this.events;
}

/** The newest log position the feed delivered: reads after an event ask for at least it. */
class SeenPosition {
  value = 0;
  note(position: number) {
    if (position > this.value) this.value = position;
  }
}

interface FeedContextValue {
  feed: LiveFeed;
  recent: RecentEvents;
  seen: SeenPosition;
}

const FeedContext = createContext<FeedContextValue | null>(null);

/** The caches each aggregate type's events make stale. */
const affected: Record<string, (e: FeedEvent) => unknown[][]> = {
  campaign: (e) => [['campaigns'], ['campaign', e.aggregateId], ['stats']],
  workflow: (e) => [['workflows'], ['workflow', e.aggregateId]],
  workflowRun: (e) => [['runs'], ['run', e.aggregateId], ['stats']],
  schedule: (e) => [['schedules'], ['schedule', e.aggregateId]],
  aiTask: (e) => [['ai-tasks'], ['ai-task', e.aggregateId], ['stats']],
};

/** Opens the feed for the signed-in token and invalidates cached reads as events arrive. */
export function LiveFeedProvider({ token, children }: { token: string; children: ReactNode }) {
  const [feed, setFeed] = useState<FeedContextValue | null>(null);
  const client = useQueryClient();
  useEffect(() => {
    // Made in the effect, so that a remount (React's StrictMode does one) gets a fresh socket.
    const live = new LiveFeed(token);
    const recent = new RecentEvents(500);
    const seen = new SeenPosition();
    const stop = live.subscribe({}, undefined, (e) => {
      recent.add(e);
      seen.note(e.position);
      for (const key of affected[e.aggregateType]?.(e) ?? []) void client.invalidateQueries({ queryKey: key });
    });
    setFeed({ feed: live, recent, seen });
    return () => {
      stop();
      live.close();
    };
  }, [token, client]);
  if (!feed) return null;
  return <FeedContext.Provider value={feed}>{children}</FeedContext.Provider>;
}

export const useFeed = (): LiveFeed => {
  const feed = useContext(FeedContext);
  if (!feed) throw new Error('useFeed outside LiveFeedProvider');
  return feed.feed;
};

/** Every event since sign-in (the newest 500), live. */
export function useRecentEvents(): FeedEvent[] {
  const ctx = useContext(FeedContext);
  if (!ctx) throw new Error('useRecentEvents outside LiveFeedProvider');
  return useSyncExternalStore(ctx.recent.subscribe, ctx.recent.snapshot);
}

/**
 * The newest position the feed delivered, read when a query runs: a list refetched because
 * of an event asks the read model for at least that event (`minPosition`, with
 * `allowStale` so a slow projection answers late rather than with a 504).
 */
export function useSeenPosition(): () => number {
  const ctx = useContext(FeedContext);
  if (!ctx) throw new Error('useSeenPosition outside LiveFeedProvider');
  return () => ctx.seen.value;
}

/** Who is signed in, once the feed's socket is authenticated (undefined before). */
export function useIdentity(): FeedIdentity | undefined {
  const feed = useFeed();
  const [identity, setIdentity] = useState<FeedIdentity | undefined>(feed.identity);
  useEffect(() => feed.onIdentity(setIdentity), [feed]);
  return identity;
}

/**
 * Whether the signed-in role may send public commands (run control, signals, schedules):
 * operators and admins, the API's rule (docs/api.md, roles). An API that does not say the
 * role (`role: null`) gets the buttons and answers for itself (403 is shown).
 */
export function useMayOperate(): boolean {
  const identity = useIdentity();
  if (!identity) return false;
  return identity.role === null || identity.role === 'operator' || identity.role === 'admin';
}

export function useFeedState(): FeedState {
  const feed = useFeed();
  const [state, setState] = useState<FeedState>(feed.state);
  useEffect(() => feed.onState(setState), [feed]);
  return state;
}

/** Every event matching the filter: history from `after` (0: all), then live. Capped at `max`, newest kept. */
export function useEvents(filter: FeedFilter | null, after: number | undefined, max = 5000): FeedEvent[] {
  const feed = useFeed();
  const [events, setEvents] = useState<FeedEvent[]>([]);
  const key = JSON.stringify([filter, after]);
  // biome-ignore lint/correctness/useExhaustiveDependencies: the filter is compared by value through key
  useEffect(() => {
    setEvents([]);
    if (!filter) return;
    let batch: FeedEvent[] = [];
    let scheduled = false;
    // Events of a replay arrive by the hundred: one render per frame, not per event.
    const stop = feed.subscribe(filter, after, (e) => {
      batch.push(e);
      if (scheduled) return;
      scheduled = true;
      requestAnimationFrame(() => {
        scheduled = false;
        const add = batch;
        batch = [];
        setEvents((prev) => {
          const next = prev.concat(add);
          return next.length > max ? next.slice(next.length - max) : next;
        });
      });
    });
    return stop;
  }, [feed, key, max]);
  return events;
}
