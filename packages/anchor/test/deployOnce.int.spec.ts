import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnTypeScript } from '@lightdom/testkit';
import { JsonRpcProvider } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureLocalChain, hardhatDevKey, type LocalChain } from '../src/index.js';
import { freePort } from './chainProxy.js';

// The one-shot job compose runs before the anchor service (deploy/compose.yaml, anchor-deploy).
let chain: LocalChain;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lightdom-anchor-deploy-'));
  await writeFile(join(dir, 'key'), hardhatDevKey);
  chain = await ensureLocalChain({
    port: await freePort(),
    hardhatDir: fileURLToPath(new URL('../../../contracts/', import.meta.url)),
    hardhatBin: fileURLToPath(new URL('../../../node_modules/.bin/hardhat', import.meta.url)),
  });
}, 90_000);

afterAll(async () => {
  await chain?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function runJob(env: Record<string, string>) {
  const job = spawnTypeScript('anchor-deploy', 'packages/anchor/src/deployOnce.ts', env);
  const [code] = (await once(job.child, 'exit')) as [number | null];
  return { code, output: job.output() };
}

describe('anchor-deploy (deployOnce)', () => {
  it('deploys AuditAnchor once per chain and writes its address for AUDIT_ANCHOR_ADDRESS_FILE', async () => {
    const env = {
      CHAIN_RPC_URL: chain.rpcUrl,
      CHAIN_SIGNER_KEY_FILE: join(dir, 'key'),
      AUDIT_ANCHOR_DEPLOYMENT_FILE: join(dir, 'state', 'audit-anchor.json'),
      AUDIT_ANCHOR_ADDRESS_OUT: join(dir, 'audit_anchor_address'),
    };
    const first = await runJob(env);
    expect(first.code, first.output).toBe(0);
    expect(first.output).toMatch(/"AuditAnchor deployed"/);
    const address = (await readFile(env.AUDIT_ANCHOR_ADDRESS_OUT, 'utf8')).trim();
    expect(address).toMatch(/^0x[0-9a-fA-F]{40}$/);
    const rpc = new JsonRpcProvider(chain.rpcUrl, undefined, { staticNetwork: true });
    try {
      expect(await rpc.getCode(address)).not.toBe('0x');
    } finally {
      rpc.destroy();
    }

    // Again on the same chain (a `docker compose up` after a restart): nothing new on chain.
    const second = await runJob(env);
    expect(second.code, second.output).toBe(0);
    expect(second.output).toMatch(/AuditAnchor already deployed on this chain/);
    expect((await readFile(env.AUDIT_ANCHOR_ADDRESS_OUT, 'utf8')).trim()).toBe(address);
  }, 90_000);

  it('refuses a bad configuration with exit 2, naming the variable and not the key', async () => {
    await writeFile(join(dir, 'bad-key'), 'not-a-key-0123');
    const r = await runJob({
      CHAIN_RPC_URL: 'ftp://chain',
      CHAIN_SIGNER_KEY_FILE: join(dir, 'bad-key'),
      AUDIT_ANCHOR_DEPLOYMENT_FILE: join(dir, 'x.json'),
      AUDIT_ANCHOR_ADDRESS_OUT: join(dir, 'x'),
    });
    expect(r.code, r.output).toBe(2);
    expect(r.output).toMatch(/CHAIN_RPC_URL: must be a URL with scheme http or https/);
    const key = await runJob({
      CHAIN_RPC_URL: chain.rpcUrl,
      CHAIN_SIGNER_KEY_FILE: join(dir, 'bad-key'),
      AUDIT_ANCHOR_DEPLOYMENT_FILE: join(dir, 'x.json'),
      AUDIT_ANCHOR_ADDRESS_OUT: join(dir, 'x'),
    });
    expect(key.code, key.output).toBe(2);
    expect(key.output).toMatch(/CHAIN_SIGNER_KEY_FILE: must hold 32 bytes of hex/);
    expect(key.output).not.toContain('not-a-key-0123');
  }, 60_000);
});
