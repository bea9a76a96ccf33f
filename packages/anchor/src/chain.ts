import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import {
  type BaseContract,
  Contract,
  ContractFactory,
  type ContractTransactionResponse,
  JsonRpcProvider,
  NonceManager,
  Wallet,
} from 'ethers';
import artifact from './AuditAnchor.artifact.json' with { type: 'json' };

/** Where a checkpoint is anchored: enough for anyone with an RPC endpoint to look it up. */
export interface ChainReference {
  chainId: number;
  contractAddress: string;
  transactionHash: string;
  blockNumber: number;
}

export interface OnChainCheckpoint {
  index: number;
  fromPosition: number;
  toPosition: number;
  /** 64 lowercase hex, no 0x. */
  merkleRoot: string;
  blockNumber: number;
}

export interface AnchorClientOptions {
  rpcUrl: string;
  contractAddress: string;
  /** 0x-prefixed private key of an anchorer; only needed to send. */
  signerKey?: string;
  /** Blocks to wait on top of the one holding the transaction. Default 1 (mined). */
  confirmations?: number;
  /** Longest wait for one transaction, ms. Default 60000. */
  timeoutMs?: number;
  /** Attempts for a call that fails on the network. Default 3. */
  attempts?: number;
}

export interface AnchorResult extends ChainReference {
  /** True when the range was already on chain (nothing was sent). */
  already: boolean;
}

/** The chain or contract says no; retrying the same call cannot help. */
export class AnchorRefused extends Error {
  override readonly name = 'AnchorRefused';
}

export const auditAnchorAbi = artifact.abi;
export const auditAnchorBytecode = artifact.bytecode;

type Anchor = BaseContract & Record<string, (...args: unknown[]) => Promise<never>>;

const strip0x = (h: string) => h.replace(/^0x/, '').toLowerCase();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Reads a 0x-prefixed (or bare) 32-byte private key from a file, refusing anything else. */
export function readSignerKeyFile(path: string): string {
  const text = readFileSync(path, 'utf8').trim();
  const key = text.startsWith('0x') ? text : `0x${text}`;
  if (!/^0x[0-9a-fA-F]{64}$/.test(key)) throw new Error(`${path}: the signer key must be 32 bytes of hex`);
  return key;
}

const isNetworkError = (err: unknown) => {
  const code = (err as { code?: string }).code;
  return (
    code === 'NETWORK_ERROR' ||
    code === 'TIMEOUT' ||
    code === 'SERVER_ERROR' ||
    code === 'UNKNOWN_ERROR' ||
    /ECONNREFUSED|ECONNRESET|socket hang up|fetch failed/.test(String((err as Error).message))
  );
};

function provider(rpcUrl: string): JsonRpcProvider {
  // staticNetwork: no background network polling, no endless retry when the node is down.
  return new JsonRpcProvider(rpcUrl, undefined, { staticNetwork: true, batchMaxCount: 1 });
}

/** A client of one deployed AuditAnchor. Every call is bounded; none blocks forever. */
export function createAnchorClient(opts: AnchorClientOptions) {
  const rpc = provider(opts.rpcUrl);
  const attempts = opts.attempts ?? 3;
  const confirmations = opts.confirmations ?? 1;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const signer = opts.signerKey ? new NonceManager(new Wallet(opts.signerKey, rpc)) : undefined;
  const contract = new Contract(opts.contractAddress, auditAnchorAbi, signer ?? rpc) as unknown as Anchor;
  let chainId: number | undefined;

  async function retry<T>(_what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (!isNetworkError(err) || attempt >= attempts) throw err;
        await sleep(200 * 2 ** attempt);
      }
    }
  }

  const toCheckpoint = (
    index: number,
    c: { fromPosition: bigint; toPosition: bigint; merkleRoot: string; blockNumber: bigint },
  ): OnChainCheckpoint => ({
    index,
    fromPosition: Number(c.fromPosition),
    toPosition: Number(c.toPosition),
    merkleRoot: strip0x(c.merkleRoot),
    blockNumber: Number(c.blockNumber),
  });

  const client = {
    contractAddress: opts.contractAddress,
    async chainId(): Promise<number> {
      chainId ??= Number((await retry('chainId', () => rpc.getNetwork())).chainId);
      return chainId;
    },
    /** The first position the next checkpoint must start at. */
    async nextPosition(): Promise<number> {
      return Number(await retry('nextPosition', () => contract.nextPosition!()));
    },
    async count(): Promise<number> {
      return Number(await retry('count', () => contract.checkpointCount!()));
    },
    async checkpoint(index: number): Promise<OnChainCheckpoint> {
      return toCheckpoint(index, await retry('checkpoint', () => contract.checkpoint!(index)));
    },
    /** Every checkpoint, in order (one view call each; bounded by `limit`). */
    async checkpoints(limit = 100_000): Promise<OnChainCheckpoint[]> {
      const n = Math.min(await client.count(), limit);
      const out: OnChainCheckpoint[] = [];
      for (let i = 0; i < n; i++) out.push(await client.checkpoint(i));
      return out;
    },
    /** The checkpoint holding `position`, or undefined. */
    async covering(position: number): Promise<OnChainCheckpoint | undefined> {
      try {
        const [index, c] = (await retry('covering', () => contract.checkpointCovering!(position))) as unknown as [
          bigint,
          never,
        ];
        return toCheckpoint(Number(index), c);
      } catch (err) {
        if (isNetworkError(err)) throw err;
        return undefined;
      }
    },
    /** The Anchored events, in order: what the contract recorded, with each transaction. */
    async anchoredEvents(fromBlock = 0): Promise<(OnChainCheckpoint & ChainReference)[]> {
      const id = await client.chainId();
      const logs = await retry('events', () => contract.queryFilter!(contract.filters.Anchored!(), fromBlock) as never);
      return (logs as { args: Record<string, bigint | string>; transactionHash: string; blockNumber: number }[]).map(
        (l) => ({
          index: Number(l.args.index),
          fromPosition: Number(l.args.fromPosition),
          toPosition: Number(l.args.toPosition),
          merkleRoot: strip0x(String(l.args.merkleRoot)),
          blockNumber: l.blockNumber,
          chainId: id,
          contractAddress: opts.contractAddress,
          transactionHash: l.transactionHash,
        }),
      );
    },
    /**
     * Anchors fromPosition..toPosition with `merkleRoot`, once: if the contract already
     * holds this range (an earlier attempt did land) it answers with that transaction and
     * sends nothing; a different root for the range, or a range that is not the next one,
     * is AnchorRefused.
     */
    async anchorRange(range: { fromPosition: number; toPosition: number; merkleRoot: string }): Promise<AnchorResult> {
      const id = await client.chainId();
      const next = await client.nextPosition();
      const root = strip0x(range.merkleRoot);
      if (next > range.fromPosition) {
        const found = (await client.anchoredEvents()).find((e) => e.fromPosition === range.fromPosition);
        if (!found || found.toPosition !== range.toPosition || found.merkleRoot !== root) {
          throw new AnchorRefused(
            `positions ${range.fromPosition}..${range.toPosition} overlap a checkpoint already on chain ` +
              `(${found ? `${found.fromPosition}..${found.toPosition} root ${found.merkleRoot}` : `next position is ${next}`})`,
          );
        }
        return { ...found, already: true };
      }
      if (next < range.fromPosition) {
        throw new AnchorRefused(`the contract expects position ${next} next, not ${range.fromPosition}`);
      }
      if (!signer) throw new AnchorRefused('no signer key: this client can only read');
      let tx: ContractTransactionResponse;
      try {
        tx = (await contract.anchor!(
          range.fromPosition,
          range.toPosition,
          `0x${root}`,
        )) as unknown as ContractTransactionResponse;
      } catch (err) {
        signer.reset(); // the nonce may not have been used
        if (isNetworkError(err)) throw err;
        throw new AnchorRefused(
          `anchor(${range.fromPosition}, ${range.toPosition}) was refused: ${(err as Error).message}`,
        );
      }
      const receipt = await tx.wait(confirmations, timeoutMs);
      if (receipt?.status !== 1) throw new AnchorRefused(`transaction ${tx.hash} failed`);
      return {
        chainId: id,
        contractAddress: opts.contractAddress,
        transactionHash: receipt.hash,
        blockNumber: receipt.blockNumber,
        already: false,
      };
    },
    destroy(): void {
      rpc.destroy();
    },
  };
  return client;
}

export type AnchorClient = ReturnType<typeof createAnchorClient>;

/**
 * Deploys AuditAnchor with the signer as owner, grants it (and `anchorers`) the anchorer
 * role, and answers the address. For `npm start` and tests; production deploys are an
 * operator's step (docs/audit.md).
 */
export async function deployAuditAnchor(opts: {
  rpcUrl: string;
  signerKey: string;
  firstPosition?: number;
  anchorers?: string[];
  confirmations?: number;
}): Promise<{ contractAddress: string; chainId: number; blockNumber: number; owner: string }> {
  const rpc = provider(opts.rpcUrl);
  try {
    const wallet = new NonceManager(new Wallet(opts.signerKey, rpc));
    const factory = new ContractFactory(auditAnchorAbi, auditAnchorBytecode, wallet);
    const deployed = await factory.deploy(opts.firstPosition ?? 1);
    const receipt = await deployed.deploymentTransaction()!.wait(opts.confirmations ?? 1, 60_000);
    const contractAddress = await deployed.getAddress();
    const owner = await wallet.getAddress();
    const anchor = new Contract(contractAddress, auditAnchorAbi, wallet) as unknown as Anchor;
    for (const a of [owner, ...(opts.anchorers ?? [])]) {
      const tx = (await anchor.grantAnchorer!(a)) as unknown as ContractTransactionResponse;
      await tx.wait(opts.confirmations ?? 1, 60_000);
    }
    return {
      contractAddress,
      chainId: Number((await rpc.getNetwork()).chainId),
      blockNumber: receipt?.blockNumber ?? 0,
      owner,
    };
  } finally {
    rpc.destroy();
  }
}

/** Whether an Ethereum JSON-RPC endpoint answers `eth_chainId` within `timeoutMs`. */
export async function rpcAnswers(rpcUrl: string, timeoutMs = 1000): Promise<number | undefined> {
  try {
    const res = await fetch(rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await res.json()) as { result?: string };
    return body.result ? Number(body.result) : undefined;
  } catch {
    return undefined;
  }
}

export interface LocalChain {
  rpcUrl: string;
  /** Whether this call started the node (and `stop` ends it). */
  started: boolean;
  pid?: number;
  stop(): Promise<void>;
}

/**
 * A local `hardhat node` on 127.0.0.1:`port`: the one that answers, or a new one started
 * from the Hardhat binary directly (so the pid is the node's own), waited for up to
 * `startTimeoutMs`. `hardhatDir` is the contracts/ folder (its hardhat.config.ts).
 */
export async function ensureLocalChain(opts: {
  port?: number;
  hardhatDir: string;
  hardhatBin: string;
  startTimeoutMs?: number;
  log?: (line: string) => void;
}): Promise<LocalChain> {
  const port = opts.port ?? 8545;
  const rpcUrl = `http://127.0.0.1:${port}`;
  if ((await rpcAnswers(rpcUrl)) !== undefined) return { rpcUrl, started: false, stop: async () => {} };
  const child = spawn(opts.hardhatBin, ['node', '--hostname', '127.0.0.1', '--port', String(port)], {
    cwd: opts.hardhatDir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (d: Buffer) => {
    output = (output + d.toString()).slice(-4000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  };
  const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`hardhat node exited with ${child.exitCode}: ${output}`);
    if ((await rpcAnswers(rpcUrl)) !== undefined) {
      opts.log?.(`hardhat node answers on ${rpcUrl} (pid ${child.pid})`);
      return { rpcUrl, started: true, ...(child.pid ? { pid: child.pid } : {}), stop };
    }
    await sleep(250);
  }
  await stop();
  throw new Error(`hardhat node did not answer on ${rpcUrl} in time: ${output}`);
}

/** Hardhat's first well-known development account: for a local node only, never a real chain. */
export const hardhatDevKey = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80';
