import { readFileSync } from 'node:fs';
import { z } from 'zod';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Variables whose values are credentials. */
const secretName = /TOKEN|SECRET|PASSWORD|PRIVATE|KEY$/;

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
  const keys = Object.keys(shapeOf(schema));
  for (const key of keys) {
    // A schema that reads `NAME_FILE` itself (e.g. API_TOKENS_FILE, merged with API_TOKENS) keeps both.
    const fileVar = keys.includes(`${key}_FILE`) ? undefined : env[`${key}_FILE`];
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
      // A secret's value is never echoed, not even a wrong one.
      const shown = secretName.test(key) ? 'the value is not shown' : `got ${JSON.stringify(raw[key] ?? null)}`;
      problems.push(`${key}: ${issue.message} (${shown})`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return (parsed as { data: z.output<S> }).data;
}
