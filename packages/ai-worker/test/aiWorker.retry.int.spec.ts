import { type FakeOllama, startFakeOllama } from '@lightdom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AiWorkerService } from '../src/index.js';
import { type AiTestbed, createAiTestbed, requestTask, typesOf, waitForEvent, waitForOutcome } from './support.js';

// Failures and retries; one worker whose Ollama is a fake that can go away and come back.
let bed: AiTestbed;
let fake: FakeOllama | undefined;
let port: number;
let service: AiWorkerService;
const served = new Map<string, number>();

const startFake = async () =>
  startFakeOllama({
    port,
    // `flaky …` prompts break on their first request only; `broken …` ones always.
    fault: ({ prompt }) => {
      const n = served.get(prompt) ?? 0;
      served.set(prompt, n + 1);
      if (prompt.startsWith('flaky') && n === 0) return 'close';
      if (prompt.startsWith('broken')) return 'error';
      return undefined;
    },
    firstChunkDelayMs: ({ prompt }) => (prompt.startsWith('stall') ? 20_000 : 0),
  });

beforeAll(async () => {
  bed = await createAiTestbed('aiworkerretry');
  fake = await startFakeOllama();
  port = fake.port;
  await fake.close();
  fake = await startFake();
  service = await bed.startWorker(fake.url, { AI_TASK_TIMEOUT_MS: '1500', AI_RETRY_DELAY_MS: '300' });
});
afterAll(async () => {
  await bed?.close();
  await fake?.close();
});

const attempts = (history: { type: string; data: { attempt?: number } }[], type: string) =>
  history.filter((e) => e.type === type).map((e) => e.data.attempt);

describe('ai-worker failures and retries', () => {
  it('fails retryable while Ollama is down, and completes on a later attempt once it is back', async () => {
    await fake?.close();
    fake = undefined;
    const { taskId } = await requestTask(bed, { model: 'deepseek-r1:7b', prompt: 'are you there?', maxAttempts: 5 });
    const failed = await waitForEvent(bed, taskId, 'AiTaskFailed');
    fake = await startFake();
    expect(failed.find((e) => e.type === 'AiTaskFailed')!.data).toMatchObject({
      attempt: 1,
      retryable: true,
      willRetry: true,
      error: expect.stringContaining('ECONNREFUSED'),
    });
    const history = await waitForOutcome(bed, taskId);
    expect(typesOf(history).at(-1)).toBe('AiTaskCompleted');
    // One start per attempt, every failure but the last attempt's, and the retries waited their turn.
    const starts = attempts(history, 'AiTaskStarted');
    expect(starts).toEqual(starts.map((_, i) => i + 1));
    expect(attempts(history, 'AiTaskFailed')).toEqual(starts.slice(0, -1));
    expect(history.at(-1)!.data.attempt).toBe(starts.length);
    const failedAt = Date.parse(history.find((e) => e.type === 'AiTaskFailed')!.commit.timestamp);
    const restartedAt = Date.parse(history.filter((e) => e.type === 'AiTaskStarted')[1]!.commit.timestamp);
    expect(restartedAt - failedAt).toBeGreaterThanOrEqual(300);
  });

  it('retries a stream that broke off, and completes', async () => {
    const { taskId } = await requestTask(bed, { model: 'deepseek-r1:7b', prompt: 'flaky one' });
    const history = await waitForOutcome(bed, taskId);
    expect(typesOf(history)).toContain('AiTaskFailed');
    expect(history.find((e) => e.type === 'AiTaskFailed')!.data).toMatchObject({ retryable: true, willRetry: true });
    expect(history.at(-1)).toMatchObject({ type: 'AiTaskCompleted', data: { attempt: 2 } });
  });

  it('fails for good when an error in the stream outlasts the attempts', async () => {
    const { taskId } = await requestTask(bed, { model: 'deepseek-r1:7b', prompt: 'broken one', maxAttempts: 2 });
    const history = await waitForOutcome(bed, taskId);
    expect(history.filter((e) => e.type === 'AiTaskFailed').map((e) => e.data)).toMatchObject([
      { attempt: 1, retryable: true, willRetry: true, error: expect.stringContaining('unexpected EOF') },
      { attempt: 2, retryable: true, willRetry: false },
    ]);
  });

  it('aborts an attempt that outlives the task timeout, even before Ollama answers', async () => {
    const { taskId } = await requestTask(bed, { model: 'deepseek-r1:7b', prompt: 'stall forever', maxAttempts: 1 });
    const history = await waitForOutcome(bed, taskId);
    expect(history.at(-1)).toMatchObject({
      type: 'AiTaskFailed',
      data: { retryable: true, willRetry: false, error: 'timed out after 1500 ms' },
    });
    await expect
      .poll(() => fake?.requests.find((r) => (r.body as { prompt?: string })?.prompt === 'stall forever')?.outcome)
      .toBe('aborted');
    expect(service.worker.running()).toEqual([]);
  });
});
