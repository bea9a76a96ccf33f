import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { AmqpError, accessRefused, notFound, preconditionFailed, resourceLocked } from './errors.js';
import type { ExchangePlugin } from './plugins.js';
import { type Delivery, type MemoryBudget, Queue, type QueueLimits } from './queue.js';
import { assertEquivalentArguments, checkQueueArguments } from './queueArguments.js';
import type { AmqpMessage, AmqpStore, ExchangeDefinition, QueueDefinition } from './store.js';
import { topicMatches } from './topic.js';

export const REPLY_TO_QUEUE = 'amq.rabbitmq.reply-to';

export interface Binding {
  queue: string;
  routingKey: string;
  /** Plugin-fed exchanges: the plugin's position when the binding was made; older messages do not match. */
  fromPosition?: number;
}

export interface Exchange {
  def: ExchangeDefinition;
  bindings: Binding[];
  /** Built in: cannot be deleted or redeclared with other settings. */
  builtIn: boolean;
  /** Set for an exchange plugged in by the embedding application. */
  plugin?: ExchangePlugin;
}

export const exchangeTypes = new Set(['direct', 'fanout', 'topic']);

const builtInExchanges: [string, string][] = [
  ['', 'direct'],
  ['amq.direct', 'direct'],
  ['amq.fanout', 'fanout'],
  ['amq.topic', 'topic'],
];

const vhost = "in vhost '/'";

/** The gateway's maxima for transient queues (see AmqpBounds). */
export interface TransientQueueBounds {
  transientQueueMaxMessages: number;
  transientQueueMaxBytes: number;
  transientTotalMaxBytes: number;
}

/** A non-negative integer queue argument (`x-max-length`, …), if one was given. */
function countArg(v: unknown): number | undefined {
  const n = typeof v === 'bigint' ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 ? n : undefined;
}

/** A receiver of direct reply-to messages: a channel consuming `amq.rabbitmq.reply-to`. */
export interface ReplySink {
  deliverReply(routingKey: string, exchange: string, message: AmqpMessage): void;
}

/** Exchanges, queues and bindings of the one virtual host, with messages of durable queues in JetStream. */
export class Broker {
  readonly exchanges = new Map<string, Exchange>();
  readonly queues = new Map<string, Queue>();
  readonly replySinks = new Map<string, ReplySink>();

  /** Body bytes of ready messages in all transient queues. */
  readonly transientMemory: MemoryBudget;

  constructor(
    readonly store: AmqpStore,
    private readonly logger: Logger,
    private readonly bounds: TransientQueueBounds,
    plugins: readonly ExchangePlugin[] = [],
  ) {
    this.transientMemory = { used: 0, max: bounds.transientTotalMaxBytes };
    for (const [name, type] of builtInExchanges) {
      this.exchanges.set(name, { def: { name, type, durable: true, autoDelete: false }, bindings: [], builtIn: true });
    }
    for (const plugin of plugins) {
      if (this.exchanges.has(plugin.name))
        throw new Error(`exchange plugin '${plugin.name}' names a built-in exchange`);
      this.exchanges.set(plugin.name, {
        def: { name: plugin.name, type: plugin.type, durable: true, autoDelete: false },
        bindings: [],
        builtIn: true,
        plugin,
      });
    }
  }

  /** The plugin-fed exchange a binding of `exchange` tells, if any. */
  private feeder(exchange: string) {
    const plugin = this.exchanges.get(exchange)?.plugin;
    return plugin?.bindingChanged ? plugin : undefined;
  }

  /** Restores durable exchanges, queues, bindings and stored messages. */
  async recover() {
    const topology = await this.store.init();
    for (const x of topology.exchanges) {
      if (!this.exchanges.has(x.name)) this.exchanges.set(x.name, { def: x, bindings: [], builtIn: false });
    }
    for (const q of topology.queues) this.queues.set(q.name, this.newQueue(q, undefined));
    for (const b of topology.bindings) {
      const x = this.exchanges.get(b.exchange);
      if (!x || !this.queues.has(b.queue) || this.feeder(b.exchange)) continue;
      x.bindings.push({ queue: b.queue, routingKey: b.routingKey });
    }
    await this.store.load((queue, seq, message) => {
      this.queues.get(queue)?.ready.push({ message, seq, redelivered: false });
    });
    // Bindings to a plugin-fed exchange are bound again: they resume where the plugin says
    // (lightdom.events: at the head, so events during the downtime are not delivered).
    for (const b of topology.bindings) {
      if (this.feeder(b.exchange) && this.queues.has(b.queue)) await this.bind(b.queue, b.exchange, b.routingKey);
    }
  }

  private newQueue(def: QueueDefinition, owner: object | undefined) {
    const transient = !def.durable || owner !== undefined;
    return new Queue(
      def,
      owner,
      (q) => {
        this.deleteQueue(q.name).catch((err) => this.logger.warn({ err, queue: q.name }, 'auto-delete failed'));
      },
      transient ? this.transientLimits(def) : undefined,
    );
  }

  /** The queue's own `x-max-length`, `x-max-length-bytes` and `x-overflow`, within the gateway's maxima. */
  private transientLimits(def: QueueDefinition): QueueLimits {
    const args = def.arguments ?? {};
    const maxLength = countArg(args['x-max-length']);
    const maxBytes = countArg(args['x-max-length-bytes']);
    const overflow = String(args['x-overflow'] ?? 'drop-head');
    return {
      maxMessages: Math.min(maxLength ?? Number.POSITIVE_INFINITY, this.bounds.transientQueueMaxMessages),
      maxBytes: Math.min(maxBytes ?? Number.POSITIVE_INFINITY, this.bounds.transientQueueMaxBytes),
      overflow: overflow.startsWith('reject-publish') ? 'reject-publish' : 'drop-head',
      budget: this.transientMemory,
    };
  }

  exchange(name: string): Exchange {
    const x = this.exchanges.get(name);
    if (!x) throw notFound(`no exchange '${name}' ${vhost}`);
    return x;
  }

  /** The queue, if the connection may use it (an exclusive queue belongs to its connection). */
  queue(name: string, connection: object): Queue {
    const q = this.queues.get(name);
    if (!q) throw notFound(`no queue '${name}' ${vhost}`);
    if (q.owner && q.owner !== connection) {
      throw resourceLocked(`cannot obtain exclusive access to locked queue '${name}' ${vhost}`);
    }
    return q;
  }

  async declareExchange(def: ExchangeDefinition, passive: boolean) {
    const existing = this.exchanges.get(def.name);
    if (passive) {
      if (!existing) throw notFound(`no exchange '${def.name}' ${vhost}`);
      return;
    }
    if (existing) {
      if (existing.def.type !== def.type) {
        throw preconditionFailed(
          `inequivalent arg 'type' for exchange '${def.name}' ${vhost}: received '${def.type}' but current is '${existing.def.type}'`,
        );
      }
      if (existing.def.durable !== def.durable) {
        throw preconditionFailed(
          `inequivalent arg 'durable' for exchange '${def.name}' ${vhost}: received '${def.durable}' but current is '${existing.def.durable}'`,
        );
      }
      return;
    }
    if (def.name.startsWith('amq.')) {
      throw accessRefused(`exchange name '${def.name}' contains reserved prefix 'amq.*'`);
    }
    if (!exchangeTypes.has(def.type)) {
      throw new AmqpError(503, `COMMAND_INVALID - invalid exchange type '${def.type}'`, 'connection');
    }
    this.exchanges.set(def.name, { def, bindings: [], builtIn: false });
    if (def.durable) await this.store.saveExchange(def);
  }

  async deleteExchange(name: string, ifUnused: boolean) {
    const x = this.exchanges.get(name);
    if (!x) return; // RabbitMQ: deleting a missing exchange succeeds.
    if (x.builtIn) throw accessRefused(`operation not permitted on the default exchange or built-in '${name}'`);
    if (ifUnused && x.bindings.length > 0) throw preconditionFailed(`exchange '${name}' ${vhost} in use`);
    this.exchanges.delete(name);
    if (x.def.durable) {
      await this.store.deleteExchange(name);
      for (const b of x.bindings) await this.store.deleteBinding({ exchange: name, ...b });
    }
  }

  /** Declares or checks a queue; returns it with its ready count and consumer count. */
  async declareQueue(
    def: QueueDefinition & { exclusive: boolean },
    passive: boolean,
    connection: object,
  ): Promise<Queue> {
    let name = def.name;
    if (!name) {
      if (passive) throw notFound(`no queue '' ${vhost}`);
      name = `amq.gen-${randomBytes(16).toString('base64url')}`;
    }
    const existing = this.queues.get(name);
    if (existing) {
      if (existing.owner && existing.owner !== connection) {
        throw resourceLocked(`cannot obtain exclusive access to locked queue '${name}' ${vhost}`);
      }
      if (!passive) {
        for (const [arg, received, current] of [
          ['durable', def.durable, existing.def.durable],
          ['exclusive', def.exclusive, existing.owner !== undefined],
          ['auto_delete', def.autoDelete, existing.def.autoDelete],
        ] as const) {
          if (received !== current) {
            throw preconditionFailed(
              `inequivalent arg '${arg}' for queue '${name}' ${vhost}: received '${received}' but current is '${current}'`,
            );
          }
        }
        assertEquivalentArguments(
          `queue '${name}' ${vhost}`,
          { args: def.arguments, types: def.argumentTypes },
          { args: existing.def.arguments ?? {}, types: existing.def.argumentTypes },
        );
      }
      return existing;
    }
    if (passive) throw notFound(`no queue '${name}' ${vhost}`);
    if (def.name.startsWith('amq.')) throw accessRefused(`queue name '${name}' contains reserved prefix 'amq.*'`);
    checkQueueArguments(`queue '${name}' ${vhost}`, def.arguments, def.argumentTypes);
    const q = this.newQueue({ ...def, name }, def.exclusive ? connection : undefined);
    this.queues.set(name, q);
    if (def.durable && !def.exclusive) await this.store.saveQueue(q.def);
    // Every queue is bound to the default exchange by its name; routing does that implicitly.
    return q;
  }

  /** Deletes a queue: its consumers are cancelled, its messages dropped. Returns the ready count. */
  async deleteQueue(name: string, opts: { ifUnused?: boolean; ifEmpty?: boolean; connection?: object } = {}) {
    const q = this.queues.get(name);
    if (!q) return 0;
    if (opts.connection && q.owner && q.owner !== opts.connection) {
      throw resourceLocked(`cannot obtain exclusive access to locked queue '${name}' ${vhost}`);
    }
    if (opts.ifUnused && q.consumers.length > 0) throw preconditionFailed(`queue '${name}' ${vhost} in use`);
    if (opts.ifEmpty && q.ready.length > 0) throw preconditionFailed(`queue '${name}' ${vhost} not empty`);
    this.queues.delete(name);
    q.deleted = true;
    const count = q.ready.clear();
    for (const c of q.consumers) c.cancelledByServer();
    q.consumers = [];
    for (const x of this.exchanges.values()) {
      const mine = x.bindings.filter((b) => b.queue === name);
      if (mine.length === 0) continue;
      x.bindings = x.bindings.filter((b) => b.queue !== name);
      const feeder = this.feeder(x.def.name);
      if (feeder) for (const b of mine) await feeder.bindingChanged?.(b, false);
      if (q.def.durable && !q.owner) {
        for (const b of mine) await this.store.deleteBinding({ exchange: x.def.name, ...b });
      }
    }
    if (q.def.durable && !q.owner) {
      await q.tail;
      await this.store.deleteQueue(name);
      await this.store.purge(name);
    }
    return count;
  }

  async purgeQueue(q: Queue) {
    await q.tail;
    const dropped = q.ready.drainAll();
    for (const d of dropped) this.settle(q, d, false);
    return dropped.length;
  }

  async bind(queueName: string, exchangeName: string, routingKey: string, connection?: object) {
    if (exchangeName === '') throw accessRefused(`operation not permitted on the default exchange`);
    const q = connection ? this.queue(queueName, connection) : this.queues.get(queueName);
    const x = this.exchange(exchangeName);
    if (!q) throw notFound(`no queue '${queueName}' ${vhost}`);
    if (x.plugin?.bindRefusal !== undefined) throw accessRefused(x.plugin.bindRefusal);
    if (x.bindings.some((b) => b.queue === queueName && b.routingKey === routingKey)) return;
    const binding: Binding = { queue: queueName, routingKey };
    await this.feeder(exchangeName)?.bindingChanged?.(binding, true);
    x.bindings.push(binding);
    if (q.def.durable && x.def.durable && !q.owner) {
      await this.store.saveBinding({ exchange: exchangeName, queue: queueName, routingKey });
    }
  }

  async unbind(queueName: string, exchangeName: string, routingKey: string, connection: object) {
    if (exchangeName === '') throw accessRefused(`operation not permitted on the default exchange`);
    const q = this.queue(queueName, connection);
    const x = this.exchange(exchangeName);
    const b = x.bindings.find((b) => b.queue === queueName && b.routingKey === routingKey);
    if (!b) return;
    x.bindings = x.bindings.filter((o) => o !== b);
    await this.feeder(exchangeName)?.bindingChanged?.(b, false);
    if (q.def.durable && !q.owner)
      await this.store.deleteBinding({ exchange: exchangeName, queue: queueName, routingKey });
  }

  /** The queues a message goes to, each once. */
  route(x: Exchange, routingKey: string, position?: number): Queue[] {
    if (x.def.name === '') {
      const q = this.queues.get(routingKey);
      return q ? [q] : [];
    }
    const out = new Set<Queue>();
    for (const b of x.bindings) {
      if (position !== undefined && b.fromPosition !== undefined && position <= b.fromPosition) continue;
      const matches =
        x.def.type === 'fanout' ||
        (x.def.type === 'direct' && b.routingKey === routingKey) ||
        (x.def.type === 'topic' && topicMatches(b.routingKey, routingKey));
      const q = matches ? this.queues.get(b.queue) : undefined;
      if (q) out.add(q);
    }
    return [...out];
  }

  /**
   * Puts a message into queues. Durable queues append to JetStream first (pipelined, in
   * order per queue); the promise resolves when every queue holds the message, with false
   * when a transient queue refused it (its limits, or the gateway's transient memory).
   */
  enqueue(queues: Queue[], message: AmqpMessage): Promise<boolean> {
    const pending: Promise<void>[] = [];
    let taken = true;
    for (const q of queues) {
      if (q.limits) {
        if (!q.offer({ message, redelivered: false })) taken = false;
        continue;
      }
      const stored = this.store.append(q.name, message);
      // Handled here so a failed append is not an unhandled rejection while it waits its turn.
      stored.catch(() => undefined);
      const done = q.tail.then(async () => {
        const seq = await stored;
        if (q.deleted) return;
        q.enqueue({ message, seq, redelivered: false });
      });
      q.tail = done.catch(() => undefined);
      pending.push(done);
    }
    return pending.length === 0 ? Promise.resolve(taken) : Promise.all(pending).then(() => taken);
  }

  /** An acknowledged (or no-ack) delivery: gone for good. */
  settle(q: Queue | undefined, d: Delivery, counted: boolean) {
    if (q && counted) q.release(d);
    if (d.seq === undefined || !q || q.deleted) return;
    q.acked.push(d.seq);
    if (d.seq > q.maxAcked) q.maxAcked = d.seq;
    this.scheduleRemoval(q);
  }

  /**
   * Removes acknowledged messages from JetStream in batches: one purge of the queue's
   * subject below its lowest live sequence, plus single deletes for acks above it (acks out
   * of order). One removal runs per queue at a time; acks meanwhile wait for the next.
   */
  private scheduleRemoval(q: Queue) {
    if (q.flushing) {
      q.flushAgain = true;
      return;
    }
    q.flushing = true;
    const run = async () => {
      do {
        q.flushAgain = false;
        await q.tail;
        const acked = q.acked;
        q.acked = [];
        if (q.deleted || acked.length === 0) continue;
        const below = q.lowestLiveSeq() ?? q.maxAcked + 1;
        try {
          if (acked.some((seq) => seq < below)) await this.store.purgeBelow(q.name, below);
          await Promise.all(acked.filter((seq) => seq >= below).map((seq) => this.store.remove(seq)));
        } catch (err) {
          this.logger.warn({ err, queue: q.name }, 'AMQP: removing acknowledged messages from JetStream failed');
        }
      } while (q.flushAgain || q.acked.length > 0);
      q.flushing = false;
      this.removals.delete(q);
    };
    this.removals.set(q, new Promise<void>((resolve) => setImmediate(() => run().finally(resolve))));
  }

  private readonly removals = new Map<Queue, Promise<void>>();

  /** Waits until acknowledged messages are removed from JetStream (before a shutdown). */
  async settled() {
    while (this.removals.size > 0) await Promise.all(this.removals.values());
  }

  /** Returns deliveries to the head of their queue, in order, marked redelivered. */
  requeue(q: Queue, ds: Delivery[]) {
    for (const d of ds) q.release(d);
    if (!q.deleted) q.requeue(ds);
  }

  /**
   * Publishes a reply through the default exchange: to a direct reply-to consumer
   * (`amq.rabbitmq.reply-to.<key>`) or to the queue of that name. False when neither exists.
   */
  publishReply(replyTo: string, reply: { properties: Buffer; body: Buffer }): boolean {
    const message: AmqpMessage = { exchange: '', routingKey: replyTo, ...reply };
    if (replyTo.startsWith(`${REPLY_TO_QUEUE}.`)) {
      const sink = this.replySinks.get(replyTo.slice(REPLY_TO_QUEUE.length + 1));
      sink?.deliverReply(replyTo, '', message);
      return sink !== undefined;
    }
    const q = this.queues.get(replyTo);
    if (q) {
      this.enqueue([q], message).catch((err) => this.logger.warn({ err, replyTo }, 'AMQP: storing a reply failed'));
    }
    return q !== undefined;
  }

  /** Exclusive queues of a closing connection go with it. */
  async dropExclusive(connection: object) {
    for (const q of [...this.queues.values()]) {
      if (q.owner === connection) await this.deleteQueue(q.name);
    }
  }
}
