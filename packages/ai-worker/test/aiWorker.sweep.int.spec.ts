import { ensureDurableConsumer, typeSubject } from '@lightdom/eventstore';
import { type FakeOllama, startFakeOllama } from '@lightdom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AiTestbed, createAiTestbed, requestTask, taskHistory, typesOf, waitForOutcome } from './support.js';

// The task sweep (docs/ai-worker.md, "Tasks no delivery reached"): a request the durable
// consumer will never deliver again is still run, once.
let bed: AiTestbed;
let fake: FakeOllama;
const ackWaitMs = 1500;

beforeAll(async () => {
  bed = await createAiTestbed('aiworkersweep');
  fake = await startFakeOllama({ reply: ({ prompt }) => `answer to ${prompt}` });
});
afterAll(async () => {
  await bed?.close();
  await fake?.close();
});

/**
 * What nats-server < 2.11 can do after a consumer leader change: the floor moves past a
 * delivered, unacknowledged message. Here the workers' durable has every message up to
 * `position` acknowledged by hand, so no worker is ever given them.
 */
async function loseDeliveriesUpTo(durable: string, position: number) {
  const jsm = await bed.env.nc.jetstreamManager();
  await ensureDurableConsumer(jsm, {
    stream: bed.env.stream,
    durable,
    filterSubject: typeSubject(bed.env.subjectPrefix, 'aiTask'),
    ackWaitMs,
  });
  const consumer = await bed.env.nc.jetstream().consumers.get(bed.env.stream, durable);
  for (;;) {
    const msg = await consumer.next({ expires: 5000 });
    if (!msg) throw new Error('no delivery');
    await msg.ackAck();
    if (msg.seq >= position) break;
  }
  const info = await jsm.consumers.info(bed.env.stream, durable);
  expect(info.num_pending + info.num_ack_pending).toBe(0);
}

describe('the task sweep', () => {
  it('leaves a task whose delivery was lost requested when it is off (the failure it guards against)', async () => {
    const durable = 'ai-sweep-off';
    const { taskId } = await requestTask(bed, { model: 'deepseek-r1:7b', prompt: 'never delivered' });
    const position = (await bed.store.lastCommit('aiTask', taskId))!.position;
    await loseDeliveriesUpTo(durable, position);
    const worker = await bed.startWorker(fake.url, {
      AI_WORKER_DURABLE: durable,
      AI_WORKER_ACK_WAIT_MS: String(ackWaitMs),
      AI_WORKER_SWEEP_MS: '0',
    });
    try {
      // Two ack waits: a redelivery, had there been one to make, would have come.
      await new Promise((r) => setTimeout(r, 2 * ackWaitMs + 500));
      expect(typesOf(await taskHistory(bed, taskId))).toEqual(['AiTaskRequested']);
    } finally {
      await worker.stop();
    }
  });

  it('runs a task whose delivery was lost, once, and says so in its log', async () => {
    const durable = 'ai-sweep-on';
    const { taskId } = await requestTask(bed, { model: 'deepseek-r1:7b', prompt: 'lost' });
    const position = (await bed.store.lastCommit('aiTask', taskId))!.position;
    await loseDeliveriesUpTo(durable, position);
    const worker = await bed.startWorker(fake.url, {
      AI_WORKER_DURABLE: durable,
      AI_WORKER_ACK_WAIT_MS: String(ackWaitMs),
      AI_WORKER_SWEEP_MS: '200',
      AI_WORKER_SWEEP_IDLE_MS: '1000',
    });
    try {
      const history = await waitForOutcome(bed, taskId, 30_000);
      expect(history.at(-1)).toMatchObject({ type: 'AiTaskCompleted', data: { attempt: 1 } });
      expect(history.filter((e) => e.type === 'AiTaskStarted')).toHaveLength(1);
      expect(bed.logLines.some((l) => l.includes('issued it from the sweep') && l.includes(taskId))).toBe(true);
    } finally {
      await worker.stop();
    }
  });
});
