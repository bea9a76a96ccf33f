import { readFileSync } from 'node:fs';
import {
  ConfigError,
  hostConfig,
  identityConfig,
  natsConfig,
  parseConfig,
  port,
  positiveInt,
  type TokenRegistry,
  tokenRegistryFrom,
  tracingConfig,
  url,
} from '@lightdom/runtime';
import { z } from 'zod';

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'must be a 0x-prefixed 20-byte address');

/** What the anchor service reads from the environment (each variable also as `<NAME>_FILE`). */
export const anchorConfigSchema = z
  .object({
    ...natsConfig,
    // OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME: traces over OTLP/HTTP when the endpoint is set.
    ...tracingConfig,
    ...hostConfig,
    ...identityConfig,
    OPS_PORT: port(9470),
    /** Checkpoint once this many commits wait… */
    AUDIT_CHECKPOINT_EVERY: positiveInt(1000).pipe(z.number().max(100_000, 'must be at most 100000')),
    /** …or once this many ms passed with at least one waiting. */
    AUDIT_CHECKPOINT_INTERVAL_MS: positiveInt(60_000).pipe(z.number().min(100, 'must be at least 100')),
    /** Most positions in one checkpoint. */
    AUDIT_CHECKPOINT_MAX_RANGE: positiveInt(10_000).pipe(z.number().max(100_000, 'must be at most 100000')),
    CHAIN_RPC_URL: url(['http', 'https'], 'http://127.0.0.1:8545'),
    /** Refuse any RPC URL that is not loopback (tests, local `npm start`). */
    CHAIN_RPC_LOOPBACK_ONLY: z.enum(['true', 'false']).default('false'),
    AUDIT_ANCHOR_ADDRESS: address,
    /** A file holding the anchorer's private key (never the key itself in the environment). */
    CHAIN_SIGNER_KEY_FILE: z.string().min(1, 'must name a file'),
    CHAIN_CONFIRMATIONS: z.coerce.number({ invalid_type_error: 'must be a number' }).int().min(1).max(64).default(1),
    CHAIN_TX_TIMEOUT_MS: positiveInt(60_000),
    /** The service's own token (or SERVICE_TOKEN_FILE) (role `service`), as the other services present theirs. */
    SERVICE_TOKEN: z.string().max(4096).optional(),
  })
  .strip();

/** Reads and checks the files and the token beside the schema, so no problem echoes a secret. */
function finish(c: z.output<typeof anchorConfigSchema>) {
  const problems: string[] = [];
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(c.CHAIN_RPC_URL).hostname);
  if (c.CHAIN_RPC_LOOPBACK_ONLY === 'true' && !loopback)
    problems.push('CHAIN_RPC_URL: must be a loopback address here');
  let signerKey = '';
  try {
    const text = readFileSync(c.CHAIN_SIGNER_KEY_FILE, 'utf8').trim();
    signerKey = text.startsWith('0x') ? text : `0x${text}`;
    if (!/^0x[0-9a-fA-F]{64}$/.test(signerKey)) problems.push('CHAIN_SIGNER_KEY_FILE: must hold 32 bytes of hex');
  } catch (err) {
    problems.push(`CHAIN_SIGNER_KEY_FILE: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let tokens: TokenRegistry | undefined;
  try {
    tokens = tokenRegistryFrom(c);
  } catch (err) {
    problems.push((err as Error).message);
  }
  if (tokens?.enabled) {
    const identity = tokens.lookup(c.SERVICE_TOKEN);
    if (!identity)
      problems.push('SERVICE_TOKEN (or SERVICE_TOKEN_FILE): is required and must be a token of API_TOKENS');
    else if (identity.role !== 'service') {
      problems.push(`SERVICE_TOKEN: names ${identity.actor}, whose role is ${identity.role}, not service`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const { SERVICE_TOKEN: serviceToken, ...rest } = c;
  return { ...rest, signerKey, serviceToken, tokens: tokens! };
}

export type AnchorConfig = ReturnType<typeof finish>;

/** Throws a ConfigError naming every bad variable (never a key or token). */
export const loadAnchorConfig = (env: NodeJS.ProcessEnv): AnchorConfig => finish(parseConfig(anchorConfigSchema, env));
