import type { Logger } from 'pino';
import type { KeeperLease } from './keeperLease.js';
import type { Delivery, Queue } from './queue.js';
import type { AmqpStore, PulledMessage } from './store.js';

/** How often the keeper looks at its queue's length when no append of its own says so. */
const TRIM_POLL_MS = 250;
/** How long a trimming pull waits for messages another gateway may have taken meanwhile. */
const TRIM_EXPIRES_MS = 1000;

/**
 * `x-max-length` / `x-max-length-bytes` with drop-head on a shared durable queue: one gateway,
 * the keeper (`KeeperLease`), trims the queue. After each append made through it and
 * every 250 ms it reads the ready messages at JetStream (those not delivered; for a byte limit
 * their body sizes, read in place), pulls as many from the head as are over the limits and
 * dead-letters them (`maxlen`). Before dead-lettering it reads the count again, so messages
 * consumers took meanwhile are not dropped twice over: the surplus of the pull goes back
 * (`nak`). One keeper means two gateways never trim the same excess.
 */
export class DropHeadKeeper {
  private readonly trimTimer: NodeJS.Timeout;
  private trimming: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    private readonly q: Queue,
    private readonly store: AmqpStore,
    private readonly lease: KeeperLease,
    private readonly caps: { maxMessages: number; maxBytes: number },
    private readonly logger: Logger,
  ) {
    this.trimTimer = setInterval(() => {
      if (this.lease.held) this.trim();
    }, TRIM_POLL_MS);
    this.trimTimer.unref();
  }

  /** A message was appended through this gateway: trim now (taking the lease if it is free). */
  appended() {
    this.trim();
  }

  private trim() {
    if (this.trimming) {
      this.again = true;
      return;
    }
    const run = async () => {
      if (!this.lease.held) await this.lease.ensure();
      do {
        this.again = false;
        if (!this.lease.held || this.stopped || this.q.deleted) return;
        await this.trimOnce();
      } while (this.again);
    };
    this.trimming = run()
      .catch((err) => this.logger.warn({ err, queue: this.q.name }, 'AMQP: trimming a drop-head queue failed'))
      .finally(() => {
        this.trimming = undefined;
      });
  }
  private async trimOnce() {
    const { maxMessages, maxBytes } = this.caps;
    const position = await this.store.positionOf(this.q.name);
    if (!position) return;
    let excess = Math.max(0, position.pending - maxMessages);
    const byBytes = Number.isFinite(maxBytes);
    if (byBytes) {
      const sizes: number[] = [];
      let total = 0;
      for (let seq = position.delivered + 1; sizes.length < position.pending; ) {
        const next = await this.store.peek(this.q.name, seq);
        if (!next) break;
        sizes.push(next.message.body.length);
        total += next.message.body.length;
        seq = next.seq + 1;
      }
      let k = 0;
      while (total > maxBytes && k < sizes.length) total -= sizes[k++]!;
      excess = Math.max(excess, k);
    }
    if (excess === 0) return;
    const pulled: PulledMessage[] = [];
    await this.store.fetch(this.q.name, excess, TRIM_EXPIRES_MS, (m) => pulled.push(m));
    let drop = pulled.length;
    if (!byBytes) {
      // Consumers may have taken some of the head meanwhile: drop only what is still over.
      const after = await this.store.positionOf(this.q.name);
      if (after) drop = Math.min(pulled.length, Math.max(0, after.pending + pulled.length - maxMessages));
    }
    pulled.forEach((m, i) => {
      if (i >= drop || this.q.deleted) {
        m.raw.nak();
        return;
      }
      const d: Delivery = { message: m.message, seq: m.seq, redelivered: m.redelivered, shared: m.raw };
      this.q.onDead(d, 'maxlen');
    });
  }

  /** The queue is gone here or the gateway stops: trimming ends (the broker then gives up the lease). */
  async stop() {
    this.stopped = true;
    clearInterval(this.trimTimer);
    await this.trimming;
  }
}
