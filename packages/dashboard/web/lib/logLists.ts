import { type ApiError, isMissingRoute, type Page, request } from './api';
import type { FeedEvent } from './feed';

/**
 * A list from its read model (`GET /api/workflows`, `/api/runs`, `/api/ai-tasks`); against an
 * API that has no such route yet, the same list folded from the newest events of the log
 * (at most `maxEvents`), so the page still works, marked as such.
 */
export async function listWithFallback<T>(
  route: string,
  aggregateType: string,
  fold: (id: string, events: FeedEvent[]) => T | null,
  maxEvents = 5000,
): Promise<Page<T> & { fromLog?: boolean }> {
  try {
    return await request<Page<T>>(route);
  } catch (err) {
    if (!isMissingRoute(err as ApiError)) throw err;
  }
  const byId = new Map<string, FeedEvent[]>();
  let after = 0;
  let position = 0;
  for (let read = 0; read < maxEvents; ) {
    const page = await request<{ events: FeedEvent[]; nextAfter: number; hasMore: boolean }>(
      `/api/events?aggregateType=${aggregateType}&after=${after}&limit=1000`,
    );
    for (const e of page.events) {
      const list = byId.get(e.aggregateId) ?? [];
      list.push(e);
      byId.set(e.aggregateId, list);
      position = e.position;
    }
    read += page.events.length;
    after = page.nextAfter;
    if (!page.hasMore) break;
  }
  const items = [...byId].flatMap(([id, events]) => fold(id, events) ?? []).reverse();
  return { items, nextCursor: null, stale: false, position, fromLog: true };
}
