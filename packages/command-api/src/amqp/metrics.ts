import { Counter, Gauge, type Registry } from 'prom-client';

/** What the AMQP edge counts; every method is a no-op without a registry. */
export interface AmqpMetrics {
  connectionOpened(): void;
  connectionClosed(): void;
  published(): void;
  delivered(): void;
  command(outcome: string): void;
}

export function createAmqpMetrics(registry: Registry | undefined): AmqpMetrics {
  if (!registry) {
    const none = () => undefined;
    return { connectionOpened: none, connectionClosed: none, published: none, delivered: none, command: none };
  }
  // A second server on the same registry (a restart in one process) shares the metrics.
  const existing = <T>(name: string) => registry.getSingleMetric(name) as T | undefined;
  const connections =
    existing<Gauge>('lightdom_amqp_connections') ??
    new Gauge({
      name: 'lightdom_amqp_connections',
      help: 'Open AMQP connections',
      registers: [registry],
    });
  const published =
    existing<Counter>('lightdom_amqp_published_total') ??
    new Counter({
      name: 'lightdom_amqp_published_total',
      help: 'Messages published to the AMQP gateway',
      registers: [registry],
    });
  const delivered =
    existing<Counter>('lightdom_amqp_delivered_total') ??
    new Counter({
      name: 'lightdom_amqp_delivered_total',
      help: 'Messages delivered by the AMQP gateway (basic.deliver and basic.get-ok)',
      registers: [registry],
    });
  const commands =
    existing<Counter<'outcome'>>('lightdom_amqp_commands_total') ??
    new Counter({
      name: 'lightdom_amqp_commands_total',
      help: 'Commands run through lightdom.commands, by outcome (ok or an error code)',
      labelNames: ['outcome'],
      registers: [registry],
    });
  return {
    connectionOpened: () => connections.inc(),
    connectionClosed: () => connections.dec(),
    published: () => published.inc(),
    delivered: () => delivered.inc(),
    command: (outcome) => commands.inc({ outcome }),
  };
}
