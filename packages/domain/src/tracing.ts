import { randomBytes } from 'node:crypto';
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

/** A new span in the same trace, or a new trace when there is no valid parent. */
export function childTraceparent(parent: string | undefined | null): string {
  const p = parseTraceparent(parent);
  return formatTraceparent({
    traceId: p?.traceId ?? randomBytes(16).toString('hex'),
    spanId: randomBytes(8).toString('hex'),
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
