import type { Logger } from 'pino';
import type { KeeperLease } from './keeperLease.js';
import type { Delivery, Queue } from './queue.js';
import type { AmqpStore, PulledMessage } from './store.js';

/** Most head messages one sweep reads and reaps. */
const SWEEP_MAX = 256;
/** How long a reaping pull waits for messages another gateway may have taken meanwhile. */
const REAP_EXPIRES_MS = 1000;

/**
 * `x-message-ttl` on a shared durable queue: messages that no gateway has pulled expire at
 * the head of the queue in JetStream, as RabbitMQ expires them at the head of a queue
 * without (or with busy) consumers. The queue's keeper (`KeeperLease`: one gateway, so two
 * sweeps never race each other into pulling messages that have not expired) sweeps it: it reads
 * the messages after the consumer's last delivered one (`next_by_subj`), counts those at the
 * head whose time (stored time plus TTL, or their own shorter `expiration`) is up, pulls
 * that many and dead-letters them (the broker's `onDead`: ack, then `x-dead-letter-exchange`
 * with `x-death`). Messages a gateway has pulled expire there, at the head of its ready
 * messages (the queue's own timer). TTLs count from the time JetStream stored the message,
 * so every gateway agrees on them.
 */
export class SharedExpiry {
  private timer: NodeJS.Timeout | undefined;
  private timerAt = 0;
  private running = false;
  private again = false;
  private stopped = false;

  constructor(
    private readonly q: Queue,
    private readonly store: AmqpStore,
    private readonly lease: KeeperLease,
    /** How often a queue is swept when nothing says when its head is due (messages of other gateways). */
    private readonly pollMs: number,
    private readonly logger: Logger,
  ) {
    this.due(Date.now() + pollMs);
  }

  /** A message of the queue is due to expire at `at` (epoch ms): sweep then at the latest. */
  due(at: number) {
    if (this.stopped) return;
    if (this.timer && this.timerAt <= at) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.run(), Math.max(0, at - Date.now()) + 5);
    this.timer.unref();
  }

  private run() {
    this.timer = undefined;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    this.sweep()
      .catch((err) => {
        this.logger.warn({ err, queue: this.q.name }, 'AMQP: expiring messages of a shared queue failed');
        return Date.now() + this.pollMs;
      })
      .then((next) => {
        this.running = false;
        if (this.again) {
          this.again = false;
          next = Date.now();
        }
        this.due(Math.min(next, Date.now() + this.pollMs));
      });
  }

  /** One sweep; resolves with when the next one is due. */
  private async sweep(): Promise<number> {
    const q = this.q;
    if (this.stopped || q.deleted) return Number.POSITIVE_INFINITY;
    if (!(await this.lease.ensure())) return Date.now() + this.pollMs;
    const position = await this.store.positionOf(q.name);
    if (!position || position.pending === 0) return Date.now() + this.pollMs;
    let seq = position.delivered + 1;
    let expired = 0;
    let next = Date.now() + this.pollMs;
    while (expired < SWEEP_MAX) {
      const head = await this.store.peek(q.name, seq);
      if (!head) break;
      const d: Delivery = { message: head.message, redelivered: false };
      q.stamp(d, head.storedAt);
      if (d.expiresAt === undefined || d.expiresAt >= Date.now()) {
        // RabbitMQ expires at the head only: a later message with a shorter TTL waits for it.
        if (d.expiresAt !== undefined) next = d.expiresAt;
        break;
      }
      expired++;
      seq = head.seq + 1;
    }
    if (expired > 0) await this.store.fetch(q.name, expired, REAP_EXPIRES_MS, (m) => this.reap(m));
    return expired === SWEEP_MAX ? Date.now() : next;
  }

  private reap(m: PulledMessage) {
    const q = this.q;
    const d: Delivery = { message: m.message, seq: m.seq, redelivered: m.redelivered, shared: m.raw };
    q.stamp(d, m.storedAt);
    if (this.stopped || q.deleted || d.expiresAt === undefined || d.expiresAt >= Date.now()) {
      // Not expired after all (a redelivery came first): back for the consumers.
      m.raw.nak();
      return;
    }
    q.onDead(d, 'expired');
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
