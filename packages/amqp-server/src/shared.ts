import type { Logger } from 'pino';
import type { Delivery, Queue } from './queue.js';
import type { AmqpStore, PulledMessage } from './store.js';

/** Most messages one gateway pulls ahead for a queue's local consumers. */
const PULL_MAX = 1024;
/** How long one pull request waits on the server for messages. */
const PULL_EXPIRES_MS = 5000;
/** The same for a queue gated by a single-active-consumer lease. */
const GATED_PULL_EXPIRES_MS = 1000;

/**
 * The local end of a shared durable queue: every gateway on the stream pulls from the
 * queue's one durable JetStream consumer only as many messages as its own consumers have
 * room for (work-queue semantics: JetStream gives each message to one gateway). A pulled
 * message stays with this gateway until it is settled: acks go to JetStream, and a progress
 * beat (`working`) keeps JetStream from handing it elsewhere while it waits here. When the
 * gateway dies the beats stop and JetStream redelivers after `ack_wait`; when the queue's
 * last local consumer leaves, its ready messages are given back at once (`nak`).
 */
export class SharedFeed {
  private running = false;
  private stopped = false;
  /** Pulled and not yet settled: ready here or delivered and unacked. */
  private readonly held = new Set<Delivery>();
  private readonly beat: NodeJS.Timeout;

  constructor(
    private readonly q: Queue,
    private readonly store: AmqpStore,
    ackWaitMs: number,
    private readonly logger: Logger,
  ) {
    this.beat = setInterval(
      () => {
        for (const d of this.held) d.shared?.working();
      },
      Math.max(100, Math.floor(ackWaitMs / 3)),
    );
    this.beat.unref();
  }

  /**
   * How many more messages to pull: enough to hold twice the local consumers' capacity
   * (room now plus unacked), so the next window waits here while the consumers ack (no round
   * trip to JetStream between one prefetch window and the next).
   */
  private want(): number {
    if (this.stopped || this.q.deleted || this.q.consumers.length === 0) return 0;
    // x-single-active-consumer: only the gateway holding the lease pulls, for its first consumer.
    if (this.q.lease && !this.q.lease.active) return 0;
    const consumers = this.q.singleActive ? this.q.consumers.slice(0, 1) : this.q.consumers;
    let room = 0;
    for (const c of consumers) {
      room += c.room ? c.room() : c.ready() ? 1 : 0;
      if (2 * room >= PULL_MAX) break;
    }
    // A bounded queue pulls no more than its consumers take now: what waits in JetStream is
    // what its length limit counts (RabbitMQ counts ready messages only).
    if (this.q.durableCaps) return Math.min(room, PULL_MAX) - this.q.ready.length;
    // Room now plus what is out with the consumers, twice over, less what is here or out.
    return Math.min(2 * room + this.q.unacked, PULL_MAX) - this.q.ready.length;
  }

  /**
   * Starts pulling if local consumers have room and no pull is running. Acks that come in
   * one turn of the event loop are pulled for together, and while deliveries are still
   * unacked a pull waits until a quarter of the local capacity is free: pulls of one message
   * each would cost a round trip per message.
   */
  kick(force = false) {
    if (this.running || (this.kicked && !force)) return;
    this.kicked = true;
    setImmediate(() => {
      this.kicked = false;
      if (this.running) return;
      const want = this.want();
      if (want <= 0) return;
      if (!force && !this.worthPulling(want)) {
        // At most 5 ms late, whatever stays unacked.
        this.late ??= setTimeout(() => {
          this.late = undefined;
          this.kick(true);
        }, 5);
        return;
      }
      clearTimeout(this.late);
      this.late = undefined;
      this.running = true;
      this.looping = this.loop(want)
        .catch(() => undefined)
        .finally(() => {
          this.looping = undefined;
        });
    });
  }

  private worthPulling(want: number) {
    return this.q.unacked === 0 || want * 4 >= want + this.q.ready.length + this.q.unacked;
  }

  private kicked = false;
  private late: NodeJS.Timeout | undefined;
  private looping: Promise<void> | undefined;

  /** Resolves when no pull is running (a gated queue gives its messages back only then, in order). */
  async idle() {
    while (this.looping) await this.looping;
  }

  /** Pulls `first` messages, then more while the local consumers have room worth a pull. */
  private async loop(first: number) {
    let failed = false;
    try {
      let n = first;
      while (n > 0) {
        // A gated queue's pull is short: its gateway waits for it to end before handing over.
        const expires = this.q.lease ? GATED_PULL_EXPIRES_MS : PULL_EXPIRES_MS;
        await this.store.fetch(this.q.name, n, expires, (m) => this.arrive(m));
        n = this.want();
        if (n > 0 && !this.worthPulling(n)) n = 0;
      }
    } catch (err) {
      failed = true;
      if (!this.stopped) this.logger.warn({ err, queue: this.q.name }, 'AMQP: pulling from a shared queue failed');
    } finally {
      this.running = false;
    }
    if (this.stopped) return;
    if (failed) setTimeout(() => this.kick(), 500).unref();
    else this.kick();
  }

  private arrive(m: PulledMessage) {
    // A gated queue whose lease went to another gateway while this pull waited: not ours.
    if (this.stopped || this.q.deleted || this.q.lease?.held === false) {
      m.raw.nak();
      return;
    }
    const d: Delivery = { message: m.message, seq: m.seq, redelivered: m.redelivered, shared: m.raw };
    this.q.stamp(d, m.storedAt);
    this.held.add(d);
    this.q.enqueue(d);
    if (this.q.consumers.length === 0) this.q.noConsumers();
  }

  /** basic.get: one message waiting in JetStream now, held here like a pulled one. */
  async pullOne(): Promise<Delivery | undefined> {
    const m = await this.store.pullOne(this.q.name);
    if (!m) return undefined;
    const d: Delivery = { message: m.message, seq: m.seq, redelivered: m.redelivered, shared: m.raw };
    this.q.stamp(d, m.storedAt);
    this.held.add(d);
    return d;
  }

  /** A delivery was acked, rejected or dropped here: JetStream forgets it. */
  settled(d: Delivery) {
    this.held.delete(d);
    d.shared?.ack();
  }

  private givingBack = false;

  /**
   * Ready messages with no local consumer go back to JetStream for the other gateways, in
   * order. A pull still waiting on the server would take the first of them straight back
   * (here, with no consumer, to be given back again behind the others), so while one runs
   * they wait for it to end; a consumer that comes meanwhile gets them from here. `now`:
   * at once, whatever runs (a single-active-consumer gateway that waited for its pull itself,
   * or lost its lease and must not keep anything).
   */
  giveBack(now = false) {
    if (this.looping && !now) {
      if (this.givingBack) return;
      this.givingBack = true;
      void this.idle().then(() => {
        this.givingBack = false;
        if (!this.stopped && this.q.consumers.length === 0) this.giveBackNow();
      });
      return;
    }
    this.giveBackNow();
  }

  private giveBackNow() {
    for (const d of this.q.ready.drainAll()) {
      this.held.delete(d);
      d.shared?.nak();
    }
  }

  /** The queue is gone here (deleted, or the gateway stops): everything held goes back. */
  stop() {
    this.stopped = true;
    clearInterval(this.beat);
    clearTimeout(this.late);
    this.q.ready.drainAll();
    for (const d of this.held) d.shared?.nak();
    this.held.clear();
  }
}
