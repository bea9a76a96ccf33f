import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { type Broker, REPLY_TO_QUEUE, type ReplySink } from './broker.js';
import { type Args, decodeMethod } from './codec.js';
import {
  AmqpError,
  accessRefused,
  notAllowed,
  notFound,
  notImplemented,
  preconditionFailed,
  unexpectedFrame,
} from './errors.js';
import type { Frame } from './frames.js';
import type { AmqpMetrics } from './metrics.js';
import type { AmqpPrincipal } from './plugins.js';
import { Publisher } from './publishing.js';
import type { Consumer, Delivery, Queue } from './queue.js';
import { FrameType, type MethodName } from './spec.js';
import type { AmqpMessage } from './store.js';
import { type FieldTable, fieldTypesOf } from './wire.js';

/** What a channel needs from its connection. */
export interface ChannelHost {
  readonly broker: Broker;
  /** Who the connection logged in as. */
  readonly principal: AmqpPrincipal;
  readonly frameMax: number;
  /** Largest message body accepted, in bytes. */
  readonly maxMessageBytes: number;
  /** Deepest field-table nesting accepted in methods and content headers. */
  readonly maxTableDepth: number;
  /** Ceiling of prefetch counts; qos 0 (unlimited) becomes this. */
  readonly maxPrefetch: number;
  /** Counts a publish's declared body against the connection's unfinished-content limit (506 above it). */
  reserveContent(bytes: number): void;
  releaseContent(bytes: number): void;
  readonly logger: Logger;
  readonly metrics: AmqpMetrics;
  /** The connection, as the owner of its exclusive queues. */
  readonly owner: object;
  sendMethod(channel: number, name: MethodName, args?: Args): void;
  sendContent(channel: number, properties: Buffer, body: Buffer): void;
  /** True while the socket buffer is below its high-water mark. */
  writable(): boolean;
  connectionError(err: AmqpError): void;
  channelClosed(id: number): void;
}

interface ChannelConsumer extends Consumer {
  queue: Queue | undefined;
  prefetch: number;
  unacked: number;
}

interface Unacked {
  queue: Queue;
  delivery: Delivery;
  consumer: ChannelConsumer | undefined;
}

const str = (a: Args, k: string) => String(a[k] ?? '');
const bool = (a: Args, k: string) => a[k] === true;
const num = (a: Args, k: string) => Number(a[k] ?? 0);
/** A method's `arguments` table with the wire type of each field. */
const typedTable = (a: Args) => {
  const values = (a.arguments as FieldTable | undefined) ?? {};
  return { values, types: fieldTypesOf(values) };
};

/** One AMQP channel: its consumers, unacknowledged deliveries, prefetch, publisher confirms. */
export class Channel implements ReplySink {
  private state: 'open' | 'closing' | 'closed' = 'open';
  private readonly consumers = new Map<string, ChannelConsumer>();
  private readonly unacked = new Map<number, Unacked>();
  private deliveryTag = 0;
  private consumerPrefetch = 0;
  private channelPrefetch = 0;
  private flowActive = true;
  private readonly publisher: Publisher;
  private replyKey: string | undefined;
  /** The queue most recently declared on this channel: what the empty queue name means. */
  private lastQueue: string | undefined;
  /** Set by tx.select: acks, nacks and rejects held until tx.commit. */
  private txSettles: { picked: [number, Unacked][]; how: 'ack' | 'requeue' | 'drop' }[] | undefined;
  private replyTag: string | undefined;
  private readonly inbox: Frame[] = [];
  private running = false;

  constructor(
    readonly id: number,
    readonly host: ChannelHost,
  ) {
    this.publisher = new Publisher({
      id,
      host,
      isOpen: () => this.state === 'open',
      replyKey: () => this.replyKey,
      fail: (err) => this.fail(err),
    });
  }

  get broker() {
    return this.host.broker;
  }

  /** Frames are handled one at a time, in order, even when one needs JetStream. */
  receive(f: Frame) {
    this.inbox.push(f);
    if (!this.running) this.pump();
  }

  private pump() {
    this.running = true;
    while (this.inbox.length > 0) {
      const f = this.inbox.shift()!;
      let result: void | Promise<void>;
      try {
        result = this.handle(f);
      } catch (err) {
        this.fail(err);
        continue;
      }
      if (result instanceof Promise) {
        result.then(
          () => this.pump(),
          (err) => {
            this.fail(err);
            this.pump();
          },
        );
        return;
      }
    }
    this.running = false;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private readonly idleWaiters: (() => void)[] = [];

  /** Resolves when every frame received so far has been handled. */
  idle(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private fail(err: unknown) {
    const e =
      err instanceof AmqpError ? err : new AmqpError(541, `INTERNAL_ERROR - ${(err as Error).message}`, 'connection');
    if (e.scope === 'connection') {
      this.host.connectionError(e);
      return;
    }
    if (this.state !== 'open') return;
    this.state = 'closing';
    this.inbox.length = 0;
    this.cleanup();
    this.host.sendMethod(this.id, 'channel.close', { replyCode: e.code, replyText: e.text, ...this.failing });
  }

  private failing = { classId: 0, methodId: 0 };

  private handle(f: Frame): void | Promise<void> {
    if (this.state === 'closed') return;
    if (f.type === FrameType.METHOD) {
      const { spec, args } = decodeMethod(f.payload, this.host.maxTableDepth);
      if (this.state === 'closing') {
        if (spec.name === 'channel.closeOk') this.closed();
        else if (spec.name === 'channel.close') this.host.sendMethod(this.id, 'channel.closeOk');
        return;
      }
      if (this.publisher.inContent) throw unexpectedFrame(`expected content header for class 60, got ${spec.name}`);
      this.failing = { classId: spec.classId, methodId: spec.methodId };
      return this.method(spec.name as MethodName, args);
    }
    if (this.state === 'closing') return;
    this.publisher.content(f);
  }

  private ok(name: MethodName, args: Args, a?: Args) {
    if (a && a.nowait === true) return;
    this.host.sendMethod(this.id, name, args);
  }

  private method(name: MethodName, a: Args): void | Promise<void> {
    const b = this.broker;
    const owner = this.host.owner;
    switch (name) {
      case 'channel.close':
        this.cleanup();
        this.host.sendMethod(this.id, 'channel.closeOk');
        this.closed();
        return;
      case 'channel.flow':
        this.flowActive = bool(a, 'active');
        this.host.sendMethod(this.id, 'channel.flowOk', { active: this.flowActive });
        if (this.flowActive) this.drainAll();
        return;
      case 'channel.flowOk':
        return;
      case 'exchange.declare': {
        const nameX = str(a, 'exchange');
        if (nameX === '' && !bool(a, 'passive')) throw accessRefused(`operation not permitted on the default exchange`);
        if (nameX === '') return this.ok('exchange.declareOk', {}, a);
        const xargs = typedTable(a);
        return b
          .declareExchange(
            {
              name: nameX,
              type: str(a, 'type'),
              durable: bool(a, 'durable'),
              autoDelete: bool(a, 'autoDelete'),
              ...(Object.keys(xargs.values).length > 0 ? { arguments: xargs.values, argumentTypes: xargs.types } : {}),
            },
            bool(a, 'passive'),
          )
          .then(() => this.ok('exchange.declareOk', {}, a));
      }
      case 'exchange.delete':
        return b
          .deleteExchange(str(a, 'exchange'), bool(a, 'ifUnused'))
          .then(() => this.ok('exchange.deleteOk', {}, a));
      case 'exchange.bind':
        return b
          .bindExchange(str(a, 'destination'), str(a, 'source'), str(a, 'routingKey'), typedTable(a))
          .then(() => this.ok('exchange.bindOk', {}, a));
      case 'exchange.unbind':
        return b
          .unbindExchange(str(a, 'destination'), str(a, 'source'), str(a, 'routingKey'), typedTable(a))
          .then(() => this.ok('exchange.unbindOk', {}, a));
      case 'queue.declare':
        return this.declareQueue(a);
      case 'queue.bind':
        return b
          .bind(this.queueName(a), str(a, 'exchange'), this.bindingKey(a), owner, typedTable(a))
          .then(() => this.ok('queue.bindOk', {}, a));
      case 'queue.unbind':
        return b
          .unbind(this.queueName(a), str(a, 'exchange'), this.bindingKey(a), owner, typedTable(a))
          .then(() => this.ok('queue.unbindOk', {}));
      case 'queue.purge':
        return b
          .purgeQueue(b.queue(this.queueName(a), owner))
          .then((count) => this.ok('queue.purgeOk', { messageCount: count }, a));
      case 'queue.delete':
        return b
          .deleteQueue(this.queueName(a), {
            ifUnused: bool(a, 'ifUnused'),
            ifEmpty: bool(a, 'ifEmpty'),
            connection: owner,
          })
          .then((count) => this.ok('queue.deleteOk', { messageCount: count }, a));
      case 'basic.qos':
        if (num(a, 'prefetchSize') !== 0) throw notImplemented(`prefetch_size!=0 (${num(a, 'prefetchSize')})`);
        if (bool(a, 'global')) this.channelPrefetch = this.prefetchWithin(num(a, 'prefetchCount'));
        else {
          // As RabbitMQ: a per-consumer qos also lifts the channel-wide limit.
          this.consumerPrefetch = this.prefetchWithin(num(a, 'prefetchCount'));
          this.channelPrefetch = 0;
        }
        this.host.sendMethod(this.id, 'basic.qosOk');
        this.drainAll();
        return;
      case 'basic.consume':
        return this.consume(a);
      case 'basic.cancel': {
        const tag = str(a, 'consumerTag');
        this.cancel(tag);
        return this.ok('basic.cancelOk', { consumerTag: tag }, a);
      }
      case 'basic.publish':
        if (bool(a, 'immediate')) throw notImplemented('immediate=true');
        this.publisher.begin(a);
        return;
      case 'basic.get':
        return this.get(a);
      case 'basic.ack':
        this.settle(num(a, 'deliveryTag'), bool(a, 'multiple'), 'ack');
        return;
      case 'basic.nack':
        this.settle(num(a, 'deliveryTag'), bool(a, 'multiple'), bool(a, 'requeue') ? 'requeue' : 'drop');
        return;
      case 'basic.reject':
        this.settle(num(a, 'deliveryTag'), false, bool(a, 'requeue') ? 'requeue' : 'drop');
        return;
      case 'basic.recover':
      case 'basic.recoverAsync':
        this.requeueAll();
        if (name === 'basic.recover') this.host.sendMethod(this.id, 'basic.recoverOk');
        return;
      case 'confirm.select':
        this.publisher.selectConfirms();
        return this.ok('confirm.selectOk', {}, a);
      case 'tx.select':
        this.publisher.selectTransaction();
        this.txSettles ??= [];
        this.host.sendMethod(this.id, 'tx.selectOk');
        return;
      case 'tx.commit':
        return this.commit();
      case 'tx.rollback': {
        const held = this.transactional();
        this.publisher.rollback();
        // Acks of the transaction are forgotten: those deliveries are unacknowledged again.
        for (const { picked } of held.splice(0)) for (const [t, u] of picked) this.unacked.set(t, u);
        this.host.sendMethod(this.id, 'tx.rollbackOk');
        return;
      }
      case 'channel.open':
        throw channelAlreadyOpen(this.id);
      default:
        throw new AmqpError(540, `NOT_IMPLEMENTED - ${name}`, 'connection');
    }
  }

  /**
   * The queue a method names; the empty name is the queue most recently declared on the
   * channel (RabbitMQ's shortcut, which clients rely on after declaring a server-named queue).
   */
  private queueName(a: Args) {
    const name = str(a, 'queue');
    if (name !== '') return name;
    if (this.lastQueue === undefined) throw notFound('no previously declared queue');
    return this.lastQueue;
  }

  /** queue.bind/unbind with both the queue and the routing key empty bind by the queue's name. */
  private bindingKey(a: Args) {
    const key = str(a, 'routingKey');
    return key === '' && str(a, 'queue') === '' && this.lastQueue !== undefined ? this.lastQueue : key;
  }

  /** A channel-wide qos of 0 stays unlimited (each consumer is capped anyway); others are capped. */
  private prefetchWithin(n: number) {
    return Math.min(n, this.host.maxPrefetch);
  }

  private async declareQueue(a: Args) {
    const q = await this.broker.declareQueue(
      {
        name: str(a, 'queue'),
        durable: bool(a, 'durable'),
        exclusive: bool(a, 'exclusive'),
        autoDelete: bool(a, 'autoDelete'),
        arguments: (a.arguments as Record<string, unknown>) ?? {},
        argumentTypes: a.arguments ? fieldTypesOf(a.arguments as FieldTable) : undefined,
      },
      bool(a, 'passive'),
      this.host.owner,
    );
    this.lastQueue = q.name;
    this.ok(
      'queue.declareOk',
      { queue: q.name, messageCount: q.ready.length + q.pendingElsewhere, consumerCount: q.consumers.length },
      a,
    );
  }

  private consume(a: Args) {
    const queueName = this.queueName(a);
    const tag = str(a, 'consumerTag') || `amq.ctag-${randomBytes(16).toString('base64url')}`;
    if (this.consumers.has(tag)) throw notAllowed(`attempt to reuse consumer tag '${tag}'`);
    const consumer: ChannelConsumer = {
      tag,
      noAck: bool(a, 'noAck'),
      exclusive: bool(a, 'exclusive'),
      priority: consumerPriority(a),
      queue: undefined,
      prefetch: this.consumerPrefetch === 0 ? this.host.maxPrefetch : this.consumerPrefetch,
      unacked: 0,
      ready: () =>
        this.state === 'open' &&
        this.flowActive &&
        this.host.writable() &&
        (consumer.prefetch === 0 || consumer.unacked < consumer.prefetch) &&
        (this.channelPrefetch === 0 || this.unacked.size < this.channelPrefetch),
      room: () => {
        if (!consumer.ready()) return 0;
        let room = consumer.noAck || consumer.prefetch === 0 ? 256 : consumer.prefetch - consumer.unacked;
        if (this.channelPrefetch !== 0) room = Math.min(room, this.channelPrefetch - this.unacked.size);
        return room;
      },
      deliver: (q, d) => this.deliver(consumer, q, d),
      cancelledByServer: () => {
        this.consumers.delete(tag);
        if (this.state === 'open') this.host.sendMethod(this.id, 'basic.cancel', { consumerTag: tag, nowait: true });
      },
    };
    if (queueName === REPLY_TO_QUEUE) {
      if (!consumer.noAck) throw preconditionFailed('reply consumer cannot acknowledge');
      if (this.replyKey) throw preconditionFailed('reply consumer already set');
      this.replyKey = randomBytes(18).toString('base64url');
      this.replyTag = tag;
      this.broker.replySinks.set(this.replyKey, this);
      this.consumers.set(tag, consumer);
      this.ok('basic.consumeOk', { consumerTag: tag }, a);
      return;
    }
    const q = this.broker.queue(queueName, this.host.owner);
    if (q.consumers.some((c) => c.exclusive) || (consumer.exclusive && q.consumers.length > 0)) {
      throw accessRefused(`queue '${queueName}' in vhost '/' in exclusive use`);
    }
    consumer.queue = q;
    this.consumers.set(tag, consumer);
    this.ok('basic.consumeOk', { consumerTag: tag }, a);
    q.addConsumer(consumer);
  }

  private cancel(tag: string) {
    const c = this.consumers.get(tag);
    if (!c) return;
    this.consumers.delete(tag);
    if (tag === this.replyTag && this.replyKey) {
      this.broker.replySinks.delete(this.replyKey);
      this.replyKey = undefined;
      this.replyTag = undefined;
    }
    c.queue?.removeConsumer(tag, c);
  }

  private deliver(c: ChannelConsumer, q: Queue, d: Delivery) {
    const tag = ++this.deliveryTag;
    if (c.noAck) this.broker.settle(q, d, false);
    else {
      this.unacked.set(tag, { queue: q, delivery: d, consumer: c });
      c.unacked++;
    }
    this.host.metrics.delivered();
    this.host.sendMethod(this.id, 'basic.deliver', {
      consumerTag: c.tag,
      deliveryTag: tag,
      redelivered: d.redelivered,
      exchange: d.message.exchange,
      routingKey: d.message.routingKey,
    });
    this.host.sendContent(this.id, d.message.properties, d.message.body);
  }

  deliverReply(routingKey: string, exchange: string, message: AmqpMessage) {
    if (this.state !== 'open' || !this.replyTag) return;
    this.host.sendMethod(this.id, 'basic.deliver', {
      consumerTag: this.replyTag,
      deliveryTag: ++this.deliveryTag,
      redelivered: false,
      exchange,
      routingKey,
    });
    this.host.sendContent(this.id, message.properties, message.body);
  }

  private get(a: Args): Promise<void> | undefined {
    const q = this.broker.queue(this.queueName(a), this.host.owner);
    const d = q.take();
    if (!d && q.shared) {
      // A shared queue keeps its messages in JetStream until a gateway pulls one.
      return q.shared.pullOne().then((pulled) => this.got(a, q, pulled));
    }
    this.got(a, q, d);
    return undefined;
  }

  private got(a: Args, q: Queue, d: Delivery | undefined) {
    if (!d) {
      this.host.sendMethod(this.id, 'basic.getEmpty');
      return;
    }
    const tag = ++this.deliveryTag;
    if (bool(a, 'noAck')) this.broker.settle(q, d, false);
    else {
      q.hold(d);
      this.unacked.set(tag, { queue: q, delivery: d, consumer: undefined });
    }
    this.host.metrics.delivered();
    this.host.sendMethod(this.id, 'basic.getOk', {
      deliveryTag: tag,
      redelivered: d.redelivered,
      exchange: d.message.exchange,
      routingKey: d.message.routingKey,
      messageCount: q.ready.length + (q.shared ? Math.max(0, q.pendingElsewhere - 1) : 0),
    });
    this.host.sendContent(this.id, d.message.properties, d.message.body);
  }

  /** The acks, nacks and rejects held by the open transaction (406 when there is none). */
  private transactional() {
    if (!this.txSettles) throw preconditionFailed('channel is not transactional');
    return this.txSettles;
  }

  /**
   * tx.commit: the held publishes are routed (and stored) and the held acks applied, then
   * commit-ok. The channel handles no other frame meanwhile, so the two land together.
   */
  private async commit() {
    const held = this.transactional();
    await this.publisher.commit();
    for (const { picked, how } of held.splice(0)) this.apply(picked, how);
    this.drainAll();
    this.host.sendMethod(this.id, 'tx.commitOk');
  }

  private settle(tag: number, multiple: boolean, how: 'ack' | 'requeue' | 'drop') {
    let picked: [number, Unacked][];
    if (multiple) {
      picked = [...this.unacked].filter(([t]) => tag === 0 || t <= tag);
    } else {
      const u = this.unacked.get(tag);
      if (!u) throw preconditionFailed(`unknown delivery tag ${tag}`);
      picked = [[tag, u]];
    }
    for (const [t] of picked) this.unacked.delete(t);
    if (this.txSettles) {
      // Taken from the unacknowledged now (a second ack of the tag is 406, as in RabbitMQ),
      // applied at commit, given back at rollback.
      this.txSettles.push({ picked, how });
      return;
    }
    this.apply(picked, how);
    this.drainAll();
  }

  private apply(picked: [number, Unacked][], how: 'ack' | 'requeue' | 'drop') {
    const requeues = new Map<Queue, Delivery[]>();
    for (const [, u] of picked) {
      if (u.consumer) u.consumer.unacked--;
      if (how === 'requeue') {
        const list = requeues.get(u.queue) ?? [];
        list.push(u.delivery);
        requeues.set(u.queue, list);
      } else if (how === 'drop') this.broker.reject(u.queue, u.delivery);
      else this.broker.settle(u.queue, u.delivery, true);
    }
    for (const [q, ds] of requeues) this.broker.requeue(q, ds);
  }

  private requeueAll() {
    // Deliveries acked inside an unfinished transaction are still unacknowledged.
    for (const { picked } of this.txSettles?.splice(0) ?? []) for (const [t, u] of picked) this.unacked.set(t, u);
    const requeues = new Map<Queue, Delivery[]>();
    for (const u of this.unacked.values()) {
      if (u.consumer) u.consumer.unacked--;
      const list = requeues.get(u.queue) ?? [];
      list.push(u.delivery);
      requeues.set(u.queue, list);
    }
    this.unacked.clear();
    for (const [q, ds] of requeues) this.broker.requeue(q, ds);
  }

  /** Gives every queue this channel consumes from a chance to deliver (after acks, qos, flow, drain). */
  drainAll() {
    for (const c of this.consumers.values()) c.queue?.drain();
  }

  /** Cancels consumers and requeues unacknowledged deliveries (redelivered=true). */
  cleanup() {
    for (const tag of [...this.consumers.keys()]) this.cancel(tag);
    this.requeueAll();
    this.publisher.reset();
  }

  private closed() {
    this.state = 'closed';
    this.host.channelClosed(this.id);
  }

  /** The connection is going away: release everything without sending anything. */
  abandon() {
    if (this.state === 'closed') return;
    this.cleanup();
    this.state = 'closed';
  }
}

/** The `x-priority` argument of basic.consume (an integer), or 0. */
function consumerPriority(a: Args): number {
  const p = (a.arguments as Record<string, unknown> | undefined)?.['x-priority'];
  const n = typeof p === 'bigint' ? Number(p) : p;
  return typeof n === 'number' && Number.isInteger(n) ? n : 0;
}

const channelAlreadyOpen = (id: number) =>
  new AmqpError(504, `CHANNEL_ERROR - second 'channel.open' seen on channel ${id}`, 'connection');
