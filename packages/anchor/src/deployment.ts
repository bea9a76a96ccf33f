import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { JsonRpcProvider } from 'ethers';
import { deployAuditAnchor } from './chain.js';

/** What `npm start` remembers about the local contract (`.data/chain/audit-anchor.json`). */
export interface Deployment {
  chainId: number;
  contractAddress: string;
  /** Hash of block 0: a restarted `hardhat node` is a new chain with the same id. */
  genesisHash: string;
  deployedAt: string;
}

async function chainIdentity(
  rpcUrl: string,
): Promise<{ chainId: number; genesisHash: string; codeAt(a: string): Promise<string> }> {
  const rpc = new JsonRpcProvider(rpcUrl, undefined, { staticNetwork: true });
  try {
    const [network, genesis] = await Promise.all([rpc.getNetwork(), rpc.getBlock(0)]);
    return {
      chainId: Number(network.chainId),
      genesisHash: genesis?.hash ?? '',
      codeAt: async (a) => {
        const p = new JsonRpcProvider(rpcUrl, undefined, { staticNetwork: true });
        try {
          return await p.getCode(a);
        } finally {
          p.destroy();
        }
      },
    };
  } finally {
    rpc.destroy();
  }
}

/**
 * The AuditAnchor recorded in `file` if it is still on this chain (same chain id, same
 * genesis block, code at the address); otherwise deploys one, records it and answers it.
 * Deploying once per chain is what keeps the local history of anchors in one contract.
 */
export async function ensureDeployment(opts: {
  rpcUrl: string;
  file: string;
  signerKey: string;
  firstPosition?: number;
}): Promise<Deployment & { deployed: boolean }> {
  const chain = await chainIdentity(opts.rpcUrl);
  try {
    const known = JSON.parse(await readFile(opts.file, 'utf8')) as Deployment;
    if (
      known.chainId === chain.chainId &&
      known.genesisHash === chain.genesisHash &&
      (await chain.codeAt(known.contractAddress)) !== '0x'
    ) {
      return { ...known, deployed: false };
    }
  } catch {
    // No file, or not JSON: deploy.
  }
  const d = await deployAuditAnchor({
    rpcUrl: opts.rpcUrl,
    signerKey: opts.signerKey,
    ...(opts.firstPosition ? { firstPosition: opts.firstPosition } : {}),
  });
  const deployment: Deployment = {
    chainId: d.chainId,
    contractAddress: d.contractAddress,
    genesisHash: chain.genesisHash,
    deployedAt: new Date().toISOString(),
  };
  await mkdir(dirname(opts.file), { recursive: true });
  await writeFile(`${opts.file}.tmp`, `${JSON.stringify(deployment, null, 2)}\n`);
  await rename(`${opts.file}.tmp`, opts.file);
  return { ...deployment, deployed: true };
}
