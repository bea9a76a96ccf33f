import {
  AckPolicy,
  type ConsumerConfig,
  type ConsumerInfo,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  nanos,
} from 'nats';
import type { Logger } from 'pino';

export interface DurableConsumerOptions {
  stream: string;
  durable: string;
  /** Only messages on these subjects are delivered, e.g. `events.workflowRun.*`. */
  filterSubject: string;
  /** How long the server waits for an ack before it redelivers, in ms. */
  ackWaitMs: number;
}

const consumerNotFound = 10014;

/**
 * Creates the durable pull consumer (explicit acks, from the start of the stream), or
 * brings an existing one's filter and ack wait in line with the options.
 */
export async function ensureDurableConsumer(
  jsm: JetStreamManager,
  opts: DurableConsumerOptions,
): Promise<ConsumerInfo> {
  const wanted: Partial<ConsumerConfig> = {
    durable_name: opts.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: opts.filterSubject,
    ack_wait: nanos(opts.ackWaitMs),
  };
  let existing: ConsumerInfo;
  try {
    existing = await jsm.consumers.info(opts.stream, opts.durable);
  } catch (err) {
    if ((err as { api_error?: { err_code?: number } }).api_error?.err_code !== consumerNotFound) throw err;
    return jsm.consumers.add(opts.stream, wanted);
  }
  if (existing.config.filter_subject === wanted.filter_subject && existing.config.ack_wait === wanted.ack_wait) {
    return existing;
  }
  return jsm.consumers.update(opts.stream, opts.durable, {
    filter_subject: wanted.filter_subject,
    ack_wait: wanted.ack_wait,
  });
}

export interface RunningConsumer {
  /** Stops pulling and waits for the message in hand to be handled. */
  stop(): Promise<void>;
}

/**
 * Hands every message of the durable consumer to `handle`, one at a time. A handler that
 * throws gets its message redelivered after `retryDelayMs`; acking is the handler's job.
 * The client re-pulls by itself after a NATS reconnect.
 */
export async function consumeDurable(
  js: JetStreamClient,
  opts: { stream: string; durable: string; logger: Logger; retryDelayMs?: number },
  handle: (msg: JsMsg) => Promise<void>,
): Promise<RunningConsumer> {
  const consumer = await js.consumers.get(opts.stream, opts.durable);
  const messages = await consumer.consume({ max_messages: 64 });
  void (async () => {
    for await (const s of await messages.status()) {
      if (s.type === 'next' || s.type === 'discard' || s.type === 'debug') continue;
      opts.logger.warn({ consumer: opts.durable, status: s.type, data: s.data }, 'consumer status');
    }
  })();
  const loop = (async () => {
    for await (const msg of messages) {
      try {
        await handle(msg);
      } catch (err) {
        opts.logger.error({ err, position: msg.seq, subject: msg.subject }, 'handling failed; will be redelivered');
        try {
          msg.nak(opts.retryDelayMs ?? 1000);
        } catch {
          // The connection is gone; JetStream redelivers after the ack wait anyway.
        }
      }
    }
  })();
  return {
    async stop() {
      await messages.close();
      await loop;
    },
  };
}
