import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { dataDir } from './config.js';
import { UserError } from './output.js';

/**
 * The tokens `npm start` makes, kept in `.data/tokens` (API_TOKENS_FILE format, mode 0600)
 * and reused on every later run: a development admin, and a service token each for the
 * executor, the AI worker and the anchor service.
 */
export const tokensFile = path.join(dataDir, 'tokens');
/** Written on each run when the user configured tokens: theirs plus the service tokens. */
const combinedFile = path.join(dataDir, 'tokens.combined');

const made = [
  { actor: 'dev', role: 'admin' },
  { actor: 'executor', role: 'service' },
  { actor: 'ai-worker', role: 'service' },
  { actor: 'anchor', role: 'service' },
] as const;
type Actor = (typeof made)[number]['actor'];

export interface StartTokens {
  /** Off: `AUTH=off`, nothing made or passed. */
  auth: 'on' | 'off';
  /** The development admin token, when the user configured no tokens of their own. */
  admin?: string;
  /** The variables every service gets (the registry). */
  registryEnv: Record<string, string>;
  /** Each service's own token, as `SERVICE_TOKEN`. */
  serviceToken: Partial<Record<Actor, string>>;
  /** Where the registry comes from, for the summary. */
  source: string;
}

export function prepareTokens(env: NodeJS.ProcessEnv = process.env): StartTokens {
  if (env.AUTH?.trim() === 'off') return { auth: 'off', registryEnv: {}, serviceToken: {}, source: 'AUTH=off' };
  const tokens = readOrCreate();
  const serviceToken = { executor: tokens.executor, 'ai-worker': tokens['ai-worker'], anchor: tokens.anchor };
  const own = (env.API_TOKENS ?? '').trim();
  const ownFile = env.API_TOKENS_FILE?.trim();
  if (!own && !ownFile) {
    // The file lists entries one a line, each ending in a comma: both the registry
    // (token:actor:role) and the old token:actor parser still used by some services read it.
    return {
      auth: 'on',
      admin: tokens.dev,
      registryEnv: { API_TOKENS_FILE: tokensFile, API_TOKENS: '' },
      serviceToken,
      source: path.relative(process.cwd(), tokensFile) || tokensFile,
    };
  }
  // The user's tokens (inline and/or file) plus the service tokens, in one file: a service reads
  // API_TOKENS_FILE in place of API_TOKENS when both are set (NAME_FILE rule of parseConfig).
  let theirs = own;
  if (ownFile) {
    try {
      theirs = `${theirs}\n${fs.readFileSync(ownFile, 'utf8')}`;
    } catch (err) {
      throw new UserError(`API_TOKENS_FILE=${ownFile} cannot be read (${(err as NodeJS.ErrnoException).code}).`);
    }
  }
  const entries = theirs
    .split(/[,\n]/)
    .map((e) => e.trim())
    .filter((e) => e.length > 0 && !e.startsWith('#'));
  entries.push(
    `${tokens.executor}:executor:service`,
    `${tokens['ai-worker']}:ai-worker:service`,
    `${tokens.anchor}:anchor:service`,
  );
  writePrivate(combinedFile, entries.map((e) => `${e},\n`).join(''));
  return {
    auth: 'on',
    registryEnv: { API_TOKENS_FILE: combinedFile, API_TOKENS: '' },
    serviceToken,
    source: `${ownFile ? 'API_TOKENS_FILE' : 'API_TOKENS'} (with the service tokens added)`,
  };
}

/** The tokens of `.data/tokens`, made (random, 32 bytes) the first time and whenever one is missing. */
function readOrCreate(): Record<Actor, string> {
  const found: Partial<Record<Actor, string>> = {};
  try {
    for (const line of fs.readFileSync(tokensFile, 'utf8').split(/[,\n]/)) {
      const [token, actor] = line.trim().split(':');
      if (token && made.some((m) => m.actor === actor)) found[actor as Actor] = token;
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new UserError(
        `${tokensFile} cannot be read (${(err as NodeJS.ErrnoException).code}); remove it to get new tokens.`,
      );
    }
  }
  const tokens = Object.fromEntries(
    made.map((m) => [m.actor, found[m.actor] ?? randomBytes(32).toString('base64url')]),
  ) as Record<Actor, string>;
  const text = made.map((m) => `${tokens[m.actor]}:${m.actor}:${m.role},\n`).join('');
  writePrivate(tokensFile, text);
  return tokens;
}

/** Writes a file only its owner can read (also when it already existed with a looser mode). */
function writePrivate(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
}
