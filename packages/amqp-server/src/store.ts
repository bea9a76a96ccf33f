import { createHash } from 'node:crypto';
import {
  AckPolicy,
  type Consumer,
  DeliverPolicy,
  DiscardPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type KV,
  type KvEntry,
  KvWatchInclude,
  type NatsConnection,
  headers as natsHeaders,
  type QueuedIterator,
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
  /** Plugin-fed exchanges: the position the binding starts after (older messages do not match). */
  fromPosition?: number;
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
  /**
   * Shared durable queues: how long JetStream waits for an ack (or a progress beat) from the
   * gateway that pulled a message before it hands it to another gateway. Default 30000 ms.
   */
  sharedAckWaitMs: number;
}

/** A change to the topology bucket made by any gateway (seen through the KV watch). */
export type TopologyChange =
  | { kind: 'queue'; revision: number; key: string; value?: QueueDefinition }
  | { kind: 'exchange'; revision: number; key: string; value?: ExchangeDefinition }
  | { kind: 'binding'; revision: number; key: string; value?: BindingDefinition; previous?: BindingDefinition }
  | { kind: 'lease'; revision: number; key: string; queue: string; value?: LeaseHolder }
  /** `x-expires` on shared queues: a gateway used the queue (`u.…`). */
  | { kind: 'use'; revision: number; key: string; queue: string }
  /** `x-expires` on shared queues: a gateway has consumers of the queue, or no longer (`c.…`). */
  | { kind: 'presence'; revision: number; key: string; queue: string; gateway: string; present: boolean };

/** Who holds a single-active-consumer queue's lease: a gateway and its active consumer. */
export interface LeaseHolder {
  gateway: string;
  consumer: string;
}

/** A lease as read from the bucket: its holder and the KV revision (the compare-and-set token). */
export interface Lease {
  holder: LeaseHolder;
  revision: number;
}

/** A message of a shared queue read in place (not pulled): its sequence and stored time. */
export interface PeekedMessage {
  seq: number;
  message: AmqpMessage;
  /** When it was stored, in epoch ms. */
  storedAt: number;
}

/** A message pulled from a shared queue's JetStream consumer. */
export interface PulledMessage {
  seq: number;
  message: AmqpMessage;
  /** JetStream has delivered it before (to this or another gateway). */
  redelivered: boolean;
  /** When it was stored, in epoch ms (TTLs count from here). */
  storedAt: number;
  raw: JsMsg;
}

/**
 * Durable state in JetStream: a work-queue stream `<stream>_WQ` for the durable queues, all
 * shared by the gateways (one durable consumer per queue; JetStream deletes at the ack), the
 * limits stream `<stream>` where earlier versions kept durable queues (read back and moved at
 * start), and one KV bucket for the topology, binding progress and the gateways'
 * coordination keys (leases, `x-expires` uses and presences).
 */
export interface AmqpStore {
  init(): Promise<Topology>;
  /** Stores a message of a durable queue; resolves with its stream sequence. */
  /**
   * `shared`: the queue is shared by the gateways, its messages go to the work-queue stream
   * `<stream>_WQ` (deleted by JetStream when acknowledged); others stay in `stream`.
   */
  append(queue: string, message: AmqpMessage, dedupeId?: string, shared?: boolean): Promise<number>;
  /**
   * Shared queues with `x-overflow: reject-publish`: appends only if `fits` the queue's ready
   * messages (those JetStream has not delivered; their body bytes are summed only when
   * `countBytes`). Appends of all gateways to the queue are serialised by JetStream's
   * expected-last-subject-sequence check (a lost race reads again), so two gateways cannot
   * both take the last place. Resolves with the sequence, or undefined when refused.
   */
  appendIfRoom(
    queue: string,
    message: AmqpMessage,
    fits: (ready: { messages: number; bytes: number }) => boolean,
    countBytes: boolean,
    dedupeId?: string,
  ): Promise<number | undefined>;
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
  /** The last KV revision this gateway wrote or saw for a key (stale watch entries are older). */
  revisionOf(key: string): number | undefined;
  /** Follows topology changes made by every gateway (its own included) until `stop`. */
  watch(onChange: (change: TopologyChange) => void): Promise<void>;
  /** Shared durable queues: makes sure the queue's JetStream consumer exists. */
  ensureConsumer(queue: string): Promise<void>;
  deleteConsumer(queue: string): Promise<void>;
  /** Pulls up to `max` messages of the queue, each as it arrives, for up to `expiresMs`. */
  fetch(queue: string, max: number, expiresMs: number, onMessage: (m: PulledMessage) => void): Promise<void>;
  /** One message if one is waiting now (basic.get), else undefined. */
  pullOne(queue: string): Promise<PulledMessage | undefined>;
  /**
   * Messages of the queue in JetStream not yet acknowledged: never handed to a gateway, or
   * handed and not acked (held by a gateway, ready or unacked there, or given back with nak).
   */
  pendingOf(queue: string): Promise<number>;
  /** Where a plugin-fed exchange has got to for a queue, as saved by `saveProgress`. */
  progressOf(exchange: string, queue: string): number | undefined;
  saveProgress(exchange: string, queue: string, position: number): Promise<void>;
  /**
   * Shared queues: the stream sequence of the last message JetStream delivered to a gateway
   * and how many of the queue's messages it has not delivered yet.
   */
  positionOf(queue: string): Promise<{ delivered: number; pending: number } | undefined>;
  /** Shared queues: the first message of the queue at or after `seq`, read without pulling it. */
  peek(queue: string, seq: number): Promise<PeekedMessage | undefined>;
  /** `x-expires` on shared queues: tells the other gateways the queue was used. */
  noteUse(queue: string): Promise<void>;
  /** `x-expires` on shared queues: tells the others this gateway has consumers of the queue (or no longer). */
  notePresence(queue: string, gateway: string, present: boolean): Promise<void>;
  /** `x-expires` on shared queues: the gateways whose presence key for the queue is there now. */
  presencesOf(queue: string): Promise<string[]>;
  /** The lease of a single-active-consumer queue (key `s.<base64url(queue)>`), if one is held. */
  leaseOf(queue: string, kind?: LeaseKind): Promise<Lease | undefined>;
  /**
   * Takes the lease: a new one when `revision` is undefined (fails if one is held), else
   * only if it is still at `revision` (a renewal, or the takeover of a stale lease).
   * Resolves with the new revision, or undefined when another gateway got there first.
   */
  takeLease(queue: string, holder: LeaseHolder, revision?: number, kind?: LeaseKind): Promise<number | undefined>;
  /** Gives the lease up if it is still at `revision`. */
  releaseLease(queue: string, revision: number, kind?: LeaseKind): Promise<void>;
  stop(): void;
}

/** Key of a queue, an exchange and a binding in the topology bucket. */
export const queueKey = (name: string) => `q.${b64(name)}`;
export const exchangeKey = (name: string) => `x.${b64(name)}`;
/**
 * A queue's leases: `active` says which gateway's consumer is the single active one (key
 * `s.…`, watched), `keeper` which gateway trims a drop-head queue (key `k.…`).
 */
export type LeaseKind = 'active' | 'keeper';
export const leaseKey = (name: string, kind: LeaseKind = 'active') =>
  `${kind === 'active' ? 's' : 'k'}.${name ? b64(name) : '_'}`;

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64url');
const unb64 = (s: string) => Buffer.from(s, 'base64url').toString('utf8');
/** A queue name from its key token (`_` is the empty name). */
const unqueue = (token: string) => (token === '_' ? '' : unb64(token));
export const bindingKey = (b: BindingDefinition) =>
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
  /** Shared durable queues live in a work-queue stream beside the first: JetStream deletes a message at its ack. */
  const sharedStream = `${options.stream}_WQ`;
  const sharedSubject = (queue: string) => `${options.subjectPrefix}.w.${queue ? b64(queue) : '_'}`;
  const queueOf = (subject: string) => {
    const token = subject.slice(options.subjectPrefix.length + 3);
    return token === '_' ? '' : unb64(token);
  };
  const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
  const revisions = new Map<string, number>();
  const bindings = new Map<string, BindingDefinition>();
  const progress = new Map<string, number>();
  const progressKey = (exchange: string, queue: string) => `p.${b64(exchange)}.${queue ? b64(queue) : '_'}`;
  const consumerName = (queue: string) => `q_${createHash('sha256').update(queue).digest('hex').slice(0, 40)}`;
  let stopWatch: (() => void) | undefined;
  let watcher: QueuedIterator<KvEntry> | undefined;
  const consumers = new Map<string, Promise<Consumer>>();
  const consumerOf = (queue: string) => {
    let c = consumers.get(queue);
    if (!c) {
      c = js.consumers.get(sharedStream, consumerName(queue));
      c.catch(() => consumers.delete(queue));
      consumers.set(queue, c);
    }
    return c;
  };
  const put = async (key: string, value: unknown) => {
    const rev = await kv.put(key, json(value));
    if (rev > (revisions.get(key) ?? 0)) revisions.set(key, rev);
  };
  const pulled = (m: JsMsg): PulledMessage => {
    const h = m.headers;
    return {
      seq: m.seq,
      redelivered: m.redelivered,
      storedAt: Math.floor(m.info.timestampNanos / 1_000_000),
      raw: m,
      message: {
        exchange: decodeURIComponent(h?.get('Amqp-Exchange') ?? ''),
        routingKey: decodeURIComponent(h?.get('Amqp-Routing-Key') ?? ''),
        properties: Buffer.from(h?.get('Amqp-Properties') ?? 'AAA=', 'base64'),
        body: Buffer.from(m.data),
      },
    };
  };

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
      try {
        await jsm.streams.info(sharedStream);
      } catch {
        await jsm.streams.add({
          ...config,
          name: sharedStream,
          subjects: [`${options.subjectPrefix}.w.>`],
          retention: RetentionPolicy.Workqueue,
        });
      }
      kv = await js.views.kv(options.topologyBucket, { history: 1 });
      // Watched from before the keys are read, so no change of another gateway falls between.
      watcher = await kv.watch({ key: '>', include: KvWatchInclude.UpdatesOnly });
      const topology: Topology = { exchanges: [], queues: [], bindings: [] };
      const keys: string[] = [];
      for await (const k of await kv.keys()) keys.push(k);
      for (const k of keys) {
        const entry = await kv.get(k);
        if (entry?.operation !== 'PUT') continue;
        revisions.set(k, entry.revision);
        const value = entry.json<never>();
        if (k.startsWith('q.')) topology.queues.push(value);
        else if (k.startsWith('x.')) topology.exchanges.push(value);
        else if (k.startsWith('b.')) {
          topology.bindings.push(value);
          bindings.set(k, value);
        } else if (k.startsWith('p.')) progress.set(k, Number(value));
      }
      return topology;
    },
    async append(queue, m, id, shared) {
      const h = natsHeaders();
      if (id) h.set('Nats-Msg-Id', `${id}:${b64(queue)}`);
      h.set('Amqp-Exchange', encodeURIComponent(m.exchange));
      h.set('Amqp-Routing-Key', encodeURIComponent(m.routingKey));
      h.set('Amqp-Properties', m.properties.toString('base64'));
      const ack = await js.publish(shared ? sharedSubject(queue) : queueSubject(queue), m.body, { headers: h });
      return ack.seq;
    },
    async appendIfRoom(queue, m, fits, countBytes, id) {
      const subject = sharedSubject(queue);
      for (;;) {
        const [info, last] = await Promise.all([
          jsm.consumers.info(sharedStream, consumerName(queue)),
          jsm.streams.getMessage(sharedStream, { last_by_subj: subject }).catch(() => undefined),
        ]);
        let bytes = 0;
        if (countBytes) {
          for (let seq = info.delivered.stream_seq + 1, left = info.num_pending; left > 0; left--) {
            const next = await this.peek(queue, seq);
            if (!next) break;
            bytes += next.message.body.length;
            seq = next.seq + 1;
          }
        }
        if (!fits({ messages: info.num_pending, bytes })) return undefined;
        const h = natsHeaders();
        if (id) h.set('Nats-Msg-Id', `${id}:${b64(queue)}`);
        h.set('Amqp-Exchange', encodeURIComponent(m.exchange));
        h.set('Amqp-Routing-Key', encodeURIComponent(m.routingKey));
        h.set('Amqp-Properties', m.properties.toString('base64'));
        try {
          const ack = await js.publish(subject, m.body, {
            headers: h,
            expect: { lastSubjectSequence: last?.seq ?? 0 },
          });
          return ack.seq;
        } catch (err) {
          // 10071: another gateway appended (or an ack removed the last message) since the read.
          if ((err as { api_error?: { err_code?: number } }).api_error?.err_code !== 10071) throw err;
        }
      }
    },
    async remove(seq) {
      await jsm.streams.deleteMessage(options.stream, seq, false);
    },
    async purgeBelow(queue, seq) {
      await jsm.streams.purge(options.stream, { filter: queueSubject(queue), seq });
    },
    async purge(queue) {
      await jsm.streams.purge(options.stream, { filter: queueSubject(queue) });
      await jsm.streams.purge(sharedStream, { filter: sharedSubject(queue) });
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
      await put(queueKey(q.name), q);
    },
    async deleteQueue(name) {
      await kv.delete(queueKey(name));
    },
    async saveExchange(x) {
      await put(exchangeKey(x.name), x);
    },
    async deleteExchange(name) {
      await kv.delete(exchangeKey(name));
    },
    async saveBinding(b) {
      const key = bindingKey(b);
      bindings.set(key, b);
      await put(key, b);
    },
    async deleteBinding(b) {
      const key = bindingKey(b);
      bindings.delete(key);
      await kv.delete(key);
      const p = progressKey(b.exchange, b.queue);
      if (progress.delete(p)) await kv.delete(p);
    },
    revisionOf(key) {
      return revisions.get(key);
    },
    async watch(onChange) {
      const it = watcher ?? (await kv.watch({ key: '>', include: KvWatchInclude.UpdatesOnly }));
      stopWatch = () => it.stop();
      (async () => {
        for await (const e of it) {
          const k = e.key;
          const known = revisions.get(k) ?? 0;
          if (e.revision <= known) continue;
          revisions.set(k, e.revision);
          const value = e.operation === 'PUT' ? e.json<never>() : undefined;
          try {
            if (k.startsWith('q.')) onChange({ kind: 'queue', revision: e.revision, key: k, value });
            else if (k.startsWith('x.')) onChange({ kind: 'exchange', revision: e.revision, key: k, value });
            else if (k.startsWith('u.')) {
              onChange({ kind: 'use', revision: e.revision, key: k, queue: unqueue(k.slice(2)) });
            } else if (k.startsWith('c.')) {
              const [token = '', gateway = ''] = k.slice(2).split('.');
              const present = e.operation === 'PUT';
              onChange({ kind: 'presence', revision: e.revision, key: k, queue: unqueue(token), gateway, present });
            } else if (k.startsWith('s.')) {
              const token = k.slice(2);
              onChange({
                kind: 'lease',
                revision: e.revision,
                key: k,
                queue: token === '_' ? '' : unb64(token),
                value,
              });
            } else if (k.startsWith('b.')) {
              const previous = bindings.get(k);
              if (value) bindings.set(k, value);
              else bindings.delete(k);
              onChange({ kind: 'binding', revision: e.revision, key: k, value, previous });
            }
          } catch {
            // A change that does not apply here (a missing queue, say) is skipped.
          }
        }
      })().catch(() => undefined);
    },
    async ensureConsumer(queue) {
      await jsm.consumers.add(sharedStream, {
        durable_name: consumerName(queue),
        filter_subject: sharedSubject(queue),
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: options.sharedAckWaitMs * 1_000_000,
        max_ack_pending: -1,
        max_deliver: -1,
      });
    },
    async deleteConsumer(queue) {
      consumers.delete(queue);
      await jsm.consumers.delete(sharedStream, consumerName(queue)).catch(() => undefined);
    },
    async fetch(queue, max, expiresMs, onMessage) {
      const consumer = await consumerOf(queue);
      const batch = await consumer.fetch({ max_messages: max, expires: expiresMs });
      for await (const m of batch) onMessage(pulled(m));
    },
    async pullOne(queue) {
      try {
        return pulled(await js.pull(sharedStream, consumerName(queue)));
      } catch {
        return undefined;
      }
    },
    async pendingOf(queue) {
      // Acks are fire-and-forget: a flush makes sure the server has taken those sent so far.
      await nc.flush();
      const info = await jsm.consumers.info(sharedStream, consumerName(queue)).catch(() => undefined);
      return (info?.num_pending ?? 0) + (info?.num_ack_pending ?? 0);
    },
    progressOf(exchange, queue) {
      return progress.get(progressKey(exchange, queue));
    },
    async saveProgress(exchange, queue, position) {
      const key = progressKey(exchange, queue);
      progress.set(key, position);
      await kv.put(key, json(position));
    },
    async positionOf(queue) {
      const info = await jsm.consumers.info(sharedStream, consumerName(queue)).catch(() => undefined);
      return info ? { delivered: info.delivered.stream_seq, pending: info.num_pending } : undefined;
    },
    async peek(queue, seq) {
      // STREAM.MSG.GET with next_by_subj (nats-server 2.9); nats.js types only the direct-get form.
      const query = { seq, next_by_subj: sharedSubject(queue) } as unknown as Parameters<
        JetStreamManager['streams']['getMessage']
      >[1];
      const m = await jsm.streams.getMessage(sharedStream, query).catch(() => undefined);
      if (!m) return undefined;
      const h = m.header;
      return {
        seq: m.seq,
        storedAt: m.time.getTime(),
        message: {
          exchange: decodeURIComponent(h?.get('Amqp-Exchange') ?? ''),
          routingKey: decodeURIComponent(h?.get('Amqp-Routing-Key') ?? ''),
          properties: Buffer.from(h?.get('Amqp-Properties') ?? 'AAA=', 'base64'),
          body: Buffer.from(m.data),
        },
      };
    },
    async noteUse(queue) {
      await kv.put(`u.${queue ? b64(queue) : '_'}`, json(Date.now()));
    },
    async notePresence(queue, gateway, present) {
      const key = `c.${queue ? b64(queue) : '_'}.${gateway}`;
      if (present) await kv.put(key, json(Date.now()));
      else await kv.delete(key);
    },
    async presencesOf(queue) {
      const prefix = `c.${queue ? b64(queue) : '_'}.`;
      const out: string[] = [];
      for await (const k of await kv.keys(`${prefix}*`)) out.push(k.slice(prefix.length));
      return out;
    },
    async leaseOf(queue, kind) {
      const e = await kv.get(leaseKey(queue, kind));
      if (e?.operation !== 'PUT') return undefined;
      return { holder: e.json<LeaseHolder>(), revision: e.revision };
    },
    async takeLease(queue, holder, revision, kind) {
      try {
        return revision === undefined
          ? await kv.create(leaseKey(queue, kind), json(holder))
          : await kv.update(leaseKey(queue, kind), json(holder), revision);
      } catch {
        // Wrong last sequence: another gateway holds it, or renewed or took it since.
        return undefined;
      }
    },
    async releaseLease(queue, revision, kind) {
      await kv.delete(leaseKey(queue, kind), { previousSeq: revision }).catch(() => undefined);
    },
    stop() {
      stopWatch?.();
      watcher?.stop();
    },
  };
}
