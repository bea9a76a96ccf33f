import { randomFillSync } from 'node:crypto';
import type { CommandMetadata, RecordedEvent, StoredCommit } from './envelope.js';

/** W3C trace context: `00-<32 hex trace id>-<16 hex parent span id>-<2 hex flags>`. */
export interface TraceContext {
  traceId: string;
  spanId: string;
  flags: string;
}

const pattern = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export function parseTraceparent(value: string | undefined | null): TraceContext | null {
  const m = value ? pattern.exec(value.trim()) : null;
  if (!m || /^0+$/.test(m[1]!) || /^0+$/.test(m[2]!)) return null;
  return { traceId: m[1]!, spanId: m[2]!, flags: m[3]! };
}

export const formatTraceparent = (t: TraceContext): string => `00-${t.traceId}-${t.spanId}-${t.flags}`;

/**
 * Random bytes for trace and span ids, drawn from one pooled buffer refilled from the CSPRNG
 * when used up: one `randomFillSync` per 256 commands instead of two `randomBytes` calls
 * (and two buffers) per command. Each byte is handed out once.
 */
const pool = Buffer.alloc(24 * 256);
let poolAt = pool.length;

function randomHex(bytes: number): string {
  if (poolAt + bytes > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const hex = pool.toString('hex', poolAt, poolAt + bytes);
  poolAt += bytes;
  // All zeros is not a valid id (W3C trace context); 2^-64 at worst, but never emit one.
  return /^0+$/.test(hex) ? randomHex(bytes) : hex;
}

/** A new span in the same trace, or a new trace when there is no valid parent. */
export function childTraceparent(parent: string | undefined | null): string {
  const p = parent ? parseTraceparent(parent) : null;
  return formatTraceparent({
    traceId: p?.traceId ?? randomHex(16),
    spanId: randomHex(8),
    flags: p?.flags ?? '01',
  });
}

/**
 * Metadata for a command that an event caused (a process manager reacting to the log):
 * it keeps the correlation id, names the event as its cause, and continues the trace.
 */
export function causedBy(
  source: { commit: Pick<StoredCommit, 'correlationId'>; event: Pick<RecordedEvent, 'id'>; traceparent?: string },
  actor: string,
): CommandMetadata {
  return {
    actor,
    correlationId: source.commit.correlationId,
    causationId: source.event.id,
    traceparent: childTraceparent(source.traceparent),
  };
}
