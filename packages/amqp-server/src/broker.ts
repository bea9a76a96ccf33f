import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { decodeProperties, encodeProperties, type FieldTable } from './codec.js';
import { AmqpError, accessRefused, notFound, preconditionFailed, resourceLocked } from './errors.js';
import { SharedExpiry } from './expiry.js';
import { checkHeadersBinding, headersMatch, type TypedTable } from './headersMatch.js';
import { DropHeadKeeper } from './keeper.js';
import { KeeperLease } from './keeperLease.js';
import type { ExchangePlugin } from './plugins.js';
import { type DeathReason, type Delivery, type MemoryBudget, Queue, type QueueLimits } from './queue.js';
import { assertEquivalentArguments, checkQueueArguments } from './queueArguments.js';
import { SharedFeed } from './shared.js';
import { SingleActiveLease } from './singleActive.js';
import type {
  AmqpMessage,
  AmqpStore,
  BindingDefinition,
  ExchangeDefinition,
  QueueDefinition,
  TopologyChange,
} from './store.js';
import { topicMatches } from './topic.js';
import { SharedUnused } from './unused.js';

export const REPLY_TO_QUEUE = 'amq.rabbitmq.reply-to';

export interface Binding {
  queue: string;
  routingKey: string;
  /** Binding arguments (a headers exchange matches on them) and their wire type tags. */
  arguments?: Record<string, unknown>;
  argumentTypes?: Record<string, string>;
  /** Plugin-fed exchanges: the plugin's position when the binding was made; older messages do not match. */
  fromPosition?: number;
}

/** An exchange-to-exchange binding (`exchange.bind`): messages matching it go on to `destination`. */
export interface ExchangeBinding {
  destination: string;
  routingKey: string;
  arguments?: Record<string, unknown>;
  argumentTypes?: Record<string, string>;
}

/** The headers of a message, decoded only when a headers exchange needs them. */
export type LazyHeaders = () => TypedTable;

export interface Exchange {
  def: ExchangeDefinition;
  bindings: Binding[];
  exchangeBindings: ExchangeBinding[];
  /** Built in: cannot be deleted or redeclared with other settings. */
  builtIn: boolean;
  /** Set for an exchange plugged in by the embedding application. */
  plugin?: ExchangePlugin;
}

export const exchangeTypes = new Set(['direct', 'fanout', 'topic', 'headers']);

/** The exchanges RabbitMQ declares in every virtual host (amq.rabbitmq.trace aside). */
const builtInExchanges: [string, string][] = [
  ['', 'direct'],
  ['amq.direct', 'direct'],
  ['amq.fanout', 'fanout'],
  ['amq.topic', 'topic'],
  ['amq.headers', 'headers'],
  ['amq.match', 'headers'],
];

const noHeaders: TypedTable = { values: {}, types: undefined };

/** Same binding: same destination, key and arguments. */
const sameArgs = (a: Record<string, unknown> | undefined, b: Record<string, unknown> | undefined) =>
  JSON.stringify(a ?? {}, jsonSafe) === JSON.stringify(b ?? {}, jsonSafe);
const jsonSafe = (_k: string, v: unknown) => (typeof v === 'bigint' ? String(v) : v);

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

/** Whether a binding of exchange `x` takes a message with this routing key (and headers). */
function matches(
  x: Exchange,
  b: { routingKey: string; arguments?: Record<string, unknown>; argumentTypes?: Record<string, string> },
  routingKey: string,
  headers: () => TypedTable,
): boolean {
  switch (x.def.type) {
    case 'fanout':
      return true;
    case 'direct':
      return b.routingKey === routingKey;
    case 'topic':
      return topicMatches(b.routingKey, routingKey);
    case 'headers':
      return headersMatch({ values: b.arguments ?? {}, types: b.argumentTypes }, headers());
    default:
      return false;
  }
}

const sameQueueBinding = (a: Binding, b: Binding) =>
  a.queue === b.queue && a.routingKey === b.routingKey && sameArgs(a.arguments, b.arguments);
const sameExchangeBinding = (a: ExchangeBinding, b: ExchangeBinding) =>
  a.destination === b.destination && a.routingKey === b.routingKey && sameArgs(a.arguments, b.arguments);

const queueBindingDef = (exchange: string, b: Binding): BindingDefinition => ({
  exchange,
  queue: b.queue,
  routingKey: b.routingKey,
  ...(b.arguments ? { arguments: b.arguments, argumentTypes: b.argumentTypes } : {}),
  ...(b.fromPosition !== undefined ? { fromPosition: b.fromPosition } : {}),
});

/**
 * Whether a durable queue is shared by the gateways on the stream (one JetStream consumer):
 * every durable, non-exclusive one. The queue arguments that need the whole queue in one
 * place are coordinated through JetStream and the topology bucket: `x-single-active-consumer`
 * by a lease (`SingleActiveLease`), `x-message-ttl` by head sweeps (`SharedExpiry`),
 * reject-publish limits at each append (`appendIfRoom`), drop-head limits by one keeper
 * (`DropHeadKeeper`), `x-expires` by uses and presences seen by all (`SharedUnused`).
 */
export function isSharedQueue(def: QueueDefinition, owner: object | undefined): boolean {
  return def.durable && owner === undefined;
}
const exchangeBindingDef = (exchange: string, b: ExchangeBinding): BindingDefinition => ({
  exchange,
  queue: b.destination,
  routingKey: b.routingKey,
  toExchange: true,
  ...(b.arguments && Object.keys(b.arguments).length > 0
    ? { arguments: b.arguments, argumentTypes: b.argumentTypes }
    : {}),
});

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
  /** This gateway's name in single-active-consumer leases (one per process start). */
  readonly gatewayId = randomBytes(8).toString('hex');

  constructor(
    readonly store: AmqpStore,
    private readonly logger: Logger,
    private readonly bounds: TransientQueueBounds & { sharedAckWaitMs?: number },
    plugins: readonly ExchangePlugin[] = [],
  ) {
    this.transientMemory = { used: 0, max: bounds.transientTotalMaxBytes };
    for (const [name, type] of builtInExchanges) {
      this.exchanges.set(name, {
        def: { name, type, durable: true, autoDelete: false },
        bindings: [],
        exchangeBindings: [],
        builtIn: true,
      });
    }
    for (const plugin of plugins) {
      if (this.exchanges.has(plugin.name))
        throw new Error(`exchange plugin '${plugin.name}' names a built-in exchange`);
      this.exchanges.set(plugin.name, {
        def: { name: plugin.name, type: plugin.type, durable: true, autoDelete: false },
        bindings: [],
        exchangeBindings: [],
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
      if (!this.exchanges.has(x.name)) {
        this.exchanges.set(x.name, { def: x, bindings: [], exchangeBindings: [], builtIn: false });
      }
    }
    for (const q of topology.queues) {
      const queue = this.newQueue(q, undefined);
      this.queues.set(q.name, queue);
      if (queue.shared) await this.store.ensureConsumer(q.name);
    }
    for (const b of topology.bindings) {
      const x = this.exchanges.get(b.exchange);
      if (!x || this.feeder(b.exchange)) continue;
      const args = { arguments: b.arguments, argumentTypes: b.argumentTypes };
      if (b.toExchange) {
        if (this.exchanges.has(b.queue))
          x.exchangeBindings.push({ destination: b.queue, routingKey: b.routingKey, ...args });
      } else if (this.queues.has(b.queue)) x.bindings.push({ queue: b.queue, routingKey: b.routingKey, ...args });
    }
    const moves: { queue: string; seq: number; message: AmqpMessage }[] = [];
    await this.store.load((queue, seq, message) => {
      const q = this.queues.get(queue);
      if (!q) return;
      if (q.shared) {
        // Stored by a gateway before queues were shared: moved to the work-queue stream below.
        moves.push({ queue, seq, message });
        return;
      }
      // TTLs of restored messages count from the restart (JetStream's timestamp is not read back).
      const d: Delivery = { message, seq, redelivered: false };
      q.stamp(d);
      q.ready.push(d);
    });
    for (const m of moves) {
      await this.store.append(m.queue, m.message, `moved:${m.seq}`, true);
      // Another gateway starting at the same time may have moved it already (same id, deduplicated).
      await this.store.remove(m.seq).catch(() => undefined);
    }
    // Bindings to a plugin-fed exchange are bound again from where they got to (the later of
    // the position they were made at and the saved progress of their queue), oldest first, so
    // the plugin replays what was committed while no gateway ran.
    const fed = topology.bindings
      .filter((b) => this.feeder(b.exchange) && this.queues.has(b.queue))
      .map((b) => ({ b, from: this.resumePosition(b) }))
      .sort((x, y) => (x.from ?? Number.POSITIVE_INFINITY) - (y.from ?? Number.POSITIVE_INFINITY));
    for (const { b, from } of fed) {
      await this.bind(b.queue, b.exchange, b.routingKey, undefined, noHeaders, from);
    }
    await this.store.watch((change) => this.applyChange(change));
  }

  /** Where a plugin-fed binding resumes: after its creation position and its queue's saved progress. */
  private resumePosition(b: BindingDefinition): number | undefined {
    const progress = this.store.progressOf(b.exchange, b.queue);
    // Progress is the last position stored; events of that commit are replayed (deduplicated).
    const done = progress === undefined ? undefined : progress - 1;
    if (b.fromPosition === undefined) return done;
    return done === undefined ? b.fromPosition : Math.max(b.fromPosition, done);
  }

  /**
   * A topology change made by another gateway (own changes are filtered by revision in the
   * store): applied here without writing to the bucket again.
   */
  private applyChange(c: TopologyChange) {
    const run = async () => {
      if (c.kind === 'queue') {
        const name = Buffer.from(c.key.slice(2), 'base64url').toString('utf8');
        const existing = this.queues.get(name);
        if (c.value) {
          if (!existing) this.queues.set(name, this.newQueue(c.value, undefined));
        } else if (existing?.def.durable && !existing.owner) await this.deleteQueue(name, { remote: true });
      } else if (c.kind === 'use') {
        this.queues.get(c.queue)?.unused?.remoteUse();
      } else if (c.kind === 'presence') {
        this.queues.get(c.queue)?.unused?.remotePresence(c.gateway, c.present);
      } else if (c.kind === 'lease') {
        // A released lease: a gateway with consumers waiting takes it now, not at its next beat.
        if (!c.value) this.queues.get(c.queue)?.lease?.changed();
      } else if (c.kind === 'exchange') {
        const name = Buffer.from(c.key.slice(2), 'base64url').toString('utf8');
        const existing = this.exchanges.get(name);
        if (c.value) {
          if (!existing) this.exchanges.set(name, { def: c.value, bindings: [], exchangeBindings: [], builtIn: false });
        } else if (existing && !existing.builtIn) await this.deleteExchange(name, false, true);
      } else {
        const def = c.value ?? c.previous;
        if (!def) return;
        const x = this.exchanges.get(def.exchange);
        if (!x) return;
        const args = def.arguments ? { arguments: def.arguments, argumentTypes: def.argumentTypes } : {};
        if (def.toExchange) {
          const binding: ExchangeBinding = { destination: def.queue, routingKey: def.routingKey, ...args };
          const had = x.exchangeBindings.some((b) => sameExchangeBinding(b, binding));
          if (c.value && !had) x.exchangeBindings.push(binding);
          if (!c.value) x.exchangeBindings = x.exchangeBindings.filter((b) => !sameExchangeBinding(b, binding));
          return;
        }
        const binding: Binding = { queue: def.queue, routingKey: def.routingKey, ...args };
        const had = x.bindings.find((b) => sameQueueBinding(b, binding));
        if (c.value && !had && this.queues.has(def.queue)) {
          if (this.feeder(def.exchange)) {
            await this.bind(def.queue, def.exchange, def.routingKey, undefined, noHeaders, def.fromPosition, true);
          } else x.bindings.push(binding);
        } else if (!c.value && had) {
          x.bindings = x.bindings.filter((b) => b !== had);
          await this.feeder(def.exchange)?.bindingChanged?.(had, false);
        }
      }
    };
    run().catch((err) => this.logger.warn({ err, key: c.key }, 'AMQP: applying a topology change failed'));
  }

  private newQueue(def: QueueDefinition, owner: object | undefined) {
    const transient = !def.durable || owner !== undefined;
    const q = new Queue(
      def,
      owner,
      (q) => {
        this.deleteQueue(q.name).catch((err) => this.logger.warn({ err, queue: q.name }, 'auto-delete failed'));
      },
      transient ? this.transientLimits(def) : undefined,
    );
    if (!transient) q.durableCaps = this.ownCaps(def);
    if (isSharedQueue(def, owner)) {
      // Length limits are checked at JetStream: reject-publish by `appendIfRoom`, drop-head by the keeper.
      const ackWaitMs = this.bounds.sharedAckWaitMs ?? 30_000;
      q.shared = new SharedFeed(q, this.store, ackWaitMs, this.logger);
      if (q.singleActive) q.lease = new SingleActiveLease(q, this.store, this.gatewayId, ackWaitMs, this.logger);
      const dropHead = q.durableCaps?.overflow === 'drop-head';
      if (dropHead || q.ttl !== undefined) {
        q.keeperLease = new KeeperLease(q, this.store, this.gatewayId, ackWaitMs, this.logger);
      }
      if (dropHead && q.durableCaps && q.keeperLease) {
        q.keeper = new DropHeadKeeper(q, this.store, q.keeperLease, q.durableCaps, this.logger);
      }
      const expires = countArg(def.arguments?.['x-expires']);
      if (expires !== undefined) {
        q.unused = new SharedUnused(q, this.store, this.gatewayId, ackWaitMs, expires, this.logger);
      }
      if (q.ttl !== undefined) {
        q.expiry = new SharedExpiry(q, this.store, q.keeperLease!, Math.min(1000, Math.max(100, q.ttl)), this.logger);
      }
    }
    q.onDead = (d, reason) => {
      this.settle(q, d, false);
      this.deadLetter(q, d, reason);
    };
    return q;
  }

  /** A delivery rejected (or nacked) without requeue: gone from its queue, dead-lettered if it has a DLX. */
  reject(q: Queue, d: Delivery) {
    this.settle(q, d, true);
    this.deadLetter(q, d, 'rejected');
  }

  /**
   * Republishes a dead message through the queue's `x-dead-letter-exchange` (with its
   * `x-dead-letter-routing-key`, or the message's own), adding the `x-death` entry and the
   * `x-first-death-*` headers as RabbitMQ writes them. Without a DLX, or when it does not
   * exist, the message is dropped, as in RabbitMQ.
   */
  private deadLetter(q: Queue, d: Delivery, reason: DeathReason) {
    const args = q.def.arguments ?? {};
    const dlx = args['x-dead-letter-exchange'];
    if (typeof dlx !== 'string') return;
    const x = this.exchanges.get(dlx);
    if (!x || x.plugin) return;
    const props = decodeProperties(d.message.properties);
    const headers: FieldTable = { ...(props.headers ?? {}) };
    const deaths = Array.isArray(headers['x-death']) ? [...(headers['x-death'] as FieldTable[])] : [];
    const same = deaths.findIndex((e) => e?.queue === q.name && e?.reason === reason);
    if (same >= 0) {
      const [entry] = deaths.splice(same, 1);
      deaths.unshift({ ...entry, count: BigInt(Number(entry!.count ?? 0) + 1) });
    } else {
      const entry: FieldTable = {
        count: 1n,
        reason,
        queue: q.name,
        time: new Date(Math.floor(Date.now() / 1000) * 1000),
        exchange: d.message.exchange,
        'routing-keys': [d.message.routingKey],
      };
      if (reason === 'expired' && props.expiration !== undefined) entry['original-expiration'] = props.expiration;
      deaths.unshift(entry);
    }
    headers['x-death'] = deaths;
    headers['x-first-death-exchange'] ??= d.message.exchange;
    headers['x-first-death-queue'] ??= q.name;
    headers['x-first-death-reason'] ??= reason;
    if (reason === 'expired') props.expiration = undefined;
    props.headers = headers;
    const dlk = args['x-dead-letter-routing-key'];
    const routingKey = typeof dlk === 'string' ? dlk : d.message.routingKey;
    // A message that only expires round a cycle of queues is dropped where it would come back.
    const cycle = (target: Queue) =>
      reason !== 'rejected' &&
      deaths.some((e) => e?.queue === target.name) &&
      !deaths.some((e) => e?.reason === 'rejected');
    const targets = this.route(x, routingKey, undefined, () => ({ values: headers, types: undefined })).filter(
      (t) => !cycle(t),
    );
    const message: AmqpMessage = {
      exchange: dlx,
      routingKey,
      properties: encodeProperties(props),
      body: d.message.body,
    };
    this.enqueue(targets, message).catch((err) =>
      this.logger.warn({ err, queue: q.name, dlx }, 'AMQP: dead-lettering a message failed'),
    );
  }

  /** A durable queue's own `x-max-length`, `x-max-length-bytes` and `x-overflow`, if it has any. */
  private ownCaps(def: QueueDefinition): Omit<QueueLimits, 'budget'> | undefined {
    const args = def.arguments ?? {};
    const maxLength = countArg(args['x-max-length']);
    const maxBytes = countArg(args['x-max-length-bytes']);
    if (maxLength === undefined && maxBytes === undefined) return undefined;
    return {
      maxMessages: maxLength ?? Number.POSITIVE_INFINITY,
      maxBytes: maxBytes ?? Number.POSITIVE_INFINITY,
      overflow: String(args['x-overflow'] ?? 'drop-head').startsWith('reject-publish') ? 'reject-publish' : 'drop-head',
    };
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
      assertEquivalentArguments(
        `exchange '${def.name}' ${vhost}`,
        { args: def.arguments ?? {}, types: def.argumentTypes },
        { args: existing.def.arguments ?? {}, types: existing.def.argumentTypes },
        ['alternate-exchange'],
      );
      return;
    }
    if (def.name.startsWith('amq.')) {
      throw accessRefused(`exchange name '${def.name}' contains reserved prefix 'amq.*'`);
    }
    if (!exchangeTypes.has(def.type)) {
      throw new AmqpError(503, `COMMAND_INVALID - invalid exchange type '${def.type}'`, 'connection');
    }
    this.exchanges.set(def.name, { def, bindings: [], exchangeBindings: [], builtIn: false });
    if (def.durable) await this.store.saveExchange(def);
  }

  async deleteExchange(name: string, ifUnused: boolean, remote = false) {
    const x = this.exchanges.get(name);
    if (!x) return; // RabbitMQ: deleting a missing exchange succeeds.
    if (x.builtIn) throw accessRefused(`operation not permitted on the default exchange or built-in '${name}'`);
    if (ifUnused && x.bindings.length + x.exchangeBindings.length > 0) {
      throw preconditionFailed(`exchange '${name}' ${vhost} in use`);
    }
    this.exchanges.delete(name);
    if (x.def.durable && !remote) {
      await this.store.deleteExchange(name);
      for (const b of x.bindings) await this.store.deleteBinding(queueBindingDef(name, b));
      for (const b of x.exchangeBindings) await this.store.deleteBinding(exchangeBindingDef(name, b));
    }
    // Bindings into the deleted exchange go with it.
    for (const source of this.exchanges.values()) {
      const mine = source.exchangeBindings.filter((b) => b.destination === name);
      if (mine.length === 0) continue;
      source.exchangeBindings = source.exchangeBindings.filter((b) => b.destination !== name);
      if (source.def.durable && x.def.durable && !remote) {
        for (const b of mine) await this.store.deleteBinding(exchangeBindingDef(source.def.name, b));
      }
    }
  }

  /** exchange.bind: messages routed by `source` that match go on through `destination`. */
  async bindExchange(destination: string, source: string, routingKey: string, args: TypedTable) {
    const [d, s] = this.bindableExchanges(destination, source);
    if (s.def.type === 'headers') checkHeadersBinding(args);
    const binding: ExchangeBinding = { destination, routingKey, arguments: args.values, argumentTypes: args.types };
    if (s.exchangeBindings.some((b) => sameExchangeBinding(b, binding))) return;
    s.exchangeBindings.push(binding);
    if (s.def.durable && d.def.durable) await this.store.saveBinding(exchangeBindingDef(source, binding));
  }

  async unbindExchange(destination: string, source: string, routingKey: string, args: TypedTable) {
    const [d, s] = this.bindableExchanges(destination, source);
    const probe: ExchangeBinding = { destination, routingKey, arguments: args.values };
    const b = s.exchangeBindings.find((o) => sameExchangeBinding(o, probe));
    if (!b) return;
    s.exchangeBindings = s.exchangeBindings.filter((o) => o !== b);
    if (s.def.durable && d.def.durable) await this.store.deleteBinding(exchangeBindingDef(source, b));
  }

  private bindableExchanges(destination: string, source: string): [Exchange, Exchange] {
    if (destination === '' || source === '') throw accessRefused(`operation not permitted on the default exchange`);
    const d = this.exchange(destination);
    const s = this.exchange(source);
    for (const x of [d, s]) {
      if (x.plugin) throw accessRefused(`exchange '${x.def.name}' ${vhost} cannot be bound to other exchanges`);
    }
    return [d, s];
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
      existing.touch();
      if (existing.shared) await this.countShared(existing);
      return existing;
    }
    if (passive) throw notFound(`no queue '${name}' ${vhost}`);
    if (def.name.startsWith('amq.')) throw accessRefused(`queue name '${name}' contains reserved prefix 'amq.*'`);
    checkQueueArguments(`queue '${name}' ${vhost}`, def.arguments, def.argumentTypes);
    const q = this.newQueue({ ...def, name }, def.exclusive ? connection : undefined);
    this.queues.set(name, q);
    if (q.shared) {
      await this.store.ensureConsumer(name);
      // Another gateway may have declared it a moment ago, with messages.
      await this.countShared(q);
    }
    if (def.durable && !def.exclusive) await this.store.saveQueue(q.def);
    // Every queue is bound to the default exchange by its name; routing does that implicitly.
    return q;
  }

  /**
   * A shared queue's ready count as JetStream sees it: everything not acked, less what this
   * gateway holds unacked (and less its own ready messages, which `ready` counts). Unacked
   * deliveries on other gateways count as ready: docs/amqp.md lists this as a limit.
   */
  private async countShared(q: Queue) {
    const total = await this.store.pendingOf(q.name);
    q.pendingElsewhere = Math.max(0, total - q.unacked - q.ready.length);
  }

  /** Deletes a queue: its consumers are cancelled, its messages dropped. Returns the ready count. */
  async deleteQueue(
    name: string,
    opts: { ifUnused?: boolean; ifEmpty?: boolean; connection?: object; remote?: boolean } = {},
  ) {
    const q = this.queues.get(name);
    if (!q) return 0;
    if (opts.connection && q.owner && q.owner !== opts.connection) {
      throw resourceLocked(`cannot obtain exclusive access to locked queue '${name}' ${vhost}`);
    }
    if (opts.ifUnused && q.consumers.length > 0) throw preconditionFailed(`queue '${name}' ${vhost} in use`);
    if (q.shared && opts.ifEmpty) await this.countShared(q);
    if (opts.ifEmpty && q.ready.length + (q.shared ? q.pendingElsewhere : 0) > 0) {
      throw preconditionFailed(`queue '${name}' ${vhost} not empty`);
    }
    this.queues.delete(name);
    q.deleted = true;
    q.stopTimers();
    if (q.shared && !opts.remote) await this.countShared(q);
    const count = q.ready.length + (q.shared ? q.pendingElsewhere : 0);
    q.shared?.stop();
    q.expiry?.stop();
    await q.keeper?.stop();
    await q.keeperLease?.stop();
    await q.lease?.stop();
    await q.unused?.stop();
    q.ready.clear();
    for (const c of q.consumers) c.cancelledByServer();
    q.consumers = [];
    for (const x of this.exchanges.values()) {
      const mine = x.bindings.filter((b) => b.queue === name);
      if (mine.length === 0) continue;
      x.bindings = x.bindings.filter((b) => b.queue !== name);
      const feeder = this.feeder(x.def.name);
      if (feeder) for (const b of mine) await feeder.bindingChanged?.(b, false);
      if (q.def.durable && !q.owner && !opts.remote) {
        for (const b of mine) await this.store.deleteBinding(queueBindingDef(x.def.name, b));
      }
    }
    if (q.def.durable && !q.owner && !opts.remote) {
      await q.tail;
      await this.store.deleteQueue(name);
      await this.store.purge(name);
      if (q.shared) await this.store.deleteConsumer(name);
    }
    return count;
  }

  async purgeQueue(q: Queue) {
    await q.tail;
    const dropped = q.ready.drainAll();
    for (const d of dropped) this.settle(q, d, false);
    if (q.shared) {
      // Everything JetStream holds for the queue goes, messages held unacked by other gateways too.
      await this.countShared(q);
      await this.store.purge(q.name);
      return dropped.length + q.pendingElsewhere;
    }
    return dropped.length;
  }

  async bind(
    queueName: string,
    exchangeName: string,
    routingKey: string,
    connection?: object,
    args: TypedTable = noHeaders,
    fromPosition?: number,
    remote = false,
  ) {
    if (exchangeName === '') throw accessRefused(`operation not permitted on the default exchange`);
    const q = connection ? this.queue(queueName, connection) : this.queues.get(queueName);
    const x = this.exchange(exchangeName);
    if (!q) throw notFound(`no queue '${queueName}' ${vhost}`);
    if (x.plugin?.bindRefusal !== undefined) throw accessRefused(x.plugin.bindRefusal);
    if (x.def.type === 'headers') checkHeadersBinding(args);
    const binding: Binding = { queue: queueName, routingKey };
    if (Object.keys(args.values).length > 0) {
      binding.arguments = args.values;
      binding.argumentTypes = args.types;
    }
    if (x.bindings.some((b) => sameQueueBinding(b, binding))) return;
    if (fromPosition !== undefined) binding.fromPosition = fromPosition;
    await this.feeder(exchangeName)?.bindingChanged?.(binding, true);
    x.bindings.push(binding);
    if (q.def.durable && x.def.durable && !q.owner && !remote) {
      await this.store.saveBinding(queueBindingDef(exchangeName, binding));
    }
  }

  async unbind(
    queueName: string,
    exchangeName: string,
    routingKey: string,
    connection: object,
    args: TypedTable = noHeaders,
  ) {
    if (exchangeName === '') throw accessRefused(`operation not permitted on the default exchange`);
    const q = this.queue(queueName, connection);
    const x = this.exchange(exchangeName);
    const probe: Binding = { queue: queueName, routingKey, arguments: args.values };
    const b = x.bindings.find((o) => sameQueueBinding(o, probe));
    if (!b) return;
    x.bindings = x.bindings.filter((o) => o !== b);
    await this.feeder(exchangeName)?.bindingChanged?.(b, false);
    if (q.def.durable && !q.owner) await this.store.deleteBinding(queueBindingDef(exchangeName, b));
  }

  /**
   * The queues a message goes to, each once: through the exchange's queue bindings, on
   * through exchange-to-exchange bindings (each exchange visited once, so cycles end), and
   * to an exchange's `alternate-exchange` when that exchange itself routed it nowhere.
   */
  route(x: Exchange, routingKey: string, position?: number, headers?: LazyHeaders): Queue[] {
    if (x.def.name === '') {
      const q = this.queues.get(routingKey);
      return q ? [q] : [];
    }
    const out = new Set<Queue>();
    const visited = new Set<Exchange>();
    const work = [x];
    let decoded: TypedTable | undefined;
    const headersOf = () => {
      decoded ??= headers?.() ?? noHeaders;
      return decoded;
    };
    while (work.length > 0) {
      const ex = work.shift()!;
      if (visited.has(ex)) continue;
      visited.add(ex);
      if (ex.def.name === '') {
        const q = this.queues.get(routingKey);
        if (q) out.add(q);
        continue;
      }
      let routed = false;
      for (const b of ex.bindings) {
        if (position !== undefined && b.fromPosition !== undefined && position <= b.fromPosition) continue;
        const q = matches(ex, b, routingKey, headersOf) ? this.queues.get(b.queue) : undefined;
        if (q) {
          out.add(q);
          routed = true;
        }
      }
      for (const b of ex.exchangeBindings) {
        const next = matches(ex, b, routingKey, headersOf) ? this.exchanges.get(b.destination) : undefined;
        if (next) {
          work.push(next);
          routed = true;
        }
      }
      const alternate = ex.def.arguments?.['alternate-exchange'];
      if (!routed && typeof alternate === 'string') {
        const ae = this.exchanges.get(alternate);
        if (ae) work.push(ae);
      }
    }
    return [...out];
  }

  /**
   * Puts a message into queues. Durable queues append to JetStream first (pipelined, in
   * order per queue); the promise resolves when every queue holds the message, with false
   * when a transient queue refused it (its limits, or the gateway's transient memory).
   */
  enqueue(queues: Queue[], message: AmqpMessage, dedupeId?: string): Promise<boolean> {
    const pending: Promise<void>[] = [];
    let taken = true;
    for (const q of queues) {
      if (q.limits) {
        const d: Delivery = { message, redelivered: false };
        q.stamp(d);
        if (!q.offer(d)) taken = false;
        continue;
      }
      const size = message.body.length;
      if (q.shared && q.durableCaps?.overflow === 'reject-publish') {
        pending.push(
          this.appendIfRoom(q, message, dedupeId).then((stored) => {
            if (!stored) taken = false;
          }),
        );
        continue;
      }
      if (q.refuses(size)) {
        taken = false;
        continue;
      }
      q.appending.messages++;
      q.appending.bytes += size;
      const stored = this.store.append(q.name, message, dedupeId, q.shared !== undefined);
      // Handled here so a failed append is not an unhandled rejection while it waits its turn.
      stored.catch(() => undefined);
      const done = q.tail.then(async () => {
        const seq = await stored.finally(() => {
          q.appending.messages--;
          q.appending.bytes -= size;
        });
        // A shared queue's gateways pull the message from JetStream (this one included).
        q.keeper?.appended();
        if (q.expiry) {
          const probe: Delivery = { message, redelivered: false };
          q.stamp(probe);
          if (probe.expiresAt !== undefined) q.expiry.due(probe.expiresAt);
        }
        if (q.deleted || q.shared) return;
        const d: Delivery = { message, seq, redelivered: false };
        q.stamp(d);
        q.enqueue(d);
        if (q.durableCaps) q.trim(q.durableCaps);
      });
      q.tail = done.catch(() => undefined);
      pending.push(done);
    }
    return pending.length === 0 ? Promise.resolve(taken) : Promise.all(pending).then(() => taken);
  }

  /**
   * A shared queue with reject-publish limits: the message is appended only if the queue's
   * ready messages in JetStream leave room, checked and appended one at a time per queue
   * (across gateways by JetStream's expected-sequence check). False when refused.
   */
  private appendIfRoom(q: Queue, message: AmqpMessage, dedupeId?: string): Promise<boolean> {
    const caps = q.durableCaps!;
    const size = message.body.length;
    const done = q.tail.then(async () => {
      const seq = await this.store.appendIfRoom(
        q.name,
        message,
        (ready) => ready.messages + 1 <= caps.maxMessages && ready.bytes + size <= caps.maxBytes,
        Number.isFinite(caps.maxBytes),
        dedupeId,
      );
      if (seq !== undefined && q.expiry) {
        const probe: Delivery = { message, redelivered: false };
        q.stamp(probe);
        if (probe.expiresAt !== undefined) q.expiry.due(probe.expiresAt);
      }
      return seq !== undefined;
    });
    q.tail = done.then(
      () => undefined,
      () => undefined,
    );
    return done;
  }

  /** An acknowledged (or no-ack) delivery: gone for good. */
  settle(q: Queue | undefined, d: Delivery, counted: boolean) {
    if (q && counted) q.release(d);
    if (d.shared) {
      // JetStream deletes the message from the work-queue stream at the ack.
      if (q?.shared) q.shared.settled(d);
      else d.shared.ack();
      return;
    }
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

  /** Progress of plugin-fed queues, saved at most every 500 ms (see `noteProgress`). */
  private readonly progress = new Map<string, { exchange: string; queue: string; position: number }>();
  private progressTimer: NodeJS.Timeout | undefined;

  /**
   * A plugin-fed exchange stored a message at `position` in these queues: the position is
   * saved for durable ones, so a gateway starting later resumes there.
   */
  noteProgress(exchange: string, queues: Queue[], position: number) {
    for (const q of queues) {
      if (!q.def.durable || q.owner) continue;
      this.progress.set(`${exchange}\0${q.name}`, { exchange, queue: q.name, position });
    }
    if (this.progressTimer || this.progress.size === 0) return;
    this.progressTimer = setTimeout(() => {
      this.progressTimer = undefined;
      this.flushProgress().catch((err) => this.logger.warn({ err }, 'AMQP: saving binding progress failed'));
    }, 500);
    this.progressTimer.unref();
  }

  async flushProgress() {
    clearTimeout(this.progressTimer);
    this.progressTimer = undefined;
    const batch = [...this.progress.values()];
    this.progress.clear();
    for (const p of batch) {
      if (this.queues.has(p.queue)) await this.store.saveProgress(p.exchange, p.queue, p.position);
    }
  }

  /**
   * Stops following the topology and gives back every shared message held here, then the
   * single-active-consumer leases (so the next holder finds the messages back first).
   */
  async stopSharing() {
    this.store.stop();
    for (const q of this.queues.values()) {
      q.shared?.stop();
      q.expiry?.stop();
    }
    await Promise.all(
      [...this.queues.values()].flatMap((q) => [
        q.lease?.stop(),
        Promise.resolve(q.keeper?.stop()).then(() => q.keeperLease?.stop()),
        q.unused?.stop(),
      ]),
    );
  }

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
