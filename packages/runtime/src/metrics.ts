import { collectDefaultMetrics, Registry } from 'prom-client';

/** A registry with the process metrics and a `service` label on every series. */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: 'lightdom_' });
  return registry;
}
