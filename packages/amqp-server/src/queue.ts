import { decodeProperties } from './codec.js';
import type { SharedExpiry } from './expiry.js';
import type { DropHeadKeeper } from './keeper.js';
import type { KeeperLease } from './keeperLease.js';
import type { SharedFeed } from './shared.js';
import type { SingleActiveLease } from './singleActive.js';
import type { AmqpMessage, QueueDefinition } from './store.js';
import type { SharedUnused } from './unused.js';

/** One message in a queue; `seq` is its JetStream sequence when the queue is durable. */
export interface Delivery {
  message: AmqpMessage;
  seq?: number;
  redelivered: boolean;
  /** Epoch ms after which the message is expired (queue `x-message-ttl`, message `expiration`). */
  expiresAt?: number;
  /** Shared durable queues: the JetStream delivery this gateway pulled (acked when settled). */
  shared?: { ack(): void; nak(): void; working(): void };
}

/** Why a message left its queue without being acknowledged (the `x-death` reason). */
export type DeathReason = 'rejected' | 'expired' | 'maxlen';

/** The `expiration` bit of a content header's property flags. */
const EXPIRATION_FLAG = 1 << 8;

/** What a queue needs from a consumer: whether it can take one more, and how to hand it over. */
export interface Consumer {
  tag: string;
  noAck: boolean;
  exclusive: boolean;
  /** `x-priority` of basic.consume: higher ones are served first while they have room. Default 0. */
  priority?: number;
  /** True when the consumer (and its channel) can take another delivery now. */
  ready(): boolean;
  /** How many deliveries it can take now (its prefetch room); shared queues pull that many. */
  room?(): number;
  deliver(queue: Queue, delivery: Delivery): void;
  /** The queue went away under the consumer (deleted): tell the client. */
  cancelledByServer(): void;
}

/**
 * A FIFO with cheap removal at the head and re-insertion at the head (for requeues). It
 * keeps the total size of what it holds (`sizeOf`) and reports every change to `onBytes`.
 */
class Deque<T> {
  private items: T[] = [];
  private head = 0;
  bytes = 0;
  constructor(
    private readonly sizeOf: (v: T) => number,
    private readonly onBytes: (delta: number) => void = () => undefined,
  ) {}
  get length() {
    return this.items.length - this.head;
  }
  private count(delta: number) {
    this.bytes += delta;
    this.onBytes(delta);
  }
  push(v: T) {
    this.items.push(v);
    this.count(this.sizeOf(v));
  }
  peek(): T | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const v = this.items[this.head] as T;
    this.items[this.head++] = undefined as T;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    this.count(-this.sizeOf(v));
    return v;
  }
  unshiftAll(vs: T[]) {
    if (vs.length === 0) return;
    this.items = [...vs, ...this.items.slice(this.head)];
    this.head = 0;
    this.count(vs.reduce((n, v) => n + this.sizeOf(v), 0));
  }
  clear() {
    const n = this.length;
    this.items = [];
    this.head = 0;
    this.count(-this.bytes);
    return n;
  }
  *fromHead(): Generator<T> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i]!;
  }
  drainAll(): T[] {
    const out = this.items.slice(this.head);
    this.clear();
    return out;
  }
}

/** Body bytes of ready messages that every transient queue of one gateway shares. */
export interface MemoryBudget {
  used: number;
  readonly max: number;
}

/**
 * Bounds of a transient queue (RabbitMQ's `x-max-length`, `x-max-length-bytes`, `x-overflow`,
 * capped by the gateway's maxima). Only ready messages count, as in RabbitMQ.
 */
export interface QueueLimits {
  maxMessages: number;
  maxBytes: number;
  overflow: 'drop-head' | 'reject-publish';
  budget: MemoryBudget;
}

/** A queue: ready messages handed round-robin to consumers that have room under their prefetch. */
export class Queue {
  readonly ready: Deque<Delivery>;
  consumers: Consumer[] = [];
  /** Deliveries handed out and not yet settled. */
  unacked = 0;
  /** JetStream sequences of those deliveries (durable queues). */
  readonly outstanding = new Set<number>();
  /** Acknowledged sequences not yet removed from JetStream, and the removal state. */
  acked: number[] = [];
  maxAcked = 0;
  flushing = false;
  flushAgain = false;
  private next = 0;
  private draining = false;
  private hadConsumer = false;
  /** Keeps durable appends in publish order while they are pipelined to JetStream. */
  tail: Promise<void> = Promise.resolve();
  deleted = false;
  /**
   * Set for a durable queue shared by the gateways on the stream: messages are pulled from
   * its JetStream consumer as local consumers have room (`ready` holds only those).
   */
  shared: SharedFeed | undefined;
  /**
   * Shared queues with `x-single-active-consumer`: the lease that says which gateway's
   * consumer is the active one (only that gateway pulls).
   */
  lease: SingleActiveLease | undefined;
  /** Shared queues with `x-expires`: what the other gateways say of their consumers and uses. */
  unused: SharedUnused | undefined;
  /** Shared queues that are trimmed or swept: whether this gateway is the one that does it. */
  keeperLease: KeeperLease | undefined;
  /** Shared queues with a drop-head length limit: trims the queue when this gateway keeps it. */
  keeper: DropHeadKeeper | undefined;
  /** Shared queues with `x-message-ttl`: expires the messages no gateway has pulled. */
  expiry: SharedExpiry | undefined;
  /** Shared queues: messages in JetStream not yet pulled by any gateway, as of the last declare. */
  pendingElsewhere = 0;
  /** `x-message-ttl` in ms, if set. */
  readonly ttl: number | undefined;
  /**
   * Durable queues: their own `x-max-length` / `x-max-length-bytes` / `x-overflow`, if set.
   * `appending` counts the messages (and bytes) on their way into JetStream, so that
   * reject-publish decides at publish time, in publish order.
   */
  durableCaps: Omit<QueueLimits, 'budget'> | undefined;
  appending = { messages: 0, bytes: 0 };
  /** `x-single-active-consumer`: only the longest-registered consumer gets messages. */
  readonly singleActive: boolean;
  /** Called for every message that dies here (expired, dropped at the head); set by the broker. */
  onDead: (d: Delivery, reason: DeathReason) => void = () => undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  /** `x-expires`: the queue is deleted after this many ms without consumers, gets or redeclares. */
  private readonly unusedFor: number | undefined;
  private unusedTimer: NodeJS.Timeout | undefined;
  private expiryAt = 0;

  constructor(
    readonly def: QueueDefinition,
    /** The connection that owns an exclusive queue. */
    readonly owner: object | undefined,
    private readonly onUnused: (q: Queue) => void,
    /** Transient queues only: durable ones keep what JetStream holds. */
    readonly limits?: QueueLimits,
  ) {
    const ttl = def.arguments?.['x-message-ttl'];
    this.ttl = typeof ttl === 'number' || typeof ttl === 'bigint' ? Number(ttl) : undefined;
    this.singleActive = def.arguments?.['x-single-active-consumer'] === true;
    const expires = def.arguments?.['x-expires'];
    this.unusedFor = typeof expires === 'number' || typeof expires === 'bigint' ? Number(expires) : undefined;
    this.touch();
    const budget = limits?.budget;
    this.ready = new Deque<Delivery>(
      (d) => d.message.body.length,
      budget
        ? (delta) => {
            budget.used += delta;
          }
        : undefined,
    );
  }

  get name() {
    return this.def.name;
  }

  /**
   * Stamps a fresh message with its expiry: the lower of the queue's `x-message-ttl` and the
   * message's own `expiration` (read only when its flag is set, so plain publishes cost nothing).
   */
  stamp(d: Delivery, now = Date.now()) {
    let ttl = this.ttl;
    const props = d.message.properties;
    if (props.length >= 2 && props.readUInt16BE(0) & EXPIRATION_FLAG) {
      const own = Number(decodeProperties(props).expiration);
      if (Number.isFinite(own) && own >= 0) ttl = ttl === undefined ? own : Math.min(ttl, own);
    }
    if (ttl !== undefined) d.expiresAt = now + ttl;
  }

  enqueue(d: Delivery) {
    this.ready.push(d);
    this.drain();
    this.scheduleExpiry();
  }

  /**
   * Removes expired messages from the head, as RabbitMQ does (a message expires when it is
   * at the head: one with a long TTL holds back shorter ones behind it).
   */
  expireHead(now = Date.now()) {
    for (let d = this.ready.peek(); d?.expiresAt !== undefined && d.expiresAt < now; d = this.ready.peek()) {
      this.ready.shift();
      this.onDead(d, 'expired');
    }
  }

  /** Keeps one timer for the head's expiry so expired messages leave even without consumers. */
  private scheduleExpiry() {
    const at = this.ready.peek()?.expiresAt;
    if (at === undefined || this.deleted) return;
    if (this.expiryTimer && this.expiryAt <= at) return;
    clearTimeout(this.expiryTimer);
    this.expiryAt = at;
    this.expiryTimer = setTimeout(
      () => {
        this.expiryTimer = undefined;
        this.expireHead();
        this.scheduleExpiry();
      },
      Math.max(0, at - Date.now() + 1),
    );
    this.expiryTimer.unref();
  }

  /** The queue is gone: no more expiry timers. */
  stopTimers() {
    clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    clearTimeout(this.unusedTimer);
    this.unusedTimer = undefined;
  }

  /**
   * The queue was used (declared, read with basic.get, a consumer came or went): `x-expires`
   * counts again from now, and only while it has no consumers, as in RabbitMQ. `local` is
   * false for a use on another gateway (shared queues), which is not passed on again.
   */
  touch(local = true) {
    if (this.unusedFor === undefined) return;
    if (local) this.unused?.used();
    clearTimeout(this.unusedTimer);
    this.unusedTimer = undefined;
    if (this.deleted || this.consumers.length > 0 || this.unused?.busyElsewhere) return;
    this.unusedTimer = setTimeout(() => this.onUnused(this), this.unusedFor);
    this.unusedTimer.unref();
  }

  /**
   * Enqueues a message within the queue's limits; false when it is refused (reject-publish,
   * or every transient queue together holds the gateway's maximum). With drop-head the
   * oldest ready messages make room, as RabbitMQ's default overflow does.
   */
  offer(d: Delivery): boolean {
    const l = this.limits;
    if (!l) {
      this.enqueue(d);
      return true;
    }
    const size = d.message.body.length;
    const full = this.ready.length + 1 > l.maxMessages || this.ready.bytes + size > l.maxBytes;
    if (full && l.overflow === 'reject-publish') return false;
    if (l.budget.used + size > l.budget.max) return false;
    this.enqueue(d);
    this.trim(l);
    return true;
  }

  /** drop-head: the oldest ready messages die (`maxlen`) until the queue is within its caps. */
  trim(caps: { maxMessages: number; maxBytes: number }) {
    while (this.ready.length > 0 && (this.ready.length > caps.maxMessages || this.ready.bytes > caps.maxBytes)) {
      this.onDead(this.ready.shift()!, 'maxlen');
    }
  }

  /** reject-publish on a durable queue: whether one more message of `size` bytes is refused. */
  refuses(size: number): boolean {
    const c = this.durableCaps;
    if (c?.overflow !== 'reject-publish') return false;
    return (
      this.ready.length + this.appending.messages + 1 > c.maxMessages ||
      this.ready.bytes + this.appending.bytes + size > c.maxBytes
    );
  }

  /** Puts deliveries back at the head, in the given order, marked redelivered. */
  requeue(ds: Delivery[]) {
    for (const d of ds) d.redelivered = true;
    this.ready.unshiftAll(ds);
    this.drain();
    this.scheduleExpiry();
    if (this.consumers.length === 0) this.noConsumers();
  }

  /**
   * A shared queue has no consumer here: what this gateway holds ready goes back to
   * JetStream for the other gateways. A gated queue (single active consumer) does that when
   * its pull has ended and before it releases its lease, so the next holder gets the
   * messages first, in order.
   */
  noConsumers() {
    if (this.lease) this.lease.changed();
    else this.shared?.giveBack();
  }

  take(): Delivery | undefined {
    this.touch();
    this.expireHead();
    return this.ready.shift();
  }

  /** A delivery now waits for an ack. */
  hold(d: Delivery) {
    this.unacked++;
    if (d.seq !== undefined) this.outstanding.add(d.seq);
  }

  /** A delivery was acked, rejected or requeued. */
  release(d: Delivery) {
    this.unacked--;
    if (d.seq !== undefined) this.outstanding.delete(d.seq);
  }

  /**
   * The lowest JetStream sequence still in the queue (ready or unacked). Fresh messages are
   * appended in sequence order and requeued ones go to the head, so the scan stops at the
   * first message that was never requeued.
   */
  lowestLiveSeq(): number | undefined {
    let low: number | undefined;
    for (const seq of this.outstanding) if (low === undefined || seq < low) low = seq;
    for (const d of this.ready.fromHead()) {
      if (d.seq !== undefined && (low === undefined || d.seq < low)) low = d.seq;
      if (!d.redelivered) break;
    }
    return low;
  }

  /** x-single-active-consumer: the first registered consumer, if it can take one now. */
  private activeConsumer(): Consumer | undefined {
    const c = this.consumers[0];
    return c?.ready() ? c : undefined;
  }

  /**
   * The next consumer with room: round-robin among those of the highest `x-priority` that
   * have room, as RabbitMQ's consumer priorities (lower ones only when higher ones are full).
   */
  private pickConsumer(): Consumer | undefined {
    const n = this.consumers.length;
    let chosen: Consumer | undefined;
    let at = 0;
    for (let i = 0; i < n; i++) {
      const c = this.consumers[(this.next + i) % n]!;
      if ((chosen === undefined || (c.priority ?? 0) > (chosen.priority ?? 0)) && c.ready()) {
        chosen = c;
        at = i;
        if (!this.prioritised) break;
      }
    }
    if (chosen) this.next = (this.next + at + 1) % n;
    return chosen;
  }

  /** Set while the consumers have different priorities (otherwise the first with room wins). */
  private prioritised = false;

  private consumersChanged() {
    const p = this.consumers[0]?.priority ?? 0;
    this.prioritised = this.consumers.some((c) => (c.priority ?? 0) !== p);
  }

  addConsumer(c: Consumer) {
    this.consumers.push(c);
    this.consumersChanged();
    this.touch();
    this.hadConsumer = true;
    this.unused?.consumersChanged();
    this.lease?.changed();
    this.drain();
  }

  removeConsumer(tag: string, owner: Consumer) {
    this.consumers = this.consumers.filter((c) => !(c.tag === tag && c === owner));
    this.consumersChanged();
    this.unused?.consumersChanged();
    this.touch();
    // A single active consumer that left hands over to the next one.
    if (this.singleActive) this.drain();
    if (this.consumers.length === 0) this.noConsumers();
    else this.lease?.changed();
    if (this.consumers.length === 0 && this.hadConsumer && this.def.autoDelete) this.onUnused(this);
  }

  /** Hands ready messages to consumers with room, round-robin, until one side runs out. */
  drain() {
    if (this.draining || this.deleted) return;
    this.draining = true;
    try {
      this.expireHead();
      while (this.ready.length > 0 && this.consumers.length > 0) {
        const chosen = this.singleActive ? this.activeConsumer() : this.pickConsumer();
        if (!chosen) break;
        const d = this.ready.shift()!;
        if (d.expiresAt !== undefined && d.expiresAt < Date.now()) {
          this.onDead(d, 'expired');
          continue;
        }
        if (!chosen.noAck) this.hold(d);
        chosen.deliver(this, d);
      }
    } finally {
      this.draining = false;
    }
    this.shared?.kick();
  }
}
