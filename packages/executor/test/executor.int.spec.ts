import { randomUUID } from 'node:crypto';
import { createEventStore, type EventStore } from '@lightdom/events';
import { createNatsTestEnv, type NatsTestEnv, testServers } from '@lightdom/testkit';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ExecutorService, loadExecutorConfig, startExecutorService } from '../src/index.js';

let env: NatsTestEnv;
let store: EventStore;
const logLines: string[] = [];
const logger = pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) });
const running: ExecutorService[] = [];

const start = async () => {
  const config = loadExecutorConfig({
    NATS_URL: testServers.natsUrl,
    EVENTS_STREAM: env.stream,
    EVENTS_SUBJECT_PREFIX: env.subjectPrefix,
    HOST: '127.0.0.1',
    PORT: '0',
  });
  const service = await startExecutorService(config, logger);
  running.push(service);
  return service;
};

const appendRun = (correlationId: string) =>
  store.append({
    aggregateType: 'workflowRun',
    aggregateId: randomUUID(),
    expectedPosition: 0,
    expectedVersion: 0,
    prevHash: null,
    events: [{ type: 'WorkflowRunRequested', schemaVersion: 1, data: { workflowId: 'w1' } }],
    metadata: {
      correlationId,
      causationId: correlationId,
      actor: 'tester',
      timestamp: new Date().toISOString(),
      commandType: 'RequestWorkflowRun',
      commandFingerprint: 'f',
    },
  });

async function counter(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith('lightdom_executor_events_total{') && l.includes('type="WorkflowRunRequested"'));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

const ackFloor = async () => (await env.jsm.consumers.info(env.stream, 'executor')).ack_floor.stream_seq;

beforeAll(async () => {
  env = await createNatsTestEnv('executor');
  store = createEventStore({ nc: env.nc }, { stream: env.stream, subjectPrefix: env.subjectPrefix });
});
afterAll(async () => {
  for (const s of running) await s.stop().catch(() => undefined);
  await env?.cleanup();
});

describe('executor service', () => {
  let service: ExecutorService;
  beforeAll(async () => {
    service = await start();
  });

  it('creates the event stream and a durable explicit-ack consumer on workflow run subjects', async () => {
    const info = await env.jsm.consumers.info(env.stream, 'executor');
    expect(info.config).toMatchObject({
      durable_name: 'executor',
      ack_policy: 'explicit',
      filter_subject: `${env.subjectPrefix}.workflowRun.*`,
    });
    expect((await env.jsm.streams.info(env.stream)).config.deny_delete).toBe(true);
  });

  it('answers /health, /ready and /metrics', async () => {
    expect((await fetch(`${service.url}/health`)).status).toBe(200);
    const ready = await fetch(`${service.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: { nats: 'ok', consumer: 'ok' } });
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metrics).toContain('# TYPE lightdom_executor_events_total counter');
  });

  it('counts and acknowledges a workflow run commit, logging its correlation id', async () => {
    const correlationId = randomUUID();
    const before = await counter(service.url);
    const { commit } = await appendRun(correlationId);
    await expect.poll(() => counter(service.url)).toBe(before + 1);
    await expect.poll(ackFloor).toBeGreaterThanOrEqual(commit.position);
    const line = logLines.find((l) => l.includes(correlationId));
    expect(line && JSON.parse(line)).toMatchObject({ commitId: commit.commitId, position: commit.position });
  });

  it('ignores other aggregate types and terminates messages that are not commits', async () => {
    const before = await counter(service.url);
    await env.nc.jetstream().publish(`${env.subjectPrefix}.campaign.c1`, new TextEncoder().encode('{}'));
    const ack = await env.nc.jetstream().publish(`${env.subjectPrefix}.workflowRun.bad`, new TextEncoder().encode('x'));
    await expect.poll(ackFloor).toBe(ack.seq);
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metrics).toMatch(/lightdom_executor_undecodable_messages_total\{[^}]*\} 1/);
    expect(await counter(service.url)).toBe(before);
  });

  it('resumes after a restart without redelivering what it acknowledged', async () => {
    await service.stop();
    const { commit } = await appendRun(randomUUID());
    const restarted = await start();
    await expect.poll(() => counter(restarted.url)).toBe(1);
    await expect.poll(ackFloor).toBeGreaterThanOrEqual(commit.position);
  });
});
