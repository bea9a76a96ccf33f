import { type StoredCommit, upcastEvent } from '@lightdom/domain';
import { readCommit } from '@lightdom/eventstore';
import { type ConsumerMessages, DeliverPolicy, type JsMsg, type NatsConnection } from 'nats';

export interface LogEntry {
  position: number;
  /** Undefined for a message that is not a commit (the projector passes those over too). */
  commit?: StoredCommit;
  /** Messages still in the stream after this one when it was delivered. */
  pending: number;
}

/** The commit a message carries, upcast as the projector upcasts it. */
export function decodeEntry(m: JsMsg): LogEntry {
  const c = readCommit(m);
  if (!c) return { position: m.seq, pending: m.info.pending };
  try {
    return { position: m.seq, pending: m.info.pending, commit: { ...c, events: c.events.map(upcastEvent) } };
  } catch {
    // Not upcastable: given as stored; the projections' total readers cope with any shape.
    return { position: m.seq, pending: m.info.pending, commit: c };
  }
}

/**
 * Reads the log in order from `after + 1` with an ordered consumer (no durable state on
 * the server), in batches of at most `batchSize`; a batch closes early when the reader
 * caught up with the head.
 */
export async function openLogReader(nc: NatsConnection, stream: string, after: number, batchSize: number) {
  const consumer = await nc
    .jetstream()
    .consumers.get(stream, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: after + 1 });
  let messages: ConsumerMessages | undefined;
  let iterator: AsyncIterator<JsMsg> | undefined;
  return {
    /** The next batch; empty when the log holds nothing more right now. */
    async next(): Promise<LogEntry[]> {
      const jsm = await nc.jetstreamManager();
      const head = (await jsm.streams.info(stream)).state.last_seq;
      const batch: LogEntry[] = [];
      if (!iterator) {
        messages = await consumer.consume({ max_messages: batchSize * 2 });
        iterator = messages[Symbol.asyncIterator]();
      }
      while (batch.length < batchSize) {
        if (batch.length > 0 && batch.at(-1)!.pending === 0) break;
        if (batch.length === 0 && head <= after) break;
        const r = await iterator.next();
        if (r.done) break;
        const entry = decodeEntry(r.value);
        after = entry.position;
        batch.push(entry);
      }
      return batch;
    },
    async head(): Promise<number> {
      const jsm = await nc.jetstreamManager();
      return (await jsm.streams.info(stream)).state.last_seq;
    },
    stop() {
      messages?.stop();
    },
  };
}

export type LogReader = Awaited<ReturnType<typeof openLogReader>>;
