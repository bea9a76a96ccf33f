import { parseConfig } from '@lightdom/runtime';
import { z } from 'zod';

const token = (fallback: string) =>
  z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'must be letters, digits, _ or -')
    .default(fallback);

/** What `lightdom projections status|rebuild` reads from the environment (each also as `<NAME>_FILE`). */
export const projectionOpsConfigSchema = z.object({
  NATS_URL: z.string().default('nats://127.0.0.1:4222'),
  EVENTS_STREAM: token('EVENTS'),
  EVENTS_SUBJECT_PREFIX: token('events'),
  DATABASE_URL: z
    .string()
    .default('postgres://postgres@127.0.0.1:5432/lightdom')
    .refine((v) => /^postgres(ql)?:\/\//.test(v), 'must be a postgres:// URL'),
  DB_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*$/, 'must be a lower-case SQL identifier')
    .default('public'),
});

export type ProjectionOpsConfig = z.infer<typeof projectionOpsConfigSchema>;

export const loadProjectionOpsConfig = (env: NodeJS.ProcessEnv): ProjectionOpsConfig =>
  parseConfig(projectionOpsConfigSchema, env);
