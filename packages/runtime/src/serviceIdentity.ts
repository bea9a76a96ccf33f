import type { Identity } from '@lightdom/domain';
import { z } from 'zod';
import { type TokenRegistry, tokenRegistryFrom } from './identity.js';
import { ConfigError } from './parseConfig.js';

/**
 * The credential of a service that records commands (the executor, the AI worker):
 * `SERVICE_TOKEN`, or `SERVICE_TOKEN_FILE` like every variable. It must be one of the
 * registry's tokens (`API_TOKENS` / `API_TOKENS_FILE`) with role `service` (or `admin`).
 */
export const serviceTokenConfig = {
  SERVICE_TOKEN: z.string().trim().optional(),
};

/** A service's authentication, resolved once at start-up. */
export interface ServiceAuth {
  /** The registry every service reads; the application core authenticates with it. */
  tokens: TokenRegistry;
  /** Who the service is: its token's actor and role. */
  identity: Identity;
}

type ServiceAuthVars = {
  API_TOKENS: string;
  API_TOKENS_FILE?: string | undefined;
  AUTH: 'on' | 'off';
  SERVICE_TOKEN?: string | undefined;
};

/**
 * The token registry and the service's own identity, or a ConfigError naming each problem
 * (never a token). With `AUTH=off` the service acts as `{actor: service, role: 'service'}`
 * whatever `SERVICE_TOKEN` says: there is nothing to check it against.
 *
 * @example
 * const { tokens, identity } = serviceAuthFrom(parseConfig(schema, env), 'executor');
 */
export function serviceAuthFrom(vars: ServiceAuthVars, service: string): ServiceAuth {
  const problems: string[] = [];
  const ctx = {
    path: [],
    addIssue: (issue: { path?: (string | number)[]; message?: string }) =>
      problems.push(`${issue.path?.join('.') ?? 'API_TOKENS'}: ${issue.message ?? 'is not valid'}`),
  } as unknown as z.RefinementCtx;
  const tokens = tokenRegistryFrom(vars, ctx);
  if (problems.length > 0) throw new ConfigError(problems);
  if (!tokens.enabled) return { tokens, identity: { actor: service, role: 'service' } };

  const token = vars.SERVICE_TOKEN;
  if (!token) {
    throw new ConfigError([
      `SERVICE_TOKEN: is required: the ${service}'s own token, listed in API_TOKENS or API_TOKENS_FILE with role service (or set AUTH=off to run without authentication)`,
    ]);
  }
  const identity = tokens.lookup(token);
  if (!identity) {
    throw new ConfigError([
      `SERVICE_TOKEN: is not one of the tokens in API_TOKENS or API_TOKENS_FILE (${tokens.size} configured)`,
    ]);
  }
  if (identity.role !== 'service' && identity.role !== 'admin') {
    throw new ConfigError([
      `SERVICE_TOKEN: names ${identity.actor} with role ${identity.role}; the ${service} needs a token with role service (or admin)`,
    ]);
  }
  return { tokens, identity };
}
