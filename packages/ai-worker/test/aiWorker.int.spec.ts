import { createServer } from 'node:net';
import { type FakeOllama, startFakeOllama } from '@lightdom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AiWorkerService } from '../src/index.js';
import {
  type AiTestbed,
  cancelTask,
  createAiTestbed,
  requestTask,
  taskHistory,
  typesOf,
  waitForEvent,
  waitForOutcome,
  workerToken,
} from './support.js';

let bed: AiTestbed;
let fake: FakeOllama;

const longAnswer = Array.from({ length: 300 }, (_, i) => `word${i}`).join(' ');

beforeAll(async () => {
  bed = await createAiTestbed('aiworker');
  fake = await startFakeOllama({
    models: ['deepseek-r1:7b', 'deepseek-r1:1.5b'],
    reply: ({ prompt }) =>
      prompt.startsWith('slow')
        ? `<think>Taking my time.</think>\n\n${longAnswer}`
        : `<think>The user asked: ${prompt}</think>\n\nThis is a fake answer to: ${prompt}`,
    chunkDelayMs: ({ prompt }) => (prompt.startsWith('slow') ? 30 : 0),
  });
});
afterAll(async () => {
  await bed?.close();
  await fake?.close();
});

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const metric = async (url: string, name: string, labels = '') => {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.split(' ').at(-1)) : 0;
};

/** /ready shows its details to the registry's token holders only. */
const asTokenHolder = { headers: { authorization: `Bearer ${workerToken}` } };

describe('ai-worker service', () => {
  it('starts while Ollama is down and reports it on /ready', async () => {
    const port = await closedPort();
    const service = await bed.startWorker(`http://127.0.0.1:${port}`);
    expect((await fetch(`${service.url}/health`)).status).toBe(200);
    const ready = await fetch(`${service.url}/ready`, asTokenHolder);
    expect(ready.status).toBe(503);
    const body = (await ready.json()) as { checks: Record<string, string> };
    expect(body.checks.nats).toBe('ok');
    expect(body.checks.ollama).toContain(`127.0.0.1:${port}`);
    expect(body.checks.ollama).toContain('ECONNREFUSED');
    await service.stop();
  });

  describe('with Ollama answering', () => {
    let service: AiWorkerService;
    beforeAll(async () => {
      service = await bed.startWorker(fake.url, { AI_WORKER_ID: 'worker-a' });
    });

    it('is ready, with a durable explicit-ack consumer on AI task subjects', async () => {
      expect(await (await fetch(`${service.url}/ready`)).json()).toEqual({ status: 'ready' });
      const ready = await fetch(`${service.url}/ready`, asTokenHolder);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ checks: { nats: 'ok', consumer: 'ok', ollama: 'ok' } });
      const info = await bed.env.jsm.consumers.info(bed.env.stream, 'ai-worker');
      expect(info.config).toMatchObject({
        ack_policy: 'explicit',
        filter_subject: `${bed.env.subjectPrefix}.aiTask.*`,
      });
      const metrics = await (await fetch(`${service.url}/metrics`)).text();
      for (const name of [
        'lightdom_ai_worker_tasks_started_total counter',
        'lightdom_ai_worker_tasks_completed_total counter',
        'lightdom_ai_worker_tasks_failed_total counter',
        'lightdom_ai_worker_task_duration_seconds histogram',
        'lightdom_ai_worker_tokens_total counter',
        'lightdom_ai_worker_tasks_in_flight gauge',
      ]) {
        expect(metrics).toContain(`# TYPE ${name}`);
      }
    });

    it('runs a prompt: started, progress, completed with the reasoning apart and the token counts', async () => {
      const { taskId, correlationId } = await requestTask(bed, {
        model: 'deepseek-r1:7b',
        prompt: 'What is 2+2?',
        options: { temperature: 0.2 },
      });
      const history = await waitForOutcome(bed, taskId);
      expect(typesOf(history)[0]).toBe('AiTaskRequested');
      expect(typesOf(history)[1]).toBe('AiTaskStarted');
      expect(typesOf(history).at(-1)).toBe('AiTaskCompleted');
      expect(typesOf(history).filter((t) => t === 'AiTaskProgressed').length).toBeGreaterThanOrEqual(1);
      const [requested, started] = history;
      expect(started!.data).toMatchObject({ workerId: 'worker-a', attempt: 1 });
      const progressed = history.filter((e) => e.type === 'AiTaskProgressed');
      expect(progressed[0]!.data.partialText.startsWith('<think>')).toBe(true);
      expect(history.at(-1)!.data).toMatchObject({
        text: 'This is a fake answer to: What is 2+2?',
        reasoning: 'The user asked: What is 2+2?',
        promptTokens: 3,
        completionTokens: 15,
        durationMs: 1,
        attempt: 1,
      });
      // Every command the worker issued belongs to the request's correlation and names the request as its cause.
      for (const e of history.slice(1)) {
        expect(e.commit).toMatchObject({ correlationId, causationId: requested!.id, actor: 'ai-worker' });
      }
      const body = fake.requests.find((r) => (r.body as { prompt?: string })?.prompt === 'What is 2+2?')?.body;
      expect(body).toMatchObject({ model: 'deepseek-r1:7b', stream: true, options: { temperature: 0.2 } });
      expect(bed.logLines.some((l) => l.includes(correlationId) && l.includes(taskId) && l.includes('completed'))).toBe(
        true,
      );
      await expect.poll(() => metric(service.url, 'lightdom_ai_worker_tasks_completed_total')).toBeGreaterThan(0);
      expect(await metric(service.url, 'lightdom_ai_worker_tokens_total', 'kind="completion"')).toBeGreaterThan(0);
    });

    it('runs a chat, taking the reasoning from the thinking stream when asked to think', async () => {
      const messages = [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Name a colour.' },
      ];
      const { taskId } = await requestTask(bed, {
        model: 'deepseek-r1:1.5b',
        messages,
        options: { think: true, num_ctx: 4096 },
      });
      const history = await waitForOutcome(bed, taskId);
      expect(history.at(-1)!.data).toMatchObject({
        text: 'This is a fake answer to: Name a colour.',
        reasoning: 'The user asked: Name a colour.',
      });
      const body = fake.requests.find((r) => (r.body as { messages?: unknown })?.messages)?.body;
      expect(body).toEqual({
        model: 'deepseek-r1:1.5b',
        messages,
        think: true,
        options: { num_ctx: 4096 },
        stream: true,
      });
    });

    it('fails a task for an unknown model without retrying', async () => {
      const { taskId } = await requestTask(bed, { model: 'no-such-model', prompt: 'hello' });
      const history = await waitForOutcome(bed, taskId);
      expect(typesOf(history)).toEqual(['AiTaskRequested', 'AiTaskStarted', 'AiTaskFailed']);
      expect(history.at(-1)!.data).toMatchObject({ retryable: false, willRetry: false, attempt: 1 });
      expect(history.at(-1)!.data.error).toMatch(/404.*not found/);
    });

    it('stops the stream when the task is cancelled, and records nothing more', async () => {
      const { taskId } = await requestTask(bed, { model: 'deepseek-r1:7b', prompt: 'slow please' });
      await waitForEvent(bed, taskId, 'AiTaskProgressed');
      await cancelTask(bed, taskId);
      await expect
        .poll(() => fake.requests.find((r) => (r.body as { prompt?: string })?.prompt === 'slow please')?.outcome, {
          timeout: 10_000,
        })
        .toBe('aborted');
      await expect.poll(() => service.worker.running(), { timeout: 10_000 }).toEqual([]);
      const history = await taskHistory(bed, taskId);
      expect(typesOf(history).at(-1)).toBe('AiTaskCancelled');
      expect(typesOf(history)).not.toContain('AiTaskCompleted');
      expect(typesOf(history)).not.toContain('AiTaskFailed');
      expect(await metric(service.url, 'lightdom_ai_worker_tasks_cancelled_total', 'outcome="cancelled"')).toBe(1);
    });

    it('acknowledges every commit it was handed', async () => {
      await expect
        .poll(async () => (await bed.env.jsm.consumers.info(bed.env.stream, 'ai-worker')).num_ack_pending, {
          timeout: 10_000,
        })
        .toBe(0);
    });

    it('hands a running task back when it stops: failed retryable, back to requested', async () => {
      const { taskId } = await requestTask(bed, { model: 'deepseek-r1:7b', prompt: 'slow again' });
      await waitForEvent(bed, taskId, 'AiTaskProgressed');
      await service.stop();
      const history = await taskHistory(bed, taskId);
      expect(history.at(-1)).toMatchObject({
        type: 'AiTaskFailed',
        data: {
          attempt: 1,
          retryable: true,
          willRetry: true,
          error: 'worker worker-a stopped before finishing the attempt',
        },
      });
      expect(service.worker.running()).toEqual([]);
    });
  });
});
