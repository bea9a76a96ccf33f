import { readFileSync } from 'node:fs';
import { z } from 'zod';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type ConfigSchema = z.ZodObject<z.ZodRawShape> | z.ZodEffects<z.ZodObject<z.ZodRawShape>, unknown>;

/** The variable names of an object schema, or of the object under a refine/transform. */
const shapeOf = (schema: ConfigSchema): z.ZodRawShape =>
  schema instanceof z.ZodEffects ? schema.innerType().shape : schema.shape;

/**
 * Reads a service's environment through a zod object schema whose keys are variable
 * names (optionally refined or transformed, e.g. to build a token registry). `NAME_FILE` is
 * honoured for every variable (Docker/Kubernetes secrets).
 * Every bad variable is reported, each on its own line, before anything starts.
 */
export function parseConfig<S extends ConfigSchema>(schema: S, env: NodeJS.ProcessEnv = process.env): z.output<S> {
  const raw: Record<string, string | undefined> = {};
  const problems: string[] = [];
  for (const key of Object.keys(shapeOf(schema))) {
    const fileVar = env[`${key}_FILE`];
    if (fileVar) {
      try {
        raw[key] = readFileSync(fileVar, 'utf8').trim();
      } catch (err) {
        problems.push(`${key}_FILE: cannot read ${fileVar} (${(err as Error).message})`);
      }
    } else {
      raw[key] = env[key] === '' ? undefined : env[key];
    }
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = issue.path.join('.');
      problems.push(`${key}: ${issue.message} (got ${JSON.stringify(raw[key] ?? null)})`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return (parsed as { data: z.output<S> }).data;
}
