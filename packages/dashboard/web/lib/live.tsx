import { useQueryClient } from '@tanstack/react-query';
import { createContext, type ReactNode, useContext, useEffect, useState, useSyncExternalStore } from 'react';
import { type FeedEvent, type FeedFilter, type FeedState, LiveFeed } from './feed';

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

const FeedContext = createContext<{ feed: LiveFeed; recent: RecentEvents } | null>(null);

/** The caches each aggregate type's events make stale. */
const affected: Record<string, (e: FeedEvent) => unknown[][]> = {
  campaign: (e) => [['campaigns'], ['campaign', e.aggregateId], ['stats']],
  workflow: (e) => [['workflows'], ['workflow', e.aggregateId]],
  workflowRun: (e) => [['runs'], ['run', e.aggregateId], ['stats']],
  aiTask: (e) => [['ai-tasks'], ['ai-task', e.aggregateId], ['stats']],
};

/** Opens the feed for the signed-in token and invalidates cached reads as events arrive. */
export function LiveFeedProvider({ token, children }: { token: string; children: ReactNode }) {
  const [feed, setFeed] = useState<{ feed: LiveFeed; recent: RecentEvents } | null>(null);
  const client = useQueryClient();
  useEffect(() => {
    // Made in the effect, so that a remount (React's StrictMode does one) gets a fresh socket.
    const live = new LiveFeed(token);
    const recent = new RecentEvents(500);
    const stop = live.subscribe({}, undefined, (e) => {
      recent.add(e);
      for (const key of affected[e.aggregateType]?.(e) ?? []) void client.invalidateQueries({ queryKey: key });
    });
    setFeed({ feed: live, recent });
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
