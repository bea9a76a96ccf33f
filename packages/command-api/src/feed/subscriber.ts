import { type RecordedEvent, type StoredCommit, toRecordedEvents } from '@lightdom/domain';
import type { FeedFilter, FeedStart } from './types.js';

/**
 * A live commit's events, built once and shared by every subscriber it reaches (the hub
 * offers the same commit object to all of them); read-only from here on.
 */
const eventsOfCommit = new WeakMap<StoredCommit, readonly RecordedEvent[]>();
function sharedEvents(commit: StoredCommit): readonly RecordedEvent[] {
  let events = eventsOfCommit.get(commit);
  if (!events) {
    events = toRecordedEvents(commit);
    eventsOfCommit.set(commit, events);
  }
  return events;
}

/** What a subscriber needs from its hub. */
export interface SubscriberHost {
  /** Opens the hub's consumer if it is not open yet. */
  ensureFollowing(): Promise<void>;
  /**
   * Joins the live fan-out when the hub's recent commits reach back to `cursor`: queues
   * the recent commits after it and returns true, synchronously, so nothing can slip in
   * between. False: the subscriber must read history first.
   */
  attach(subscriber: Subscriber, cursor: number): boolean;
  detach(subscriber: Subscriber): void;
  /** The matching commits after `cursor`, up to the hub's position, and how far they cover. */
  readHistory(filter: FeedFilter, cursor: number): Promise<{ commits: StoredCommit[]; through: number }>;
  released(subscriber: Subscriber): void;
}

/**
 * One subscription: reads history until it reaches the hub's recent commits, then takes
 * live commits from its queue. A queue that overflows (a subscriber slower than the log)
 * is dropped and the subscriber reads history again from its last delivered commit, so a
 * slow subscriber costs a bounded queue and never a gap.
 */
export class Subscriber {
  private queue: StoredCommit[] = [];
  private overflowed = false;
  private wake: (() => void) | undefined;
  /** Live commits at or below this were already covered before attaching. */
  private floor = 0;
  stopped = false;

  constructor(
    private readonly host: SubscriberHost,
    readonly filter: FeedFilter,
    private readonly queueCap: number,
  ) {}

  matches(c: StoredCommit): boolean {
    if (this.filter.aggregateType && c.aggregateType !== this.filter.aggregateType) return false;
    return !this.filter.aggregateId || c.aggregateId === this.filter.aggregateId;
  }

  /** Called by the hub for every commit it follows, in log order. */
  offer(c: StoredCommit): void {
    if (c.position <= this.floor || !this.matches(c)) return;
    if (this.queue.length >= this.queueCap) {
      this.queue = [];
      this.overflowed = true;
      this.host.detach(this);
    } else this.queue.push(c);
    this.wakeUp();
  }

  attached(cursor: number): void {
    this.floor = cursor;
    this.overflowed = false;
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.queue = [];
    this.host.detach(this);
    this.host.released(this);
    this.wakeUp();
  }

  private wakeUp() {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** The next live commit; undefined when stopped or when the queue overflowed. */
  private async take(): Promise<StoredCommit | undefined> {
    for (;;) {
      if (this.stopped) return undefined;
      const next = this.queue.shift();
      if (next) return next;
      if (this.overflowed) {
        this.overflowed = false;
        return undefined;
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  /** Events from `start` on: positions after `cursor` only, minus the already-seen part of a resumed commit. */
  async *events(start: Required<Pick<FeedStart, 'after'>> & FeedStart): AsyncGenerator<RecordedEvent> {
    const resumeInside = start.afterIndex !== undefined && start.after > 0;
    const types = this.filter.types?.length ? new Set(this.filter.types) : undefined;
    const wanted = (e: RecordedEvent) =>
      !(resumeInside && e.position === start.after && e.index <= (start.afterIndex as number)) &&
      (!types || types.has(e.type));
    let cursor = resumeInside ? start.after - 1 : start.after;
    try {
      while (!this.stopped) {
        // History until the hub's recent commits reach back to the cursor.
        for (;;) {
          await this.host.ensureFollowing();
          if (this.stopped) return;
          if (this.host.attach(this, cursor)) break;
          const page = await this.host.readHistory(this.filter, cursor);
          for (const commit of page.commits) {
            for (const e of toRecordedEvents(commit)) {
              if (!wanted(e)) continue;
              yield e;
              if (this.stopped) return;
            }
            cursor = commit.position;
          }
          cursor = Math.max(cursor, page.through);
        }
        // Live, until stopped or the queue overflows (then history again from the cursor).
        for (let commit = await this.take(); commit; commit = await this.take()) {
          for (const e of sharedEvents(commit)) {
            if (!wanted(e)) continue;
            yield e;
            if (this.stopped) return;
          }
          cursor = commit.position;
        }
      }
    } finally {
      this.stop();
    }
  }
}
