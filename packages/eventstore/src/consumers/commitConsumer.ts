import type { StoredCommit } from '@lightdom/domain';
import type { JsMsg, NatsConnection } from 'nats';
import type { Logger } from 'pino';
import { createEventStore } from '../store/eventStore.js';
import { typeSubject } from '../subjects.js';
import { consumeDurable, ensureDurableConsumer, type RunningConsumer } from './durableConsumer.js';
import { readCommit } from './readCommit.js';

export interface CommitConsumerOptions {
  stream: string;
  subjectPrefix: string;
  /** Durable consumer name; processes sharing it compete for commits. */
  durable: string;
  /** Only commits of this aggregate type are delivered. */
  aggregateType: string;
  /** How long JetStream waits for an ack before it redelivers, in ms. */
  ackWaitMs: number;
}

export interface CommitHandlers {
  /** Handles one commit; acking it is the handler's job (a throw means redelivery). */
  onCommit(commit: StoredCommit, msg: JsMsg): Promise<void>;
  /** Called for a message that is not a commit, after it was terminated. */
  onUndecodable?(msg: JsMsg): void;
}

export interface CommitConsumer {
  /** Ensures the stream and the durable consumer, then starts consuming. */
  start(): Promise<void>;
  /** Stops consuming; the NATS connection stays the caller's. */
  stop(): Promise<void>;
  /** Readiness: resolves while consuming and the durable exists. */
  check(): Promise<void>;
}

/**
 * A worker's view of the log: the commits of one aggregate type, delivered one at a time
 * from a durable consumer. Messages that are not commits are terminated, not retried.
 */
export function createCommitConsumer(
  deps: { nc: NatsConnection; logger: Logger; isConnected?: () => boolean },
  opts: CommitConsumerOptions,
  handlers: CommitHandlers,
): CommitConsumer {
  const { nc, logger } = deps;
  let running: RunningConsumer | undefined;

  async function handle(msg: JsMsg): Promise<void> {
    const commit = readCommit(msg);
    if (!commit) {
      logger.warn({ position: msg.seq, subject: msg.subject }, 'message is not a commit; terminated');
      // No reason text: nats-server 2.9 does not recognise '+TERM <reason>' and would leave it pending.
      msg.term();
      handlers.onUndecodable?.(msg);
      return;
    }
    await handlers.onCommit(commit, msg);
  }

  return {
    async start() {
      if (running) return;
      await createEventStore(
        { nc, logger, ...(deps.isConnected ? { isConnected: deps.isConnected } : {}) },
        { stream: opts.stream, subjectPrefix: opts.subjectPrefix },
      ).ensureStream();
      await ensureDurableConsumer(await nc.jetstreamManager(), {
        stream: opts.stream,
        durable: opts.durable,
        filterSubject: typeSubject(opts.subjectPrefix, opts.aggregateType),
        ackWaitMs: opts.ackWaitMs,
      });
      running = await consumeDurable(nc.jetstream(), { stream: opts.stream, durable: opts.durable, logger }, handle);
    },
    async stop() {
      const r = running;
      running = undefined;
      await r?.stop();
    },
    async check() {
      if (!running) throw new Error('not consuming');
      await (await nc.jetstreamManager()).consumers.info(opts.stream, opts.durable);
    },
  };
}
