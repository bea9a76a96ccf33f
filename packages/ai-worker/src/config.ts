import { parseConfig } from '@lightdom/events';
import { hostConfig, natsConfig, port, subjectToken, url } from '@lightdom/runtime';
import { z } from 'zod';

/** The AI worker's environment; every variable also accepts `<NAME>_FILE`. */
export const aiWorkerConfigSchema = z.object({
  ...natsConfig,
  ...hostConfig,
  /** Port of /health, /ready and /metrics. */
  PORT: port(3004),
  /** Base URL of the Ollama HTTP API. */
  OLLAMA_URL: url(['http', 'https'], 'http://127.0.0.1:11434'),
  /** Model used when an AI task names none. */
  AI_DEFAULT_MODEL: z.string().min(1).default('deepseek-r1:7b'),
  /** Name of the durable JetStream consumer; workers sharing it compete for tasks. */
  AI_WORKER_DURABLE: subjectToken('ai-worker'),
});

export type AiWorkerConfig = z.infer<typeof aiWorkerConfigSchema>;

/** Throws a ConfigError naming every bad variable. */
export const loadAiWorkerConfig = (env: NodeJS.ProcessEnv = process.env): AiWorkerConfig =>
  parseConfig(aiWorkerConfigSchema, env);
