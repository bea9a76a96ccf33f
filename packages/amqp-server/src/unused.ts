import type { Logger } from 'pino';
import type { Queue } from './queue.js';
import type { AmqpStore } from './store.js';

/**
 * `x-expires` on a shared durable queue, across gateways: the queue is "unused" only when no
 * gateway has a consumer of it and none has declared it or read it with `basic.get` for that
 * long. Each gateway tells the others through the topology bucket: a use is a put of
 * `u.<base64url(queue)>` (at most four a period), and a gateway with consumers keeps a
 * presence key `c.<base64url(queue)>.<gateway>` renewed every third of `staleMs` and deleted
 * when its last consumer leaves. Every gateway restarts its own `x-expires` timer at each
 * use it sees and holds it while any presence is fresh (a presence not renewed for
 * `staleMs` is a dead gateway's, and its end counts as a use); the first timer to fire
 * deletes the queue for all.
 */
export class SharedUnused {
  /** Gateways with consumers of the queue, and when each last said so (local clock). */
  private readonly elsewhere = new Map<string, number>();
  private lastSent = 0;
  private present = false;
  private readonly timer: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly q: Queue,
    private readonly store: AmqpStore,
    private readonly gateway: string,
    private readonly staleMs: number,
    /** The queue's `x-expires`, ms. */
    private readonly expiresMs: number,
    private readonly logger: Logger,
  ) {
    this.timer = setInterval(() => this.beat(), Math.max(100, Math.floor(staleMs / 3)));
    this.timer.unref();
    // Consumers other gateways had before this one knew the queue (the watch shows only changes).
    store
      .presencesOf(q.name)
      .then((gateways) => {
        for (const gw of gateways) this.remotePresence(gw, true);
      })
      .catch(this.warn);
  }

  /** Whether a consumer on another gateway keeps the queue in use. */
  get busyElsewhere() {
    return this.elsewhere.size > 0;
  }

  private warn = (err: unknown) => this.logger.warn({ err, queue: this.q.name }, 'AMQP: x-expires sharing failed');

  /** The queue was used here (declared, read, a consumer came or went): the others hear of it. */
  used() {
    if (this.stopped) return;
    const now = Date.now();
    if (now - this.lastSent < this.expiresMs / 4) return;
    this.lastSent = now;
    this.store.noteUse(this.q.name).catch(this.warn);
  }

  /** The local consumers changed: the presence key follows whether there are any. */
  consumersChanged() {
    const want = this.q.consumers.length > 0 && !this.stopped && !this.q.deleted;
    if (want === this.present) return;
    this.present = want;
    this.store.notePresence(this.q.name, this.gateway, want).catch(this.warn);
  }

  /** Another gateway used the queue. */
  remoteUse() {
    this.q.touch(false);
  }

  /** Another gateway's presence key changed: it has consumers, or its last one left. */
  remotePresence(gateway: string, present: boolean) {
    if (gateway === this.gateway) return;
    if (present) {
      const had = this.elsewhere.size;
      this.elsewhere.set(gateway, Date.now());
      if (had === 0) this.q.touch(false);
    } else if (this.elsewhere.delete(gateway)) this.q.touch(false);
  }

  private beat() {
    if (this.stopped) return;
    if (this.present) this.store.notePresence(this.q.name, this.gateway, true).catch(this.warn);
    const now = Date.now();
    let gone = false;
    for (const [gw, at] of this.elsewhere) {
      if (now - at >= this.staleMs) {
        this.elsewhere.delete(gw);
        gone = true;
      }
    }
    if (gone) this.q.touch(false);
  }

  async stop() {
    this.stopped = true;
    clearInterval(this.timer);
    if (this.present) {
      this.present = false;
      await this.store.notePresence(this.q.name, this.gateway, false).catch(this.warn);
    }
  }
}
