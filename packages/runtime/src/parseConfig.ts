import { readFileSync } from 'node:fs';
import type { z } from 'zod';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Reads a service's environment through a zod object schema whose keys are variable
 * names. `NAME_FILE` is honoured for every variable (Docker/Kubernetes secrets).
 * Every bad variable is reported, each on its own line, before anything starts.
 */
export function parseConfig<S extends z.ZodObject<z.ZodRawShape>>(
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
): z.infer<S> {
  const raw: Record<string, string | undefined> = {};
  const problems: string[] = [];
  for (const key of Object.keys(schema.shape)) {
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
  return (parsed as { data: z.infer<S> }).data;
}
