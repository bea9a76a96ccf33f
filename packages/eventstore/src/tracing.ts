import { childTraceparent, formatTraceparent, parseTraceparent } from '@lightdom/domain';
import {
  type Attributes,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';

/**
 * Spans over the W3C trace context that already travels with commands and commits.
 *
 * The OpenTelemetry API is the one process-wide hook LightDom uses: libraries ask it for a
 * tracer, and a service's `main.ts` installs an exporting provider only when
 * `OTEL_EXPORTER_OTLP_ENDPOINT` is set (`startTracing` in @lightdom/runtime). Without one
 * the API hands out non-recording spans, and `traceparent` keeps flowing as before.
 * The parent is always passed explicitly as a `traceparent` string (no async context).
 */
export { SpanKind };

export interface TraceSpan {
  /** The `traceparent` naming this span: pass it to whatever this span causes. */
  readonly traceparent: string;
  /** Whether the span is exported (a provider is installed and the trace is sampled). */
  readonly recording: boolean;
  setAttributes(attributes: Attributes): void;
  /** Ends the span; an error marks it failed and is recorded as an exception. */
  end(error?: unknown): void;
}

export interface StartSpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  /** When the work began, if before this call (a batch's start). */
  startTime?: Date;
  /**
   * Without an exporting provider: `'child'` (default) names a fresh span id in the parent's
   * trace, as `childTraceparent` does; `'same'` keeps the parent's traceparent unchanged.
   */
  whenOff?: 'child' | 'same';
}

const tracer = () => trace.getTracer('lightdom');

/**
 * Whether a tracer provider is installed, so spans can be exported at all. Without one
 * every span is non-recording; a caller starting one span per commit can skip the work.
 */
export function tracingInstalled(): boolean {
  const provider = trace.getTracerProvider();
  return !(provider instanceof ProxyTracerProvider) || provider.getDelegateTracer('lightdom') !== undefined;
}

function parentContext(traceparent: string | undefined) {
  const p = parseTraceparent(traceparent);
  if (!p) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: p.traceId,
    spanId: p.spanId,
    traceFlags: Number.parseInt(p.flags, 16),
    isRemote: true,
  });
}

/** Starts a span whose parent is `parent` (a `traceparent`; a new trace when absent or malformed). */
export function startSpan(name: string, parent: string | undefined, options: StartSpanOptions = {}): TraceSpan {
  const span: Span = tracer().startSpan(
    name,
    {
      kind: options.kind ?? SpanKind.INTERNAL,
      ...(options.attributes ? { attributes: options.attributes } : {}),
      ...(options.startTime ? { startTime: options.startTime } : {}),
    },
    parentContext(parent),
  );
  const recording = span.isRecording();
  const sc = span.spanContext();
  const traceparent = recording
    ? formatTraceparent({ traceId: sc.traceId, spanId: sc.spanId, flags: sc.traceFlags.toString(16).padStart(2, '0') })
    : options.whenOff === 'same' && parseTraceparent(parent)
      ? (parent as string)
      : childTraceparent(parent);
  return {
    traceparent,
    recording,
    setAttributes: (attributes) => {
      span.setAttributes(attributes);
    },
    end(error) {
      if (error !== undefined) {
        span.recordException(error instanceof Error ? error : String(error));
        span.setStatus({
          code: SpanStatusCode.ERROR,
          message: error instanceof Error ? error.message : String(error),
        });
      }
      span.end();
    },
  };
}

/** Runs `fn` inside a span: ended when `fn` settles, failed when it throws. */
export async function inSpan<T>(
  name: string,
  parent: string | undefined,
  options: StartSpanOptions,
  fn: (span: TraceSpan) => Promise<T>,
): Promise<T> {
  const span = startSpan(name, parent, options);
  try {
    const value = await fn(span);
    span.end();
    return value;
  } catch (err) {
    span.end(err);
    throw err;
  }
}
