import { trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { z } from 'zod';
import type { Logger } from './logger.js';

/**
 * OpenTelemetry's own variable names (the SDK specification), so an operator's usual
 * settings work. Unset endpoint: no exporter, no provider, spans cost nothing.
 */
export const tracingConfig = {
  /** Base URL of an OTLP/HTTP receiver (a collector's :4318); traces go to `<url>/v1/traces`. Unset: off. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z
    .string()
    .optional()
    .refine(
      (v) => {
        if (v === undefined) return true;
        try {
          return ['http:', 'https:'].includes(new URL(v).protocol);
        } catch {
          return false;
        }
      },
      { message: 'must be an http or https URL (an OTLP/HTTP receiver, e.g. http://otel-collector:4318)' },
    ),
  /** The `service.name` on every span. Default: the service's own name (command-api, projector, …). */
  OTEL_SERVICE_NAME: z.string().trim().min(1).max(200).optional(),
};

export interface TracingSettings {
  OTEL_EXPORTER_OTLP_ENDPOINT?: string | undefined;
  OTEL_SERVICE_NAME?: string | undefined;
}

export interface Tracing {
  readonly enabled: boolean;
  /** Exports what is buffered and stops; call last when the service stops. */
  shutdown(): Promise<void>;
}

/** The traces URL of an OTLP/HTTP base endpoint, as the specification builds it. */
export const otlpTracesUrl = (endpoint: string) => `${endpoint.replace(/\/+$/, '')}/v1/traces`;

/**
 * Installs the process's tracer provider: spans batched and exported over OTLP/HTTP (JSON)
 * when an endpoint is configured. Export failures are the exporter's to retry and log; they
 * never reach a command.
 */
export function startTracing(settings: TracingSettings, serviceName: string, logger: Logger): Tracing {
  const endpoint = settings.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!endpoint) return { enabled: false, shutdown: async () => undefined };
  const url = otlpTracesUrl(endpoint);
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': settings.OTEL_SERVICE_NAME ?? serviceName }),
    spanProcessors: [
      new BatchSpanProcessor(new OTLPTraceExporter({ url, timeoutMillis: 5000 }), { scheduledDelayMillis: 1000 }),
    ],
  });
  trace.setGlobalTracerProvider(provider);
  logger.info({ traces: url }, 'exporting traces over OTLP/HTTP');
  return {
    enabled: true,
    async shutdown() {
      await provider.shutdown().catch((err: unknown) => logger.warn({ err }, 'could not flush traces'));
      trace.disable();
    },
  };
}
