import type { Logger } from 'pino';
import type { Queue } from './queue.js';
import type { AmqpStore } from './store.js';

/**
 * `x-single-active-consumer` on a shared durable queue, across gateways: one gateway at a
 * time holds the queue's lease (a KV key naming it and its active consumer) and only that
 * gateway pulls from the queue's JetStream consumer; inside it the queue's first registered
 * consumer is the active one. The holder renews the lease every third of `staleMs`; a gateway
 * with consumers waiting takes the lease when it is free (released when the holder's last
 * consumer there left, or the holder stopped) or when it saw the same revision for
 * `staleMs` (the holder died). JetStream redelivers what a dead holder had pulled once
 * `ack_wait` passes, so the new holder waits for that after such a takeover before its
 * first pull: the redeliveries come first, in order.
 */
export class SingleActiveLease {
  /** The KV revision of the lease while this gateway holds it. */
  private revision: number | undefined;
  /** The lease revision last seen held by another gateway, and since when (local clock). */
  private seen: { revision: number; since: number } | undefined;
  /** Pulls wait until then after a stale lease was taken over (epoch ms). */
  private pullsFrom = 0;
  private readonly timer: NodeJS.Timeout;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    private readonly q: Queue,
    private readonly store: AmqpStore,
    private readonly gateway: string,
    /** A lease not renewed for this long is taken for dead: the shared queues' ack wait. */
    private readonly staleMs: number,
    private readonly logger: Logger,
  ) {
    this.timer = setInterval(() => this.changed(), Math.max(100, Math.floor(staleMs / 3)));
    this.timer.unref();
  }

  /** Whether this gateway holds the lease (its pulls may still be waiting after a takeover). */
  get held(): boolean {
    return this.revision !== undefined;
  }

  /** Whether this gateway may pull for its consumers now. */
  get active(): boolean {
    return this.revision !== undefined && Date.now() >= this.pullsFrom;
  }

  /**
   * Something changed (a local consumer came or went, the lease changed in the bucket, a
   * beat is due): renew, take or give up the lease. Calls that come while one runs are
   * folded into one more run.
   */
  changed() {
    if (this.running) {
      this.again = true;
      return;
    }
    const run = async () => {
      do {
        this.again = false;
        await this.step();
      } while (this.again && !this.stopped);
    };
    this.running = run()
      .catch((err) => this.logger.warn({ err, queue: this.q.name }, 'AMQP: single-active-consumer lease failed'))
      .finally(() => {
        this.running = undefined;
      });
  }

  private holder() {
    return { gateway: this.gateway, consumer: this.q.consumers[0]?.tag ?? '' };
  }

  private async step(): Promise<void> {
    if (this.stopped) return;
    const q = this.q;
    if (q.consumers.length === 0 || q.deleted) {
      await q.shared?.idle();
      if (q.consumers.length > 0 && !q.deleted) return this.step();
      q.shared?.giveBack(true);
      await this.release();
      return;
    }
    if (this.revision !== undefined) {
      const renewed = await this.store.takeLease(q.name, this.holder(), this.revision);
      if (renewed !== undefined) {
        this.revision = renewed;
        return;
      }
      // Taken over (this gateway looked dead to another): what it pulled goes back.
      this.logger.warn({ queue: q.name }, 'AMQP: single-active-consumer lease lost to another gateway');
      this.revision = undefined;
      q.shared?.giveBack(true);
    }
    const lease = await this.store.leaseOf(q.name);
    if (lease === undefined) {
      this.won(await this.store.takeLease(q.name, this.holder()), false);
      return;
    }
    if (lease.holder.gateway === this.gateway) {
      // Ours from before a restart of the watch, or a race with a release: renew it.
      this.won(await this.store.takeLease(q.name, this.holder(), lease.revision), false);
      return;
    }
    const now = Date.now();
    if (this.seen?.revision !== lease.revision) {
      this.seen = { revision: lease.revision, since: now };
      return;
    }
    if (now - this.seen.since >= this.staleMs) {
      this.won(await this.store.takeLease(q.name, this.holder(), lease.revision), true);
    }
  }

  private won(revision: number | undefined, stale: boolean) {
    if (revision === undefined || this.stopped) return;
    this.revision = revision;
    this.seen = undefined;
    if (stale) {
      // The dead holder died at most about a third of staleMs after its last renewal, and its
      // deliveries are due at JetStream ack_wait (= staleMs) after its last beat: waiting
      // staleMs more leaves a margin for a loaded machine.
      const wait = this.staleMs;
      this.pullsFrom = Date.now() + wait;
      setTimeout(() => this.q.shared?.kick(), wait + 10).unref();
    } else this.pullsFrom = 0;
    this.logger.debug({ queue: this.q.name, stale }, 'AMQP: single-active-consumer lease taken');
    this.q.shared?.kick();
  }

  private async release() {
    const revision = this.revision;
    this.revision = undefined;
    this.seen = undefined;
    if (revision !== undefined) await this.store.releaseLease(this.q.name, revision);
  }

  /**
   * The queue is gone here or the gateway stops: the lease is given up (after the feed gave
   * its messages back, so the next holder gets them first).
   */
  async stop() {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
    await this.release();
  }
}
