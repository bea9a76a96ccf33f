import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { createEventStore, type EventStore } from '@lightdom/events';
import { createNatsTestEnv, type FakeOllama, type NatsTestEnv, startFakeOllama, testServers } from '@lightdom/testkit';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AiWorkerService, loadAiWorkerConfig, startAiWorkerService } from '../src/index.js';

let env: NatsTestEnv;
let store: EventStore;
let fake: FakeOllama;
const logLines: string[] = [];
const logger = pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) });
const running: AiWorkerService[] = [];

const start = async (ollamaUrl: string) => {
  const config = loadAiWorkerConfig({
    NATS_URL: testServers.natsUrl,
    EVENTS_STREAM: env.stream,
    EVENTS_SUBJECT_PREFIX: env.subjectPrefix,
    OLLAMA_URL: ollamaUrl,
    HOST: '127.0.0.1',
    PORT: '0',
  });
  const service = await startAiWorkerService(config, logger);
  running.push(service);
  return service;
};

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const appendTask = (correlationId: string) =>
  store.append({
    aggregateType: 'aiTask',
    aggregateId: randomUUID(),
    expectedPosition: 0,
    expectedVersion: 0,
    prevHash: null,
    events: [{ type: 'AiTaskRequested', schemaVersion: 1, data: { model: 'deepseek-r1:7b', prompt: 'hi' } }],
    metadata: {
      correlationId,
      causationId: correlationId,
      actor: 'tester',
      timestamp: new Date().toISOString(),
      commandType: 'RequestAiTask',
      commandFingerprint: 'f',
    },
  });

async function counter(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith('lightdom_ai_worker_events_total{') && l.includes('type="AiTaskRequested"'));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

beforeAll(async () => {
  env = await createNatsTestEnv('aiworker');
  store = createEventStore({ nc: env.nc }, { stream: env.stream, subjectPrefix: env.subjectPrefix });
  fake = await startFakeOllama();
});
afterAll(async () => {
  for (const s of running) await s.stop().catch(() => undefined);
  await fake?.close();
  await env?.cleanup();
});

describe('ai-worker service', () => {
  it('starts while Ollama is down and reports it on /ready', async () => {
    const port = await closedPort();
    const service = await start(`http://127.0.0.1:${port}`);
    expect((await fetch(`${service.url}/health`)).status).toBe(200);
    const ready = await fetch(`${service.url}/ready`);
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
      service = await start(fake.url);
    });

    it('is ready, with a durable explicit-ack consumer on AI task subjects', async () => {
      const ready = await fetch(`${service.url}/ready`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ checks: { nats: 'ok', consumer: 'ok', ollama: 'ok' } });
      expect(fake.requests.some((r) => r.path === '/api/tags')).toBe(true);
      const info = await env.jsm.consumers.info(env.stream, 'ai-worker');
      expect(info.config).toMatchObject({ ack_policy: 'explicit', filter_subject: `${env.subjectPrefix}.aiTask.*` });
      expect(await (await fetch(`${service.url}/metrics`)).text()).toContain(
        '# TYPE lightdom_ai_worker_events_total counter',
      );
    });

    it('counts and acknowledges an AI task commit, logging its correlation id', async () => {
      const correlationId = randomUUID();
      const before = await counter(service.url);
      const { commit } = await appendTask(correlationId);
      await expect.poll(() => counter(service.url)).toBe(before + 1);
      await expect
        .poll(async () => (await env.jsm.consumers.info(env.stream, 'ai-worker')).ack_floor.stream_seq)
        .toBeGreaterThanOrEqual(commit.position);
      expect(logLines.some((l) => l.includes(correlationId) && l.includes(commit.commitId))).toBe(true);
    });
  });
});
