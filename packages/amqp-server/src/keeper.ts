import type { Logger } from 'pino';
import type { Delivery, Queue } from './queue.js';
import type { AmqpStore, PulledMessage } from './store.js';

/** How often the keeper looks at its queue's length when no append of its own says so. */
const TRIM_POLL_MS = 250;
/** How long a trimming pull waits for messages another gateway may have taken meanwhile. */
const TRIM_EXPIRES_MS = 1000;

/**
 * `x-max-length` / `x-max-length-bytes` with drop-head on a shared durable queue: one gateway,
 * the keeper (a KV lease `k.<base64url(queue)>`, renewed every third of `staleMs`, taken over
 * when seen unchanged for `staleMs`), trims the queue. After each append made through it and
 * every 250 ms it reads the ready messages at JetStream (those not delivered; for a byte limit
 * their body sizes, read in place), pulls as many from the head as are over the limits and
 * dead-letters them (`maxlen`). Before dead-lettering it reads the count again, so messages
 * consumers took meanwhile are not dropped twice over: the surplus of the pull goes back
 * (`nak`). One keeper means two gateways never trim the same excess.
 */
export class DropHeadKeeper {
  private revision: number | undefined;
  private seen: { revision: number; since: number } | undefined;
  private readonly leaseTimer: NodeJS.Timeout;
  private readonly trimTimer: NodeJS.Timeout;
  private trimming: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    private readonly q: Queue,
    private readonly store: AmqpStore,
    private readonly gateway: string,
    /** A keeper lease not renewed for this long is taken for dead: the shared queues' ack wait. */
    private readonly staleMs: number,
    private readonly caps: { maxMessages: number; maxBytes: number },
    private readonly logger: Logger,
  ) {
    this.leaseTimer = setInterval(
      () => {
        this.lease().catch((err) => this.logger.warn({ err, queue: q.name }, 'AMQP: keeper lease failed'));
      },
      Math.max(100, Math.floor(staleMs / 3)),
    );
    this.leaseTimer.unref();
    this.trimTimer = setInterval(() => {
      if (this.revision !== undefined) this.trim();
    }, TRIM_POLL_MS);
    this.trimTimer.unref();
  }

  /** A message was appended through this gateway: trim now (taking the lease if it is free). */
  appended() {
    this.trim();
  }

  private async lease() {
    if (this.stopped || this.q.deleted) return;
    const holder = { gateway: this.gateway, consumer: '' };
    if (this.revision !== undefined) {
      this.revision = await this.store.takeLease(this.q.name, holder, this.revision, 'keeper');
      if (this.revision !== undefined) return;
    }
    const lease = await this.store.leaseOf(this.q.name, 'keeper');
    if (!lease || lease.holder.gateway === this.gateway) {
      this.revision = await this.store.takeLease(this.q.name, holder, lease?.revision, 'keeper');
      return;
    }
    const now = Date.now();
    if (this.seen?.revision !== lease.revision) this.seen = { revision: lease.revision, since: now };
    else if (now - this.seen.since >= this.staleMs) {
      this.revision = await this.store.takeLease(this.q.name, holder, lease.revision, 'keeper');
    }
  }

  private trim() {
    if (this.trimming) {
      this.again = true;
      return;
    }
    const run = async () => {
      if (this.revision === undefined) await this.lease();
      do {
        this.again = false;
        if (this.revision === undefined || this.stopped || this.q.deleted) return;
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

  /** The queue is gone here or the gateway stops: trimming ends and the lease is given up. */
  async stop() {
    this.stopped = true;
    clearInterval(this.leaseTimer);
    clearInterval(this.trimTimer);
    await this.trimming;
    const revision = this.revision;
    this.revision = undefined;
    if (revision !== undefined) await this.store.releaseLease(this.q.name, revision, 'keeper');
  }
}
