import { rename, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError, createLogger, redactUrl } from '@lightdom/runtime';
import { loadAnchorDeployConfig } from './deployConfig.js';
import { ensureDeployment } from './deployment.js';

/**
 * One-shot job: makes sure an AuditAnchor is deployed on the chain (once per chain, as
 * `npm start` does), then writes its address where the anchor service reads it. Run again
 * on the same chain it deploys nothing; on a new chain (a restarted Hardhat node) it deploys
 * afresh. Exit 0 when the address file is in place, 2 on bad configuration, 1 otherwise.
 */
const logger = createLogger('anchor-deploy');

async function main(): Promise<void> {
  const config = loadAnchorDeployConfig(process.env);
  for (let attempt = 1; ; attempt++) {
    try {
      const d = await ensureDeployment({
        rpcUrl: config.CHAIN_RPC_URL,
        file: config.AUDIT_ANCHOR_DEPLOYMENT_FILE,
        signerKey: config.signerKey,
      });
      const tmp = `${config.AUDIT_ANCHOR_ADDRESS_OUT}.tmp`;
      await writeFile(tmp, `${d.contractAddress}\n`);
      await rename(tmp, config.AUDIT_ANCHOR_ADDRESS_OUT);
      logger.info(
        { contract: d.contractAddress, chainId: d.chainId, deployed: d.deployed, rpc: redactUrl(config.CHAIN_RPC_URL) },
        d.deployed ? 'AuditAnchor deployed' : 'AuditAnchor already deployed on this chain',
      );
      return;
    } catch (err) {
      if (attempt >= config.CHAIN_WAIT_ATTEMPTS) throw err;
      logger.warn({ err: (err as Error).message, attempt }, 'chain not ready; trying again');
      await sleep(1000);
    }
  }
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`anchor-deploy: ${err.message}\n`);
    process.exit(2);
  }
  logger.fatal({ err }, 'could not deploy AuditAnchor');
  process.exit(1);
});
