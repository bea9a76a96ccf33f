import { AckPolicy, DeliverPolicy, type JetStreamClient, type NatsConnection, nanos } from 'nats';
import type { RawStream } from './env.js';
import { runWindowed, type WindowedResult } from './windowed.js';

/** A JSON-looking payload of exactly `bytes` bytes, so raw messages weigh what commits weigh. */
export function payloadOfSize(bytes: number): Uint8Array {
  const frame = '{"pad":""}';
  return new TextEncoder().encode(`{"pad":"${'x'.repeat(Math.max(0, bytes - frame.length))}"}`);
}

/** Size in bytes of the message stored at `seq` (what the event store wrote, headers excluded). */
export async function storedSize(nc: NatsConnection, stream: string, seq: number): Promise<number> {
  const jsm = await nc.jetstreamManager();
  const m = await jsm.streams.getMessage(stream, { seq });
  return m.data.length;
}

export interface RawPublishOptions {
  js: JetStreamClient;
  raw: RawStream;
  payload: Uint8Array;
  window: number;
  durationMs: number;
  warmupMs?: number;
}

/** The ceiling for appends: `js.publish` with an ack awaited, `window` publishes in flight, one subject each. */
export function rawPublish(opts: RawPublishOptions): Promise<WindowedResult> {
  return runWindowed({
    window: opts.window,
    durationMs: opts.durationMs,
    warmupMs: opts.warmupMs ?? 0,
    op: (i) => opts.js.publish(opts.raw.subject(`r${i}`), opts.payload),
  });
}

export interface RoundTripper {
  /** Publishes one message and resolves with the ms until the consumer received it. */
  trip(): Promise<number>;
  close(): Promise<void>;
}

/**
 * The floor for "command → read model visible": publish one message and time until a pull
 * consumer in the same process receives it. One trip at a time.
 */
export async function openRoundTripper(nc: NatsConnection, raw: RawStream, payload: Uint8Array): Promise<RoundTripper> {
  const js = nc.jetstream();
  const jsm = await nc.jetstreamManager();
  const info = await jsm.consumers.add(raw.name, {
    ack_policy: AckPolicy.All,
    deliver_policy: DeliverPolicy.New,
    inactive_threshold: nanos(30_000),
  });
  const consumer = await js.consumers.get(raw.name, info.name);
  const messages = await consumer.consume({ max_messages: 100 });
  const arrivals: (() => void)[] = [];
  const reader = (async () => {
    for await (const m of messages) {
      m.ack();
      arrivals.shift()?.();
    }
  })();
  let n = 0;
  return {
    async trip() {
      const arrived = new Promise<void>((resolve) => arrivals.push(resolve));
      const t0 = performance.now();
      await js.publish(raw.subject(`rt${n++}`), payload);
      await arrived;
      return performance.now() - t0;
    },
    async close() {
      messages.stop();
      await reader;
      await jsm.consumers.delete(raw.name, info.name).catch(() => undefined);
    },
  };
}

/** Reads every message of `subject` with an ordered consumer, without decoding them; returns the count. */
export async function rawReadSubject(js: JetStreamClient, stream: string, subject: string, expected: number) {
  const consumer = await js.consumers.get(stream, { filterSubjects: subject });
  const messages = await consumer.consume({ max_messages: 1000 });
  let count = 0;
  let bytes = 0;
  try {
    for await (const m of messages) {
      count++;
      bytes += m.data.length;
      if (count >= expected) break;
    }
  } finally {
    messages.stop();
    await consumer.delete().catch(() => undefined);
  }
  return { count, bytes };
}
