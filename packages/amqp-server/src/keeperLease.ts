import type { Logger } from 'pino';
import type { Queue } from './queue.js';
import type { AmqpStore } from './store.js';

/**
 * The keeper of a shared durable queue: the one gateway that trims it (drop-head) and sweeps
 * its expired head (`x-message-ttl`), so two gateways never drop or expire the same messages
 * twice over. A KV lease `k.<base64url(queue)>`: taken with a create by the first gateway
 * that asks, renewed every third of `staleMs` with a compare-and-set on its revision, taken
 * over by a gateway that saw the same revision for `staleMs` (the keeper died).
 */
export class KeeperLease {
  private revision: number | undefined;
  private seen: { revision: number; since: number } | undefined;
  private readonly timer: NodeJS.Timeout;
  private stopped = false;
  private asking: Promise<boolean> | undefined;

  constructor(
    private readonly q: Queue,
    private readonly store: AmqpStore,
    private readonly gateway: string,
    private readonly staleMs: number,
    private readonly logger: Logger,
  ) {
    this.timer = setInterval(
      () => {
        this.ensure().catch((err) => this.logger.warn({ err, queue: q.name }, 'AMQP: keeper lease failed'));
      },
      Math.max(100, Math.floor(staleMs / 3)),
    );
    this.timer.unref();
  }

  get held(): boolean {
    return this.revision !== undefined;
  }

  /** Renews the lease, or takes it if it is free or stale; resolves with whether it is held here. */
  ensure(): Promise<boolean> {
    this.asking ??= this.step().finally(() => {
      this.asking = undefined;
    });
    return this.asking;
  }

  private async step(): Promise<boolean> {
    if (this.stopped || this.q.deleted) return false;
    const holder = { gateway: this.gateway, consumer: '' };
    if (this.revision !== undefined) {
      this.revision = await this.store.takeLease(this.q.name, holder, this.revision, 'keeper');
      if (this.revision !== undefined) return true;
    }
    const lease = await this.store.leaseOf(this.q.name, 'keeper');
    if (!lease || lease.holder.gateway === this.gateway) {
      this.revision = await this.store.takeLease(this.q.name, holder, lease?.revision, 'keeper');
    } else {
      const now = Date.now();
      if (this.seen?.revision !== lease.revision) this.seen = { revision: lease.revision, since: now };
      else if (now - this.seen.since >= this.staleMs) {
        this.revision = await this.store.takeLease(this.q.name, holder, lease.revision, 'keeper');
      }
    }
    return this.revision !== undefined;
  }

  async stop() {
    this.stopped = true;
    clearInterval(this.timer);
    await this.asking;
    const revision = this.revision;
    this.revision = undefined;
    if (revision !== undefined) await this.store.releaseLease(this.q.name, revision, 'keeper');
  }
}
