import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type Identity, type Role, roles } from '@lightdom/domain';
import { z } from 'zod';
import { ConfigError } from './parseConfig.js';

/** The identity every caller gets when authentication is explicitly off (`AUTH=off`). */
export const anonymousIdentity: Identity = Object.freeze({ actor: 'anonymous', role: 'admin' });

/** The configured tokens. Lookups compare digests in constant time and never log a token. */
export interface TokenRegistry {
  /** False only with `AUTH=off`: every caller is {@link anonymousIdentity}. */
  readonly enabled: boolean;
  readonly size: number;
  /** The identity a token names, or undefined (absent or unknown token). */
  lookup(token: string | undefined): Identity | undefined;
  /** The actors and roles configured, for start-up logs (never the tokens). */
  describe(): Identity[];
}

interface Entry {
  digest: Buffer;
  identity: Identity;
}

const digestOf = (token: string) => createHash('sha256').update(token, 'utf8').digest();

export function createTokenRegistry(entries: { token: string; identity: Identity }[], enabled = true): TokenRegistry {
  const list: Entry[] = entries.map((e) => ({ digest: digestOf(e.token), identity: Object.freeze({ ...e.identity }) }));
  return {
    enabled,
    size: list.length,
    lookup(token) {
      if (!enabled) return anonymousIdentity;
      if (token === undefined || token.length === 0 || token.length > 4096) return undefined;
      const d = digestOf(token);
      let found: Identity | undefined;
      // Every entry is compared, so the time taken does not say which one matched.
      for (const e of list) if (timingSafeEqual(e.digest, d) && !found) found = e.identity;
      return found;
    },
    describe: () => list.map((e) => e.identity),
  };
}

const tokenPattern = /^[A-Za-z0-9._~+/=-]{1,4096}$/;
const actorPattern = /^[A-Za-z0-9._@-]{1,100}$/;

/**
 * Parses `token:actor:role` entries separated by commas (or new lines, for a file). An entry
 * without a role means `operator`. Returns the entries, or the problems, each naming the
 * entry by its place (a token is never echoed).
 */
export function parseTokenEntries(text: string): {
  entries: { token: string; identity: Identity }[];
  problems: string[];
} {
  const entries: { token: string; identity: Identity }[] = [];
  const problems: string[] = [];
  const seen = new Set<string>();
  const items = text
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0 && !s.startsWith('#'));
  items.forEach((item, i) => {
    const where = `entry ${i + 1}`;
    const parts = item.split(':');
    if (parts.length < 2 || parts.length > 3) {
      problems.push(`${where} must be token:actor or token:actor:role`);
      return;
    }
    const [token = '', actor = '', role = 'operator'] = parts.map((p) => p.trim());
    if (!tokenPattern.test(token))
      problems.push(`${where}: the token must be 1-4096 characters of A-Z a-z 0-9 . _ ~ + / = -`);
    else if (seen.has(token)) problems.push(`${where}: the same token is listed twice`);
    if (!actorPattern.test(actor)) problems.push(`${where}: the actor must be 1-100 characters of A-Z a-z 0-9 . _ @ -`);
    if (!(roles as readonly string[]).includes(role))
      problems.push(`${where}: the role must be one of ${roles.join(', ')}`);
    seen.add(token);
    entries.push({ token, identity: { actor, role: role as Role } });
  });
  return { entries, problems };
}

/**
 * The variables that configure authentication, shared by every service:
 * `API_TOKENS` (entries inline), `API_TOKENS_FILE` (entries in a file, one per line or
 * comma-separated), `AUTH` (`on`, the default, or `off` to run with no authentication at all).
 */
export const identityConfig = {
  API_TOKENS: z.string().default(''),
  API_TOKENS_FILE: z.string().optional(),
  AUTH: z.enum(['on', 'off'], { errorMap: () => ({ message: 'must be on or off' }) }).default('on'),
};

type AuthVars = { API_TOKENS: string; API_TOKENS_FILE?: string | undefined; AUTH: 'on' | 'off' };

/** Refines a service's schema so `API_TOKENS`/`API_TOKENS_FILE` problems are reported per variable. */
export function tokenRegistryFrom(vars: AuthVars, ctx?: z.RefinementCtx): TokenRegistry {
  const problems: string[] = [];
  const report = (path: string, message: string) => {
    if (ctx) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [path], message });
    else problems.push(`${path}: ${message}`);
  };
  const inline = parseTokenEntries(vars.API_TOKENS);
  for (const p of inline.problems) report('API_TOKENS', p);
  let fromFile: { token: string; identity: Identity }[] = [];
  if (vars.API_TOKENS_FILE) {
    let text: string | undefined;
    try {
      text = readFileSync(vars.API_TOKENS_FILE, 'utf8');
    } catch (err) {
      report(
        'API_TOKENS_FILE',
        `cannot read ${vars.API_TOKENS_FILE} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
    if (text !== undefined) {
      const parsed = parseTokenEntries(text);
      for (const p of parsed.problems) report('API_TOKENS_FILE', p);
      fromFile = parsed.entries;
    }
  }
  // Without a refinement context, every problem is reported at once, as configuration errors are.
  if (problems.length > 0) throw new ConfigError(problems);
  return createTokenRegistry([...inline.entries, ...fromFile], vars.AUTH === 'on');
}
