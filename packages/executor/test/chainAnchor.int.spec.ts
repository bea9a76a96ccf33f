import { randomUUID } from 'node:crypto';
import { merkleRoot, readRange } from '@lightdom/anchor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExecutorHarness, type ExecutorHarness } from './support/harness.js';

let h: ExecutorHarness;

beforeAll(async () => {
  h = await createExecutorHarness('exanchor');
  // Short attempts, so "not anchored yet" shows within a test; the defaults are a minute and a second.
  await h.startExecutor({ chainAnchor: { waitMs: 300, pollMs: 20 } });
});
afterAll(async () => h?.cleanup());

const asAnchorService = () => {
  const id = randomUUID();
  return { actor: 'anchor', correlationId: id, causationId: id };
};
const txHash = (n: number) => `0x${n.toString(16).padStart(64, '0')}`;

/** Records a checkpoint over `from..to` as the anchor service would (root over the commits' hashes). */
async function recordCheckpoint(from: number, to: number) {
  const commits = await readRange(h.store, from, to);
  await h.commands.handle(
    {
      type: 'AnchorAuditCheckpoint',
      aggregateId: `cp-${from}`,
      data: {
        fromPosition: from,
        toPosition: to,
        merkleRoot: merkleRoot(commits.map((c) => c.hash)),
        commitCount: to - from + 1,
      },
    },
    asAnchorService(),
  );
}
async function confirmCheckpoint(from: number, blockNumber: number) {
  await h.commands.handle(
    {
      type: 'RecordCheckpointTransaction',
      aggregateId: `cp-${from}`,
      data: { chainId: 31337, transactionHash: txHash(blockNumber), blockNumber },
    },
    asAnchorService(),
  );
}

const anchorStep = (input?: Record<string, unknown>, maxAttempts = 2) => ({
  id: 'anchor',
  type: 'chain.anchor',
  ...(input ? { input } : {}),
  retry: { maxAttempts, backoffMs: 20 },
});

describe('the chain.anchor step waits until its position is anchored on chain', () => {
  it('fails for good on a bad input, naming the field, and on a position beyond the log', async () => {
    const bad = await h.requestRun([anchorStep({ position: 'first' })]);
    expect((await h.waitForEnd(bad.runId)).failure?.error).toBe(
      'invalid chain.anchor input: input.position: Expected number, received string',
    );
    const unknown = await h.requestRun([anchorStep({ position: 1, block: 3 })]);
    expect((await h.waitForEnd(unknown.runId)).failure?.error).toBe(
      'invalid chain.anchor input: input.block: unknown field(s): block',
    );
    const far = await h.requestRun([anchorStep({ position: 1_000_000 })]);
    const state = await h.waitForEnd(far.runId);
    expect(state.failure?.error).toMatch(/^chain\.anchor: input\.position 1000000 is beyond the log's end \(\d+\)$/);
    // Failed for good: one attempt only.
    expect(await h.stepStarts(far.runId)).toEqual({ 'anchor:1': 1 });
  });

  it('fails retryably while no checkpoint covers the position, and while its checkpoint is not on chain', async () => {
    const none = await h.requestRun([anchorStep({ position: 1 })]);
    const s1 = await h.waitForEnd(none.runId);
    expect(s1.status).toBe('failed');
    expect(s1.failure?.error).toBe('chain.anchor: position 1 is not anchored yet: no checkpoint covers it yet');
    expect(await h.stepStarts(none.runId)).toEqual({ 'anchor:1': 1, 'anchor:2': 1 }); // retried as the policy says

    const head = await h.store.headPosition();
    await recordCheckpoint(1, head);
    const recorded = await h.requestRun([anchorStep({ position: 1 })]);
    expect((await h.waitForEnd(recorded.runId)).failure?.error).toBe(
      `chain.anchor: position 1 is not anchored yet: checkpoint cp-1 (positions 1..${head}) is recorded but not on chain yet`,
    );

    await confirmCheckpoint(1, 7);
    const anchored = await h.requestRun([anchorStep({ position: 1 })]);
    const s3 = await h.waitForEnd(anchored.runId);
    expect(s3.status).toBe('succeeded');
    expect(s3.stepStates.anchor?.output).toEqual({
      position: 1,
      checkpointId: 'cp-1',
      fromPosition: 1,
      toPosition: head,
      merkleRoot: expect.stringMatching(/^[0-9a-f]{64}$/),
      chainId: 31337,
      blockNumber: 7,
      transactionHash: txHash(7),
    });
  });

  it('by default waits for the commit that started it, and completes once the anchor service anchors it', async () => {
    const previousEnd = (await h.store.readAll({ after: 0, limit: 10_000, aggregateType: 'auditCheckpoint' }))
      .flatMap((c) => c.events)
      .filter((e) => e.type === 'AuditCheckpointAnchored')
      .map((e) => (e.data as { toPosition: number }).toPosition)
      .reduce((a, b) => Math.max(a, b), 0);
    const { runId } = await h.requestRun([anchorStep(undefined, 50)]);
    // The step is waiting: at least one attempt has said "not anchored yet".
    await expect
      .poll(
        async () => (await h.runEvents(runId)).some((e) => JSON.stringify(e.event.data).includes('not anchored yet')),
        {
          timeout: 15_000,
        },
      )
      .toBe(true);
    // The first attempt's start: every retry waits for that same position.
    const started = (await h.runEvents(runId)).find((e) => e.event.type === 'WorkflowStepStarted')!.commit.position;
    const head = await h.store.headPosition();
    await recordCheckpoint(previousEnd + 1, head);
    await confirmCheckpoint(previousEnd + 1, 9);
    const state = await h.waitForEnd(runId);
    expect(state.status).toBe('succeeded');
    expect(state.stepStates.anchor?.output).toMatchObject({
      position: started,
      checkpointId: `cp-${previousEnd + 1}`,
      fromPosition: previousEnd + 1,
      toPosition: head,
      blockNumber: 9,
      transactionHash: txHash(9),
    });
    expect(started).toBeGreaterThan(previousEnd);
    expect(started).toBeLessThanOrEqual(head);
  });
});
