import { setTimeout as sleep } from 'node:timers/promises';
import type { StoredCommit } from '@lightdom/domain';
import { ensureDurableConsumer, readCommit, typeSubject } from '@lightdom/eventstore';
import type { Logger } from '@lightdom/runtime';
import type { ConsumerMessages, JsMsg, NatsConnection } from 'nats';

/** What to do with a message once its handler is done. */
export type Disposition =
  /** Done: acknowledge. */
  | { kind: 'ack' }
  /** Hand it back to JetStream, to be delivered again (to any executor) after `delayMs`. */
  | { kind: 'redeliver'; delayMs: number };

export interface PullLoopOptions {
  stream: string;
  subjectPrefix: string;
  durable: string;
  aggregateType: string;
  /** Messages handled at once. */
  concurrency: number;
  /** How long JetStream waits for an ack (or a heartbeat) before it redelivers, in ms. */
  ackWaitMs: number;
  /** Unacknowledged messages the consumer allows: in-flight work plus armed timers. */
  maxAckPending: number;
  /** How long one pull request waits for messages, in ms. Default 10 000. */
  pullExpiresMs?: number;
}

export type CommitHandler = (commit: StoredCommit, msg: JsMsg, signal: AbortSignal) => Promise<Disposition>;

export interface PullLoop {
  /** Stops pulling, aborts in-flight handlers through their signal and waits for them to settle. */
  stop(): Promise<void>;
  check(): Promise<void>;
}

/** Wait before a failed commit is delivered again: 0.5 s, 1 s, 2 s … at most 30 s. */
export const failureBackoffMs = (deliveries: number): number =>
  Math.min(30_000, 500 * 2 ** Math.max(0, deliveries - 1));

/**
 * A durable pull consumer whose messages are handled `concurrency` at a time. It pulls
 * only as many messages as it has free slots, so competing executors share the work and
 * no message waits in a client buffer while its ack wait runs out. While a message is in
 * hand it is kept alive with a heartbeat (`+WPI`) every third of the ack wait, so a long
 * activity is not redelivered to another executor; a crash stops the heartbeat and
 * JetStream redelivers after the ack wait.
 */
export async function startPullLoop(
  deps: { nc: NatsConnection; logger: Logger; onUndecodable?: () => void; onError?: () => void },
  opts: PullLoopOptions,
  handle: CommitHandler,
): Promise<PullLoop> {
  const { nc, logger } = deps;
  const jsm = await nc.jetstreamManager();
  const info = await ensureDurableConsumer(jsm, {
    stream: opts.stream,
    durable: opts.durable,
    filterSubject: typeSubject(opts.subjectPrefix, opts.aggregateType),
    ackWaitMs: opts.ackWaitMs,
  });
  if (info.config.max_ack_pending !== opts.maxAckPending) {
    await jsm.consumers.update(opts.stream, opts.durable, { max_ack_pending: opts.maxAckPending });
  }
  const consumer = await nc.jetstream().consumers.get(opts.stream, opts.durable);
  const abort = new AbortController();
  const inFlight = new Set<Promise<void>>();
  let slotFreed: (() => void) | undefined;
  let current: ConsumerMessages | undefined;
  let stopping = false;

  /** Acks, naks and heartbeats throw on a closed connection; JetStream redelivers then anyway. */
  const settle = (op: () => void) => {
    try {
      op();
    } catch (err) {
      logger.warn({ err }, 'could not reach JetStream about a message; it will be redelivered');
    }
  };

  async function handleOne(msg: JsMsg): Promise<void> {
    const heartbeat = setInterval(() => settle(() => msg.working()), Math.max(100, Math.floor(opts.ackWaitMs / 3)));
    try {
      const commit = readCommit(msg);
      if (!commit) {
        logger.warn({ position: msg.seq, subject: msg.subject }, 'message is not a commit; terminated');
        settle(() => msg.term());
        deps.onUndecodable?.();
        return;
      }
      let disposition: Disposition;
      try {
        disposition = await handle(commit, msg, abort.signal);
      } catch (err) {
        const delayMs = failureBackoffMs(msg.info.redeliveryCount);
        logger.error(
          { err, position: msg.seq, correlationId: commit.correlationId, aggregateId: commit.aggregateId, delayMs },
          'handling failed; will be redelivered',
        );
        deps.onError?.();
        disposition = { kind: 'redeliver', delayMs };
      }
      if (disposition.kind === 'ack') {
        await msg.ackAck().catch((err) => logger.warn({ err, position: msg.seq }, 'ack not confirmed'));
      } else {
        settle(() => msg.nak(Math.max(0, Math.round(disposition.delayMs))));
      }
    } finally {
      clearInterval(heartbeat);
    }
  }

  const loop = (async () => {
    while (!stopping) {
      const free = opts.concurrency - inFlight.size;
      if (free <= 0) {
        await new Promise<void>((resolve) => {
          slotFreed = resolve;
        });
        continue;
      }
      try {
        current = await consumer.fetch({ max_messages: free, expires: opts.pullExpiresMs ?? 10_000 });
        for await (const msg of current) {
          if (stopping) {
            settle(() => msg.nak());
            continue;
          }
          const work: Promise<void> = handleOne(msg)
            .catch((err) => logger.error({ err, position: msg.seq }, 'message handling crashed'))
            .finally(() => {
              inFlight.delete(work);
              slotFreed?.();
              slotFreed = undefined;
            });
          inFlight.add(work);
        }
      } catch (err) {
        if (stopping) break;
        logger.warn({ err, consumer: opts.durable }, 'pulling messages failed; retrying');
        await sleep(500);
      } finally {
        current = undefined;
      }
    }
  })();

  return {
    async stop() {
      if (stopping) return;
      stopping = true;
      abort.abort();
      await current?.close().catch(() => undefined);
      slotFreed?.();
      await loop;
      await Promise.all([...inFlight]);
    },
    async check() {
      if (stopping) throw new Error('not consuming');
      await jsm.consumers.info(opts.stream, opts.durable);
    },
  };
}
