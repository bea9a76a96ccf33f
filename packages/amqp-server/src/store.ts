import { createHash } from 'node:crypto';
import {
  AckPolicy,
  DiscardPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type KV,
  type NatsConnection,
  headers as natsHeaders,
  RetentionPolicy,
  StorageType,
} from 'nats';

/** A message as a queue holds it: where it was published and its raw AMQP content. */
export interface AmqpMessage {
  exchange: string;
  routingKey: string;
  /** The encoded basic property list of the content header (flags and fields). */
  properties: Buffer;
  body: Buffer;
}

export interface QueueDefinition {
  name: string;
  durable: boolean;
  autoDelete: boolean;
  arguments: Record<string, unknown>;
  /** Wire type tags of the arguments, as declared (RabbitMQ compares and reports them). */
  argumentTypes?: Record<string, string>;
}

export interface ExchangeDefinition {
  name: string;
  type: string;
  durable: boolean;
  autoDelete: boolean;
  /** Declared arguments (`alternate-exchange`) and their wire type tags. */
  arguments?: Record<string, unknown>;
  argumentTypes?: Record<string, string>;
}

export interface BindingDefinition {
  exchange: string;
  /** The destination: a queue, or an exchange when `toExchange` is set (exchange.bind). */
  queue: string;
  routingKey: string;
  toExchange?: boolean;
  /** Binding arguments (headers exchanges match on them), with their wire type tags. */
  arguments?: Record<string, unknown>;
  argumentTypes?: Record<string, string>;
}

export interface Topology {
  exchanges: ExchangeDefinition[];
  queues: QueueDefinition[];
  bindings: BindingDefinition[];
}

export interface AmqpStoreOptions {
  /** Stream holding the messages of durable queues. Default `AMQP_QUEUES`. */
  stream: string;
  /** Subject prefix: messages go to `<prefix>.q.<base64url(queue)>`. Default `amqp`. */
  subjectPrefix: string;
  /** KV bucket holding durable exchanges, queues and bindings. Default `AMQP_TOPOLOGY`. */
  topologyBucket: string;
  /** JetStream storage for the stream. Default `file`. */
  storage: 'file' | 'memory';
}

/**
 * Durable state in JetStream: one stream (limits retention; a message is deleted by
 * sequence when it is acknowledged) and one KV bucket for the topology.
 */
export interface AmqpStore {
  init(): Promise<Topology>;
  /** Stores a message of a durable queue; resolves with its stream sequence. */
  append(queue: string, message: AmqpMessage): Promise<number>;
  remove(seq: number): Promise<void>;
  /** Removes every message of the queue with a sequence below `seq`. */
  purgeBelow(queue: string, seq: number): Promise<void>;
  purge(queue: string): Promise<void>;
  /** Every stored message, in order, with its queue. */
  load(onMessage: (queue: string, seq: number, message: AmqpMessage) => void): Promise<void>;
  saveQueue(q: QueueDefinition): Promise<void>;
  deleteQueue(name: string): Promise<void>;
  saveExchange(x: ExchangeDefinition): Promise<void>;
  deleteExchange(name: string): Promise<void>;
  saveBinding(b: BindingDefinition): Promise<void>;
  deleteBinding(b: BindingDefinition): Promise<void>;
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64url');
const unb64 = (s: string) => Buffer.from(s, 'base64url').toString('utf8');
const bindingKey = (b: BindingDefinition) =>
  `b.${createHash('sha256')
    .update(
      JSON.stringify(
        b.toExchange || (b.arguments && Object.keys(b.arguments).length > 0)
          ? [b.exchange, b.queue, b.routingKey, b.toExchange === true, b.arguments ?? {}]
          : [b.exchange, b.queue, b.routingKey],
      ),
    )
    .digest('hex')}`;

export function createAmqpStore(nc: NatsConnection, options: AmqpStoreOptions): AmqpStore {
  const js: JetStreamClient = nc.jetstream();
  let jsm: JetStreamManager;
  let kv: KV;
  const queueSubject = (queue: string) => `${options.subjectPrefix}.q.${queue ? b64(queue) : '_'}`;
  const queueOf = (subject: string) => {
    const token = subject.slice(options.subjectPrefix.length + 3);
    return token === '_' ? '' : unb64(token);
  };
  const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

  return {
    async init() {
      jsm = await nc.jetstreamManager();
      const config = {
        name: options.stream,
        subjects: [`${options.subjectPrefix}.q.>`],
        retention: RetentionPolicy.Limits,
        storage: options.storage === 'memory' ? StorageType.Memory : StorageType.File,
        discard: DiscardPolicy.Old,
        num_replicas: 1,
      };
      try {
        await jsm.streams.info(options.stream);
      } catch {
        await jsm.streams.add(config);
      }
      kv = await js.views.kv(options.topologyBucket, { history: 1 });
      const topology: Topology = { exchanges: [], queues: [], bindings: [] };
      const keys: string[] = [];
      for await (const k of await kv.keys()) keys.push(k);
      for (const k of keys) {
        const entry = await kv.get(k);
        if (entry?.operation !== 'PUT') continue;
        const value = entry.json<never>();
        if (k.startsWith('q.')) topology.queues.push(value);
        else if (k.startsWith('x.')) topology.exchanges.push(value);
        else if (k.startsWith('b.')) topology.bindings.push(value);
      }
      return topology;
    },
    async append(queue, m) {
      const h = natsHeaders();
      h.set('Amqp-Exchange', encodeURIComponent(m.exchange));
      h.set('Amqp-Routing-Key', encodeURIComponent(m.routingKey));
      h.set('Amqp-Properties', m.properties.toString('base64'));
      const ack = await js.publish(queueSubject(queue), m.body, { headers: h });
      return ack.seq;
    },
    async remove(seq) {
      await jsm.streams.deleteMessage(options.stream, seq, false);
    },
    async purgeBelow(queue, seq) {
      await jsm.streams.purge(options.stream, { filter: queueSubject(queue), seq });
    },
    async purge(queue) {
      await jsm.streams.purge(options.stream, { filter: queueSubject(queue) });
    },
    async load(onMessage) {
      const info = await jsm.streams.info(options.stream);
      if (info.state.messages === 0) return;
      const last = info.state.last_seq;
      const name = `load-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
      await jsm.consumers.add(options.stream, {
        name,
        ack_policy: AckPolicy.None,
        inactive_threshold: 30_000_000_000,
      });
      try {
        const consumer = await js.consumers.get(options.stream, name);
        const messages = await consumer.consume({ max_messages: 1024 });
        for await (const m of messages) {
          const h = m.headers;
          onMessage(queueOf(m.subject), m.seq, {
            exchange: decodeURIComponent(h?.get('Amqp-Exchange') ?? ''),
            routingKey: decodeURIComponent(h?.get('Amqp-Routing-Key') ?? ''),
            properties: Buffer.from(h?.get('Amqp-Properties') ?? 'AAA=', 'base64'),
            body: Buffer.from(m.data),
          });
          if (m.seq >= last || m.info.pending === 0) break;
        }
        messages.stop();
      } finally {
        await jsm.consumers.delete(options.stream, name).catch(() => undefined);
      }
    },
    async saveQueue(q) {
      await kv.put(`q.${b64(q.name)}`, json(q));
    },
    async deleteQueue(name) {
      await kv.delete(`q.${b64(name)}`);
    },
    async saveExchange(x) {
      await kv.put(`x.${b64(x.name)}`, json(x));
    },
    async deleteExchange(name) {
      await kv.delete(`x.${b64(name)}`);
    },
    async saveBinding(b) {
      await kv.put(bindingKey(b), json(b));
    },
    async deleteBinding(b) {
      await kv.delete(bindingKey(b));
    },
  };
}
