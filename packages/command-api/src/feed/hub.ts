import { LightdomError, type StoredCommit } from '@lightdom/domain';
import type { CommitSubscription, EventStore } from '@lightdom/eventstore';
import type { Logger } from '@lightdom/runtime';
import { Subscriber, type SubscriberHost } from './subscriber.js';
import type { FeedFilter, FeedHub, FeedHubOptions, FeedHubStats, FeedStart, FeedSubscription } from './types.js';

export interface FeedHubDeps {
  store: EventStore;
  logger: Logger;
}

const subjectToken = /^[A-Za-z0-9_-]{1,100}$/;
/** Pause before the hub follows the log again after its consumer failed, in ms. */
const refollowDelayMs = 1000;

function checkFilter(filter: FeedFilter) {
  for (const field of ['aggregateType', 'aggregateId'] as const) {
    const v = filter[field];
    if (v !== undefined && !subjectToken.test(v)) {
      throw new LightdomError('VALIDATION_FAILED', `Invalid ${field}`, {
        issues: [{ field, message: 'must be 1-100 characters of A-Z, a-z, 0-9, _ or -' }],
      });
    }
  }
  if (filter.aggregateId && !filter.aggregateType) {
    throw new LightdomError('VALIDATION_FAILED', 'Invalid aggregateId', {
      issues: [{ field: 'aggregateId', message: 'needs aggregateType' }],
    });
  }
}

/** Positions are stream sequences: 1e300 is an integer to JSON, but no position (it would wait forever). */
function checkStart(start: FeedStart) {
  const bad = (v: number | undefined) => v !== undefined && !(Number.isSafeInteger(v) && v >= 0);
  for (const field of ['after', 'afterIndex'] as const) {
    if (bad(start[field])) {
      throw new LightdomError('VALIDATION_FAILED', `Invalid ${field}`, {
        issues: [{ field, message: 'must be an integer between 0 and 2^53-1' }],
      });
    }
  }
}

/** A counting semaphore: at most `size` holders at once, the rest wait in order. */
class Slots {
  private waiting: (() => void)[] = [];
  used = 0;
  constructor(private readonly size: number) {}
  async acquire(): Promise<void> {
    if (this.used < this.size) {
      this.used++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.used--;
  }
}

/**
 * The hub: one ordered JetStream consumer on the whole log (opened with the first
 * subscriber, deleted `idleStopMs` after the last leaves), a ring of recent commits, and
 * the subscribers it fans each commit out to.
 */
class Hub implements FeedHub, SubscriberHost {
  private readonly live = new Set<Subscriber>();
  private open = 0;
  /** The last position the consumer delivered (or started after): the fan-out's head. */
  private position = 0;
  /** Recent commits, covering every position in (ringFrom, position]. */
  private ring: StoredCommit[] = [];
  private ringFrom = 0;
  /** True while `position` and the ring are continuous with the log (cleared on idle stop). */
  private continuous = false;
  private source: CommitSubscription | undefined;
  private starting: Promise<void> | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private refollowTimer: NodeJS.Timeout | undefined;
  private readonly reads: Slots;
  private stopped = false;

  constructor(
    private readonly deps: FeedHubDeps,
    private readonly opts: FeedHubOptions,
  ) {
    this.reads = new Slots(opts.maxConcurrentReads);
  }

  async subscribe(filter: FeedFilter = {}, start: FeedStart = {}): Promise<FeedSubscription> {
    checkFilter(filter);
    checkStart(start);
    if (this.stopped) throw new LightdomError('UNAVAILABLE', 'The feed is shutting down');
    if (this.open >= this.opts.maxSubscriptions) {
      throw new LightdomError('LIMIT_EXCEEDED', `At most ${this.opts.maxSubscriptions} subscriptions per server`, {
        details: { limit: this.opts.maxSubscriptions, scope: 'process' },
      });
    }
    // Count it before awaiting, so a burst cannot pass the cap together.
    this.open++;
    clearTimeout(this.idleTimer);
    const sub = new Subscriber(this, filter, this.opts.queueCommits);
    let after: number;
    try {
      after = start.after ?? (await this.deps.store.headPosition());
    } catch (err) {
      sub.stop();
      throw err;
    }
    const events = sub.events({ ...start, after });
    return {
      after,
      stop: () => sub.stop(),
      // One underlying iterator: leaving a for-await loop early does not end the subscription.
      [Symbol.asyncIterator]: () => ({
        next: () => (sub.stopped ? Promise.resolve({ done: true, value: undefined }) : events.next()),
      }),
    };
  }

  stats(): FeedHubStats {
    return {
      subscriptions: this.open,
      live: this.live.size,
      reads: this.reads.used,
      following: !!(this.source || this.starting),
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.idleTimer);
    clearTimeout(this.refollowTimer);
    for (const s of [...this.live]) s.stop();
    await this.starting?.catch(() => undefined);
    this.closeSource();
  }

  // --- SubscriberHost ---

  async ensureFollowing(): Promise<void> {
    if (this.stopped) throw new LightdomError('UNAVAILABLE', 'The feed is shutting down');
    if (this.source) return;
    this.starting ??= this.follow().finally(() => {
      this.starting = undefined;
    });
    await this.starting;
  }

  attach(s: Subscriber, cursor: number): boolean {
    if (!this.continuous || cursor < this.ringFrom) return false;
    s.attached(cursor);
    this.live.add(s);
    for (const c of this.ring) if (c.position > cursor) s.offer(c);
    return true;
  }

  detach(s: Subscriber): void {
    this.live.delete(s);
  }

  released(_s: Subscriber): void {
    this.open--;
    this.scheduleIdle();
  }

  private scheduleIdle(): void {
    if (this.open > 0 || this.stopped) return;
    clearTimeout(this.idleTimer);
    if (this.opts.idleStopMs === 0) this.idle();
    else {
      this.idleTimer = setTimeout(() => this.idle(), this.opts.idleStopMs);
      this.idleTimer.unref();
    }
  }

  async readHistory(filter: FeedFilter, cursor: number): Promise<{ commits: StoredCommit[]; through: number }> {
    await this.reads.acquire();
    try {
      const until = this.position;
      if (filter.aggregateType && filter.aggregateId) {
        const commits = await this.deps.store.readAggregate(filter.aggregateType, filter.aggregateId, {
          after: cursor,
          until,
        });
        return { commits, through: until };
      }
      const limit = this.opts.readPageCommits;
      const commits = await this.deps.store.readAll({
        after: cursor,
        limit,
        until,
        ...(filter.aggregateType ? { aggregateType: filter.aggregateType } : {}),
      });
      // A short page covered everything up to `until`; a full one only up to its last commit.
      return { commits, through: commits.length < limit ? until : (commits.at(-1)?.position ?? until) };
    } finally {
      this.reads.release();
    }
  }

  // --- the hub's own consumer ---

  /** Opens the consumer: from the head after an idle stop, else from where it left off. */
  private async follow(): Promise<void> {
    const resume = this.continuous;
    const after = resume ? this.position : await this.deps.store.headPosition();
    const source = await this.deps.store.subscribe({ after });
    if (this.stopped) {
      source.stop();
      throw new LightdomError('UNAVAILABLE', 'The feed is shutting down');
    }
    if (!resume) {
      this.position = after;
      this.ringFrom = after;
      this.ring = [];
      this.continuous = true;
    }
    this.source = source;
    this.deps.logger.debug({ after, resume }, 'feed: following the log');
    void this.pump(source);
    this.scheduleIdle(); // the last subscriber may have left while it opened
  }

  private async pump(source: CommitSubscription): Promise<void> {
    try {
      for await (const commit of source) this.fanOut(commit);
    } catch (err) {
      if (this.source === source) this.deps.logger.warn({ err, position: this.position }, 'feed: consumer failed');
    }
    if (this.source !== source) return; // closed on purpose
    this.source = undefined;
    source.stop();
    if (this.stopped || this.open === 0) return;
    // Live subscribers stay attached: the next consumer resumes after `position`, so no gap.
    this.refollowTimer = setTimeout(() => {
      if (!this.stopped && this.open > 0) {
        this.ensureFollowing().catch((err) => this.deps.logger.warn({ err }, 'feed: following again failed'));
      }
    }, refollowDelayMs);
    this.refollowTimer.unref();
  }

  private fanOut(commit: StoredCommit): void {
    if (commit.position <= this.position) return;
    this.position = commit.position;
    this.ring.push(commit);
    while (this.ring.length > this.opts.replayCommits) this.ringFrom = (this.ring.shift() as StoredCommit).position;
    for (const s of [...this.live]) s.offer(commit);
  }

  /** No subscribers left: delete the consumer; the next subscriber starts from the head. */
  private idle(): void {
    if (this.open > 0) return;
    this.closeSource();
    this.continuous = false;
    this.ring = [];
  }

  private closeSource(): void {
    const s = this.source;
    this.source = undefined;
    s?.stop();
  }
}

/**
 * The process's feed hub: every WebSocket, gRPC and AMQP subscription shares one
 * JetStream consumer, so the consumers on the stream do not grow with clients (catching-up
 * subscribers add at most `maxConcurrentReads` short-lived ones).
 *
 * @example
 * const feed = createFeedHub({ store, logger }, feedHubDefaults);
 * const sub = await feed.subscribe({ aggregateType: 'campaign' }, { after: 41 });
 * for await (const event of sub) send(event); // history after 41, then live
 */
export function createFeedHub(deps: FeedHubDeps, options: FeedHubOptions): FeedHub {
  return new Hub(deps, Object.freeze({ ...options }));
}
