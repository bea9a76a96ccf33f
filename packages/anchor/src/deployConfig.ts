import { readFileSync } from 'node:fs';
import { ConfigError, parseConfig, url } from '@lightdom/runtime';
import { z } from 'zod';

/**
 * What the one-shot AuditAnchor deployment (`node packages/anchor/dist/deployOnce.js`) reads:
 * compose runs it before the anchor service, against its Hardhat node.
 */
export const anchorDeployConfigSchema = z.object({
  CHAIN_RPC_URL: url(['http', 'https'], 'http://127.0.0.1:8545'),
  /** A file holding the deployer's private key (never the key itself in the environment). */
  CHAIN_SIGNER_KEY_FILE: z.string().min(1, 'must name a file'),
  /** Where the deployment is remembered (chain id, genesis, address): a volume the job keeps. */
  AUDIT_ANCHOR_DEPLOYMENT_FILE: z.string().min(1, 'must name a file'),
  /** Where the bare address is written, for the anchor service's AUDIT_ANCHOR_ADDRESS_FILE. */
  AUDIT_ANCHOR_ADDRESS_OUT: z.string().min(1, 'must name a file'),
  /** Tries while the chain does not answer yet, one second apart. */
  CHAIN_WAIT_ATTEMPTS: z.coerce.number({ invalid_type_error: 'must be a number' }).int().min(1).max(600).default(60),
});

export type AnchorDeployConfig = z.output<typeof anchorDeployConfigSchema> & { signerKey: string };

export function loadAnchorDeployConfig(env: NodeJS.ProcessEnv): AnchorDeployConfig {
  const c = parseConfig(anchorDeployConfigSchema, env);
  let signerKey = '';
  try {
    const text = readFileSync(c.CHAIN_SIGNER_KEY_FILE, 'utf8').trim();
    signerKey = text.startsWith('0x') ? text : `0x${text}`;
  } catch (err) {
    throw new ConfigError([
      `CHAIN_SIGNER_KEY_FILE: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    ]);
  }
  if (!/^0x[0-9a-fA-F]{64}$/.test(signerKey))
    throw new ConfigError(['CHAIN_SIGNER_KEY_FILE: must hold 32 bytes of hex']);
  return { ...c, signerKey };
}
