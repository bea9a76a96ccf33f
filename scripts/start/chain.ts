import fs from 'node:fs';
import path from 'node:path';
// Relative imports, not @lightdom/anchor: npm start runs without a build, and these two
// files need nothing of the workspace (only ethers and the contract artifact).
import { ensureLocalChain, hardhatDevKey, type LocalChain } from '../../packages/anchor/src/chain.js';
import { ensureDeployment } from '../../packages/anchor/src/deployment.js';
import { chainPort, dataDir, repoRoot } from './config.js';
import { say } from './output.js';

/** Where the local contract and its signer key are remembered between runs. */
export const chainDir = path.join(dataDir, 'chain');
const deploymentFile = path.join(chainDir, 'audit-anchor.json');
const signerKeyFile = path.join(chainDir, 'signer.key');

export interface ChainSetup {
  chain: LocalChain;
  contractAddress: string;
  /** The variables the anchor service needs. */
  env: Record<string, string>;
}

/**
 * A local `hardhat node` on 127.0.0.1:8545 (+offset): the one that answers, else one started
 * here (and stopped on exit), with AuditAnchor deployed once per chain and remembered in
 * .data/chain/audit-anchor.json. Throws when the chain cannot be had; the caller carries on
 * without anchoring, since no command depends on the chain.
 */
export async function prepareChain(onStarted: (chain: LocalChain) => void): Promise<ChainSetup> {
  const hardhatBin = path.join(repoRoot, 'node_modules', '.bin', 'hardhat');
  if (!fs.existsSync(hardhatBin)) throw new Error(`${path.relative(repoRoot, hardhatBin)} is missing (npm install)`);
  const chain = await ensureLocalChain({
    port: chainPort,
    hardhatDir: path.join(repoRoot, 'contracts'),
    hardhatBin,
    startTimeoutMs: 90_000,
  });
  if (chain.started) onStarted(chain);
  // Hardhat's well-known first account: a local development chain only, never a real one.
  writePrivate(signerKeyFile, `${hardhatDevKey}\n`);
  const deployment = await ensureDeployment({ rpcUrl: chain.rpcUrl, file: deploymentFile, signerKey: hardhatDevKey });
  say(
    deployment.deployed
      ? `deployed AuditAnchor at ${deployment.contractAddress} (chain ${deployment.chainId}), kept in ${shown(deploymentFile)}`
      : `AuditAnchor at ${deployment.contractAddress} (chain ${deployment.chainId}), deployed by an earlier run`,
  );
  return {
    chain,
    contractAddress: deployment.contractAddress,
    env: {
      CHAIN_RPC_URL: chain.rpcUrl,
      AUDIT_ANCHOR_ADDRESS: deployment.contractAddress,
      CHAIN_SIGNER_KEY_FILE: signerKeyFile,
      CHAIN_RPC_LOOPBACK_ONLY: 'true',
    },
  };
}

/** A path inside the clone relative to it (`.data/chain/…`), any other in full. */
function shown(file: string): string {
  const relative = path.relative(repoRoot, file);
  return relative.startsWith('..') ? file : relative;
}

function writePrivate(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
}
