import { Counter, Gauge, type Registry } from 'prom-client';

/** What the AMQP server counts; every method is a no-op without a registry. */
export interface AmqpMetrics {
  connectionOpened(): void;
  connectionClosed(): void;
  published(): void;
  delivered(): void;
}

/** `prefix` starts every metric name: `<prefix>_connections`, `<prefix>_published_total`, … */
export function createAmqpMetrics(registry: Registry | undefined, prefix: string): AmqpMetrics {
  if (!registry) {
    const none = () => undefined;
    return { connectionOpened: none, connectionClosed: none, published: none, delivered: none };
  }
  // A second server on the same registry (a restart in one process) shares the metrics.
  const existing = <T>(name: string) => registry.getSingleMetric(name) as T | undefined;
  const connections =
    existing<Gauge>(`${prefix}_connections`) ??
    new Gauge({
      name: `${prefix}_connections`,
      help: 'Open AMQP connections',
      registers: [registry],
    });
  const published =
    existing<Counter>(`${prefix}_published_total`) ??
    new Counter({
      name: `${prefix}_published_total`,
      help: 'Messages published to the AMQP server',
      registers: [registry],
    });
  const delivered =
    existing<Counter>(`${prefix}_delivered_total`) ??
    new Counter({
      name: `${prefix}_delivered_total`,
      help: 'Messages delivered by the AMQP server (basic.deliver and basic.get-ok)',
      registers: [registry],
    });
  return {
    connectionOpened: () => connections.inc(),
    connectionClosed: () => connections.dec(),
    published: () => published.inc(),
    delivered: () => delivered.inc(),
  };
}
