import { readFileSync } from 'node:fs';
import path from 'node:path';
import { aiWorkerConfigSchema, loadAiWorkerConfig } from '@lightdom/ai-worker';
import {
  anchorConfigSchema,
  anchorDeployConfigSchema,
  loadAnchorConfig,
  loadAnchorDeployConfig,
} from '@lightdom/anchor';
import { commandApiConfigSchema, loadCommandApiConfig } from '@lightdom/command-api';
import { executorConfigSchema, loadExecutorConfig } from '@lightdom/executor';
import { loadProjectorConfig, projectorConfigSchema } from '@lightdom/projector';
import { repoRoot } from '@lightdom/testkit';

/** What one service reads from its environment, and its own loader (which refuses a bad one). */
export interface ServiceConfig {
  names: Set<string>;
  load?: (env: NodeJS.ProcessEnv) => unknown;
}

/** The pino logger of every service reads LOG_LEVEL (packages/runtime/src/logger.ts). */
const runtimeVariables = ['LOG_LEVEL'];

/** Variables a zod config schema reads: every key, and `<KEY>_FILE` of each (parseConfig). */
const fromSchema = (shape: Record<string, unknown>, load: ServiceConfig['load']): ServiceConfig => ({
  names: new Set([...runtimeVariables, ...Object.keys(shape).flatMap((k) => [k, `${k}_FILE`])]),
  load,
});

/** The dashboard's server has no schema: the `process.env.X` it reads, from its source. */
function dashboardVariables(): ServiceConfig {
  const source = readFileSync(path.join(repoRoot, 'packages/dashboard/serve.ts'), 'utf8');
  return { names: new Set([...source.matchAll(/process\.env\.([A-Z_]+)/g)].map((m) => m[1] as string)) };
}

/** The command each image-based service runs, and what that program reads. */
export const serviceConfigs: Record<string, ServiceConfig> = {
  'packages/command-api/dist/main.js': fromSchema(commandApiConfigSchema.shape, loadCommandApiConfig),
  'packages/projector/dist/main.js': fromSchema(projectorConfigSchema.shape, loadProjectorConfig),
  'packages/executor/dist/main.js': fromSchema(executorConfigSchema.shape, loadExecutorConfig),
  'packages/ai-worker/dist/main.js': fromSchema(aiWorkerConfigSchema.shape, loadAiWorkerConfig),
  'packages/anchor/dist/main.js': fromSchema(anchorConfigSchema.shape, loadAnchorConfig),
  'packages/anchor/dist/deployOnce.js': fromSchema(anchorDeployConfigSchema.shape, loadAnchorDeployConfig),
  'packages/dashboard/serve.mjs': dashboardVariables(),
};
