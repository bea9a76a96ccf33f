import { type FakeOllama, type ServiceProcess, spawnService, startFakeOllama } from '@lightdom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AiWorkerService } from '../src/index.js';
import { type AiTestbed, createAiTestbed, requestTask, taskHistory, waitForEvent, waitForOutcome } from './support.js';

// Several workers on one stream: competing for tasks, and one dying in the middle of a task.
let bed: AiTestbed;
let fake: FakeOllama;
let slow = true;
let child: ServiceProcess | undefined;
const ackWait = { AI_WORKER_ACK_WAIT_MS: '1500' };

beforeAll(async () => {
  bed = await createAiTestbed('aiworkercompete');
  fake = await startFakeOllama({
    chunkDelayMs: ({ prompt }) => (prompt.startsWith('long') && slow ? 100 : prompt.startsWith('medium') ? 30 : 5),
    reply: ({ prompt }) => `<think>thinking about ${prompt}</think>\n\n${'lorem ipsum '.repeat(40)}${prompt}`,
  });
});
afterAll(async () => {
  await child?.kill();
  await bed?.close();
  await fake?.close();
});

describe('competing ai-workers', () => {
  let workers: AiWorkerService[] = [];

  it('start each task exactly once, whether they share the durable consumer or not', async () => {
    workers = [
      await bed.startWorker(fake.url, { ...ackWait, AI_WORKER_ID: 'w1' }),
      await bed.startWorker(fake.url, { ...ackWait, AI_WORKER_ID: 'w2' }),
      // Its own durable: it sees every task too, so only the claim at the request's version keeps it out.
      await bed.startWorker(fake.url, { ...ackWait, AI_WORKER_ID: 'w3', AI_WORKER_DURABLE: 'ai-worker-other' }),
    ];
    try {
      const tasks = await Promise.all(
        Array.from({ length: 8 }, (_, i) => requestTask(bed, { model: 'deepseek-r1:7b', prompt: `task ${i}` })),
      );
      for (const { taskId } of tasks) {
        const history = await waitForOutcome(bed, taskId);
        const starts = history.filter((e) => e.type === 'AiTaskStarted');
        expect(starts, `starts of ${taskId}`).toHaveLength(1);
        expect(history.at(-1)).toMatchObject({ type: 'AiTaskCompleted', data: { attempt: 1 } });
      }
    } finally {
      for (const w of workers) await w.stop();
    }
  });

  it('finish the task of a worker killed in the middle of it', async () => {
    child = spawnService('ai-worker', bed.workerEnv(fake.url, { ...ackWait, AI_WORKER_ID: 'doomed' }));
    await child.waitForLine(/ai-worker listening/);
    const { taskId } = await requestTask(bed, { model: 'deepseek-r1:7b', prompt: 'long story' });
    await waitForEvent(bed, taskId, 'AiTaskProgressed');
    await child.kill('SIGKILL');
    slow = false;

    await bed.startWorker(fake.url, { ...ackWait, AI_WORKER_ID: 'rescuer' });
    const history = await waitForOutcome(bed, taskId, 20_000);
    const lifecycle = history.filter((e) => e.type !== 'AiTaskProgressed');
    expect(lifecycle.map((e) => [e.type, e.data.workerId ?? e.data.willRetry ?? null])).toEqual([
      ['AiTaskRequested', null],
      ['AiTaskStarted', 'doomed'],
      ['AiTaskFailed', true],
      ['AiTaskStarted', 'rescuer'],
      ['AiTaskCompleted', null],
    ]);
    expect(lifecycle[2]!.data.error).toMatch(/abandoned.*doomed/);
    expect(lifecycle[4]!.data).toMatchObject({ attempt: 2, text: expect.stringContaining('long story') });
    expect((await taskHistory(bed, taskId)).at(-1)?.type).toBe('AiTaskCompleted');
  });

  it('leave a task alone while the worker that claimed it still runs it', async () => {
    const { taskId } = await requestTask(bed, { model: 'deepseek-r1:7b', prompt: 'medium story' });
    await waitForEvent(bed, taskId, 'AiTaskProgressed');
    // A new durable replays the log from the start: it sees this task's request and finds it claimed.
    await bed.startWorker(fake.url, { ...ackWait, AI_WORKER_ID: 'latecomer', AI_WORKER_DURABLE: 'ai-worker-late' });
    await expect
      .poll(() => bed.logLines.some((l) => l.includes(taskId) && l.includes('still runs it')), { timeout: 10_000 })
      .toBe(true);
    const history = await waitForOutcome(bed, taskId);
    expect(history.filter((e) => e.type !== 'AiTaskProgressed').map((e) => e.type)).toEqual([
      'AiTaskRequested',
      'AiTaskStarted',
      'AiTaskCompleted',
    ]);
    expect(history[1]!.data.workerId).toBe('rescuer');
  });
});
