import { parseConfig } from '@lightdom/events';
import { hostConfig, natsConfig, port, subjectToken } from '@lightdom/runtime';
import { z } from 'zod';

/** The executor's environment; every variable also accepts `<NAME>_FILE`. */
export const executorConfigSchema = z.object({
  ...natsConfig,
  ...hostConfig,
  /** Port of /health, /ready and /metrics. */
  PORT: port(3002),
  /** Name of the durable JetStream consumer; executors sharing it compete for work. */
  EXECUTOR_DURABLE: subjectToken('executor'),
});

export type ExecutorConfig = z.infer<typeof executorConfigSchema>;

/** Throws a ConfigError naming every bad variable. */
export const loadExecutorConfig = (env: NodeJS.ProcessEnv = process.env): ExecutorConfig =>
  parseConfig(executorConfigSchema, env);
