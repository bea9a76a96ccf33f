import { randomUUID } from 'node:crypto';
import {
  createCommandHandler,
  createEventStore,
  createKvIdempotencyStore,
  type EventStore,
} from '@lightdom/eventstore';
import { createNatsTestEnv, type NatsTestEnv, testServers } from '@lightdom/testkit';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ExecutorService, loadExecutorConfig, startExecutorService } from '../src/index.js';
import { settleTimeout } from './support/harness.js';

let env: NatsTestEnv;
let store: EventStore;
let commands: ReturnType<typeof createCommandHandler>;
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
    IDEMPOTENCY_BUCKET: env.kvBucket,
    API_TOKENS: 'exec-svc-token:executor-svc:service,ops-token:ops:reader',
    SERVICE_TOKEN: 'exec-svc-token',
  });
  const service = await startExecutorService(config, logger);
  running.push(service);
  return service;
};

/** A one-step run that the executor finishes on its own (a 1 ms delay). */
async function requestRun(correlationId: string) {
  const r = await commands.handle(
    {
      type: 'RequestWorkflowRun',
      data: { workflowId: 'w1', definitionVersion: 1, steps: [{ id: 'tick', type: 'delay', input: { ms: 1 } }] },
    },
    { actor: 'tester', correlationId, causationId: correlationId },
  );
  return r.id;
}

const runStatus = async (runId: string) => {
  const events = (await store.readAggregate('workflowRun', runId)).flatMap((c) => c.events.map((e) => e.type));
  return events.includes('WorkflowRunSucceeded') ? 'succeeded' : events.at(-1);
};

async function metric(url: string, name: string, label: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(label));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

beforeAll(async () => {
  env = await createNatsTestEnv('executor');
  store = createEventStore({ nc: env.nc }, { stream: env.stream, subjectPrefix: env.subjectPrefix });
  await store.ensureStream();
  const idempotency = await createKvIdempotencyStore(env.nc.jetstream(), { bucket: env.kvBucket, ttlMs: 60_000 });
  commands = createCommandHandler({ store, idempotency });
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

  it('creates the event stream and durable explicit-ack consumers for workflow runs and AI tasks', async () => {
    const runs = await env.jsm.consumers.info(env.stream, 'executor');
    expect(runs.config).toMatchObject({
      durable_name: 'executor',
      ack_policy: 'explicit',
      filter_subject: `${env.subjectPrefix}.workflowRun.*`,
      max_ack_pending: 10_000,
    });
    const ai = await env.jsm.consumers.info(env.stream, 'executor-ai-tasks');
    expect(ai.config).toMatchObject({ ack_policy: 'explicit', filter_subject: `${env.subjectPrefix}.aiTask.*` });
    expect((await env.jsm.streams.info(env.stream)).config.deny_delete).toBe(true);
  });

  it("answers /health, /ready (its details to the registry's token holders) and /metrics", async () => {
    expect((await fetch(`${service.url}/health`)).status).toBe(200);
    const anonymous = await fetch(`${service.url}/ready`);
    expect(anonymous.status).toBe(200);
    expect(await anonymous.json()).toEqual({ status: 'ready' });
    const ready = await fetch(`${service.url}/ready`, { headers: { authorization: 'Bearer ops-token' } });
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: { nats: 'ok', consumer: 'ok' } });
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    for (const name of [
      'lightdom_executor_events_total counter',
      'lightdom_executor_runs_total counter',
      'lightdom_executor_steps_total counter',
      'lightdom_executor_step_duration_seconds histogram',
      'lightdom_executor_active_timers gauge',
    ]) {
      expect(metrics).toContain(`# TYPE ${name}`);
    }
  });

  it('runs a workflow to the end, logging with the correlation and run ids', async () => {
    const correlationId = randomUUID();
    const runId = await requestRun(correlationId);
    await expect.poll(() => runStatus(runId), settleTimeout).toBe('succeeded');
    expect(await metric(service.url, 'lightdom_executor_runs_total', 'outcome="succeeded"')).toBe(1);
    expect(await metric(service.url, 'lightdom_executor_events_total', 'type="WorkflowRunRequested"')).toBe(1);
    const lines = logLines.filter((l) => l.includes(correlationId)).map((l) => JSON.parse(l));
    expect(lines.find((l) => l.command === 'StartWorkflowStep')).toMatchObject({ runId, stepId: 'tick' });
    // Recorded as the actor its SERVICE_TOKEN names.
    const commits = await store.readAggregate('workflowRun', runId);
    expect(commits.slice(1).map((c) => c.actor)).toEqual(commits.slice(1).map(() => 'executor-svc'));
  });

  it('terminates messages that are not commits and ignores other aggregate types', async () => {
    await env.nc.jetstream().publish(`${env.subjectPrefix}.campaign.c1`, new TextEncoder().encode('{}'));
    const ack = await env.nc.jetstream().publish(`${env.subjectPrefix}.workflowRun.bad`, new TextEncoder().encode('x'));
    const ackFloor = async () => (await env.jsm.consumers.info(env.stream, 'executor')).ack_floor.stream_seq;
    await expect.poll(ackFloor, settleTimeout).toBe(ack.seq);
    expect(await metric(service.url, 'lightdom_executor_undecodable_messages_total', 'service')).toBe(1);
  });

  it('finishes runs requested while it was stopped', async () => {
    await service.stop();
    const runId = await requestRun(randomUUID());
    await start();
    await expect.poll(() => runStatus(runId), settleTimeout).toBe('succeeded');
  });
});
