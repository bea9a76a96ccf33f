import { type Exchange, REPLY_TO_QUEUE } from './broker.js';
import type { ChannelHost } from './channel.js';
import { type Args, type BasicProperties, decodeProperties, encodeProperties } from './codec.js';
import { AmqpError, accessRefused, preconditionFailed, syntaxError, unexpectedFrame } from './errors.js';
import type { Frame } from './frames.js';
import { FrameType } from './spec.js';
import type { AmqpMessage } from './store.js';
import { fieldTypesOf } from './wire.js';

interface PendingPublish {
  exchange: string;
  routingKey: string;
  mandatory: boolean;
  size: number;
  properties?: Buffer;
  /** Allocated at the first body frame, `size` bytes: frames are copied in, not kept. */
  body?: Buffer;
  received: number;
  /** Bytes counted against the connection's unfinished-content limit. */
  reserved: number;
}

/** The `headers` bit of a content header's property flags. */
const HEADERS_FLAG = 1 << 13;

interface Content {
  properties: Buffer;
  body: Buffer;
}

/** What the publishing side needs from its channel. */
export interface PublishingChannel {
  readonly id: number;
  readonly host: ChannelHost;
  isOpen(): boolean;
  /** The key of the channel's direct reply-to consumer, if it has one. */
  replyKey(): string | undefined;
  /** Closes the channel (or the connection) with this error, after the fact. */
  fail(err: AmqpError): void;
}

/**
 * The publishing half of a channel: assembles basic.publish content, routes it (queues,
 * plugged-in exchanges, direct reply-to), returns unroutable mandatory messages and sends
 * publisher confirms in publish order.
 */
export class Publisher {
  private pending: PendingPublish | undefined;
  private confirming = false;
  private seq = 0;
  private confirmTail: Promise<void> = Promise.resolve();

  constructor(private readonly ch: PublishingChannel) {}

  get inContent() {
    return this.pending !== undefined;
  }

  selectConfirms() {
    if (this.transaction) throw preconditionFailed('cannot switch from tx to confirm mode');
    this.confirming = true;
  }

  /** Publishes held by an open transaction (tx.select), routed in order at commit. */
  private transaction: (() => Promise<boolean>)[] | undefined;

  selectTransaction() {
    if (this.confirming) throw preconditionFailed('cannot switch from confirm to tx mode');
    this.transaction ??= [];
  }

  /** tx.commit: routes the held publishes in order; resolves when every queue holds them. */
  async commit() {
    const held = this.transaction ?? [];
    if (this.transaction) this.transaction = [];
    await Promise.all(held.map((route) => route()));
  }

  /** tx.rollback: the held publishes are dropped. */
  rollback() {
    if (this.transaction) this.transaction = [];
  }

  begin(a: Args) {
    this.pending = {
      exchange: String(a.exchange ?? ''),
      routingKey: String(a.routingKey ?? ''),
      mandatory: a.mandatory === true,
      size: 0,
      received: 0,
      reserved: 0,
    };
  }

  /** Drops an unfinished publish and gives its bytes back to the connection. */
  reset() {
    this.finish();
    this.rollback();
  }

  private finish() {
    const p = this.pending;
    this.pending = undefined;
    if (p && p.reserved > 0) this.ch.host.releaseContent(p.reserved);
  }

  /** A content header or body frame of the message being published. */
  content(f: Frame) {
    const p = this.pending;
    const max = this.ch.host.maxMessageBytes;
    if (!p) throw unexpectedFrame(`content frame with no basic.publish on channel ${this.ch.id}`);
    if (f.type === FrameType.HEADER) {
      if (p.properties) throw unexpectedFrame('second content header');
      if (f.payload.length < 14) throw syntaxError('content header shorter than 14 bytes');
      p.size = Number(f.payload.readBigUInt64BE(4));
      if (p.size > max) throw preconditionFailed(`message size ${p.size} is larger than configured max size ${max}`);
      const properties = f.payload.subarray(12);
      // Consumers decode these headers: a table nested past the bound is refused here (502).
      if (properties.readUInt16BE(0) & HEADERS_FLAG) decodeProperties(properties, this.ch.host.maxTableDepth);
      this.ch.host.reserveContent(p.size);
      p.reserved = p.size;
      p.properties = Buffer.from(properties);
    } else if (f.type === FrameType.BODY) {
      if (!p.properties) throw unexpectedFrame('content body before the header');
      if (p.received + f.payload.length > p.size) throw unexpectedFrame('content body larger than the header said');
      p.body ??= Buffer.allocUnsafe(p.size);
      f.payload.copy(p.body, p.received);
      p.received += f.payload.length;
    } else {
      throw unexpectedFrame(`frame type ${f.type}`);
    }
    if (p.properties && p.received === p.size) {
      this.finish();
      this.publish(p, { properties: p.properties, body: p.body ?? Buffer.alloc(0) });
    }
  }

  private publish(p: PendingPublish, content: Content) {
    const { host } = this.ch;
    const broker = host.broker;
    const seq = this.confirming ? ++this.seq : 0;
    host.metrics.published();
    const x = broker.exchange(p.exchange);
    const plugin = x.plugin;
    if (plugin && !plugin.publish) {
      throw accessRefused(plugin.publishRefusal ?? `clients may not publish to exchange '${plugin.name}'`);
    }
    if (this.transaction) {
      // Checked now (404, 403 above), routed at tx.commit.
      this.transaction.push(() => this.route(p, content, x));
      return;
    }
    const stored = this.route(p, content, x);
    if (!this.confirming) return;
    this.confirmTail = this.confirmTail.then(() => stored).then((ok) => this.confirmed(seq, ok));
  }

  /** Routes a finished publish; resolves with whether every queue took it. */
  private route(p: PendingPublish, content: Content, x: Exchange): Promise<boolean> {
    const { host } = this.ch;
    const broker = host.broker;
    const plugin = x.plugin;
    let message: AmqpMessage = { exchange: p.exchange, routingKey: p.routingKey, ...content };
    let props: BasicProperties | undefined;
    if (content.properties.includes(REPLY_TO_QUEUE)) {
      props = decodeProperties(content.properties);
      if (props.replyTo === REPLY_TO_QUEUE) {
        const key = this.ch.replyKey();
        if (!key) throw preconditionFailed('fast reply consumer does not exist');
        props.replyTo = `${REPLY_TO_QUEUE}.${key}`;
        message = { ...message, properties: encodeProperties(props) };
      }
    }
    let done: Promise<boolean | undefined> = Promise.resolve(undefined);
    if (plugin?.publish) {
      const request = props ?? decodeProperties(content.properties);
      // A synchronous throw (an AmqpError) closes the channel before anything else happens.
      const replied = plugin.publish(
        { routingKey: p.routingKey, properties: request, rawProperties: content.properties, body: content.body },
        host.principal,
      );
      replied.then(
        (reply) => {
          if (reply && request.replyTo) broker.publishReply(request.replyTo, reply);
        },
        (err) => {
          if (err instanceof AmqpError) {
            if (this.ch.isOpen()) this.ch.fail(err);
          } else host.logger.error({ err, exchange: p.exchange }, 'AMQP: exchange plugin failed');
        },
      );
    } else if (p.exchange === '' && p.routingKey.startsWith(`${REPLY_TO_QUEUE}.`)) {
      if (!broker.publishReply(p.routingKey, message) && p.mandatory) this.returnMessage(p, content);
    } else {
      const queues = broker.route(x, p.routingKey, undefined, () => {
        const headers = (props ?? decodeProperties(content.properties)).headers ?? {};
        return { values: headers, types: fieldTypesOf(headers) };
      });
      if (queues.length === 0 && p.mandatory) this.returnMessage(p, content);
      done = broker.enqueue(queues, message);
    }
    return done.then(
      (taken) => taken !== false,
      (err) => {
        host.logger.warn({ err, exchange: p.exchange, routingKey: p.routingKey }, 'AMQP: storing a message failed');
        return false;
      },
    );
  }

  /** Confirms settled since the last flush, in publish order: sent together, as runs. */
  private settledConfirms: { seq: number; ok: boolean }[] = [];

  private confirmed(seq: number, ok: boolean) {
    if (this.settledConfirms.push({ seq, ok }) === 1) setImmediate(() => this.flushConfirms());
  }

  /**
   * Sends the confirms that became ready together as RabbitMQ does: a run of acks (or of
   * nacks) is one frame with `multiple` set, naming the run's last tag. Every earlier tag is
   * already confirmed (confirms go out in publish order), so `multiple` covers exactly the run.
   */
  private flushConfirms() {
    const ready = this.settledConfirms;
    this.settledConfirms = [];
    if (!this.ch.isOpen()) return;
    let i = 0;
    while (i < ready.length) {
      let j = i;
      while (j + 1 < ready.length && ready[j + 1]!.ok === ready[i]!.ok) j++;
      this.ch.host.sendMethod(this.ch.id, ready[i]!.ok ? 'basic.ack' : 'basic.nack', {
        deliveryTag: ready[j]!.seq,
        multiple: j > i,
      });
      i = j + 1;
    }
  }

  private returnMessage(p: PendingPublish, content: Content) {
    this.ch.host.sendMethod(this.ch.id, 'basic.return', {
      replyCode: 312,
      replyText: 'NO_ROUTE',
      exchange: p.exchange,
      routingKey: p.routingKey,
    });
    this.ch.host.sendContent(this.ch.id, content.properties, content.body);
  }
}
