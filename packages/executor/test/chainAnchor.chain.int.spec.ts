import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  type AnchorClient,
  createAnchorClient,
  createCheckpointer,
  deployAuditAnchor,
  ensureLocalChain,
  hardhatDevKey,
  type LocalChain,
} from '@lightdom/anchor';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createExecutorHarness, type ExecutorHarness } from './support/harness.js';

let h: ExecutorHarness;
let chain: LocalChain;
let client: AnchorClient;

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

beforeAll(async () => {
  h = await createExecutorHarness('exchain');
  chain = await ensureLocalChain({
    port: await freePort(),
    hardhatDir: fileURLToPath(new URL('../../../contracts/', import.meta.url)),
    hardhatBin: fileURLToPath(new URL('../../../node_modules/.bin/hardhat', import.meta.url)),
  });
  expect(chain.started).toBe(true);
  const { contractAddress } = await deployAuditAnchor({ rpcUrl: chain.rpcUrl, signerKey: hardhatDevKey });
  client = createAnchorClient({ rpcUrl: chain.rpcUrl, contractAddress, signerKey: hardhatDevKey, confirmations: 1 });
  await h.startExecutor({ chainAnchor: { waitMs: 2000, pollMs: 50 } });
}, 90_000);
afterAll(async () => {
  client?.destroy();
  await chain?.stop();
  await h?.cleanup();
});

it('a chain.anchor step completes with the checkpoint the anchor service put on a real hardhat node', async () => {
  const { runId } = await h.requestRun([
    { id: 'anchor', type: 'chain.anchor', retry: { maxAttempts: 30, backoffMs: 50 } },
  ]);
  // The anchor service's job: checkpoint whatever waits, every 200 ms.
  const job = createCheckpointer({
    store: h.store,
    chain: client,
    every: 1,
    intervalMs: 200,
    submit: (command) => {
      const id = randomUUID();
      return h.commands.handle(command, { actor: 'anchor', correlationId: id, causationId: id });
    },
  });
  let stop = false;
  const ticking = (async () => {
    while (!stop) {
      await job.tick();
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  try {
    const state = await h.waitForEnd(runId, 45_000);
    expect(state.status).toBe('succeeded');
    const output = state.stepStates.anchor?.output as Record<string, unknown>;
    const started = (await h.runEvents(runId)).find((e) => e.event.type === 'WorkflowStepStarted')!.commit.position;
    expect(output.position).toBe(started);
    // The step's chain reference is the contract's own record of that range.
    const onChain = (await client.anchoredEvents()).find((e) => e.fromPosition === output.fromPosition);
    expect(onChain).toMatchObject({ toPosition: output.toPosition, merkleRoot: output.merkleRoot });
    expect(onChain!.transactionHash).toBe(output.transactionHash);
    expect(output.chainId).toBe(31337);
  } finally {
    stop = true;
    await ticking;
  }
}, 60_000);
