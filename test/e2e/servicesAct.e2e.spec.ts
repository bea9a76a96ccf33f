import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { type Application, createApplication } from '@lightdom/app';
import { type Identity, type StoredCommit, upcastEvent } from '@lightdom/domain';
import {
  createCommandHandler,
  createEventStore,
  createKvIdempotencyStore,
  type EventStore,
} from '@lightdom/eventstore';
import { tokenRegistryFrom } from '@lightdom/runtime';
import {
  createNatsTestEnv,
  type FakeOllama,
  type NatsTestEnv,
  type ServiceProcess,
  spawnService,
  startFakeOllama,
  testServers,
} from '@lightdom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The executor and the AI worker as real processes with service tokens of their own, the
// requester's commands through the application core, and a fake Ollama.
const API_TOKENS = 'op-e2e-token:olivia:operator,exec-e2e-token:executor-e2e:service,ai-e2e-token:ai-e2e:service';

let env: NatsTestEnv;
let store: EventStore;
let app: Application;
let fake: FakeOllama;
const processes: ServiceProcess[] = [];

const serviceEnv = (extra: Record<string, string>) => ({
  NATS_URL: testServers.natsUrl,
  EVENTS_STREAM: env.stream,
  EVENTS_SUBJECT_PREFIX: env.subjectPrefix,
  IDEMPOTENCY_BUCKET: env.kvBucket,
  HOST: '127.0.0.1',
  PORT: '0',
  API_TOKENS,
  ...extra,
});

const spawn = (name: 'executor' | 'ai-worker', extra: Record<string, string>) => {
  const child = spawnService(name, serviceEnv(extra));
  processes.push(child);
  return child;
};

beforeAll(async () => {
  env = await createNatsTestEnv('svce2e');
  store = createEventStore(
    { nc: env.nc },
    { stream: env.stream, subjectPrefix: env.subjectPrefix, upcast: upcastEvent },
  );
  await store.ensureStream();
  const idempotency = await createKvIdempotencyStore(env.nc.jetstream(), { bucket: env.kvBucket, ttlMs: 60_000 });
  const commands = createCommandHandler({ store, idempotency });
  app = createApplication({ commands, store, tokens: tokenRegistryFrom({ API_TOKENS, AUTH: 'on' }) });
  fake = await startFakeOllama({ reply: ({ prompt }) => `<think>pondering</think>\n\nA slogan for ${prompt}` });
});
afterAll(async () => {
  for (const p of processes) await p.kill('SIGTERM').catch(() => undefined);
  await fake?.close();
  await env?.cleanup();
});

let seq = 0;
const submit = (identity: Identity, command: Record<string, unknown>) => {
  const id = `e2e-${++seq}`;
  return app.submit(identity, command, { correlationId: randomUUID(), causationId: id });
};

const runEvents = async (runId: string) =>
  (await store.readAggregate('workflowRun', runId)).flatMap((c) => c.events.map((e) => ({ commit: c, event: e })));

async function waitForRunEnd(runId: string): Promise<string> {
  let status = '';
  await expect
    .poll(
      async () => {
        const types = (await runEvents(runId)).map((e) => e.event.type);
        status = types.find((t) => /^WorkflowRun(Succeeded|Failed|Cancelled)$/.test(t)) ?? types.at(-1) ?? '';
        return status;
      },
      { timeout: 30_000, interval: 100 },
    )
    .toMatch(/^WorkflowRun(Succeeded|Failed|Cancelled)$/);
  return status;
}

describe('the executor and the AI worker act with service tokens', () => {
  it("run a workflow with an AI step and a campaign command, the step's commands acting for the requester", async () => {
    const executor = spawn('executor', { SERVICE_TOKEN: 'exec-e2e-token', EXECUTOR_DURABLE: `ex-${env.id}` });
    const worker = spawn('ai-worker', {
      SERVICE_TOKEN: 'ai-e2e-token',
      OLLAMA_URL: fake.url,
      AI_WORKER_DURABLE: `ai-${env.id}`,
      AI_WORKER_ID: 'ai-e2e-1',
    });
    await Promise.all([executor.waitForLine(/executor listening/), worker.waitForLine(/ai-worker listening/)]);

    const olivia = app.authenticate({ token: 'op-e2e-token' });
    expect(olivia).toEqual({ actor: 'olivia', role: 'operator' });
    const campaign = await submit(olivia, {
      type: 'CreateCampaign',
      data: { name: 'Autumn', budget: { amount: 500, currency: 'EUR' } },
    });
    const workflow = await submit(olivia, {
      type: 'DefineWorkflow',
      data: {
        name: 'slogan then launch',
        steps: [
          { id: 'slogan', type: 'ai.generate', input: { prompt: 'autumn shoes' }, timeoutMs: 20_000 },
          {
            id: 'launch',
            type: 'campaign.command',
            input: { type: 'LaunchCampaign', aggregateId: campaign.id, data: {} },
            dependsOn: ['slogan'],
          },
        ],
      },
    });
    const run = await submit(olivia, { type: 'RequestWorkflowRun', data: { workflowId: workflow.id, input: {} } });

    expect(await waitForRunEnd(run.id)).toBe('WorkflowRunSucceeded');
    const events = await runEvents(run.id);
    const succeeded = events.find((e) => e.event.type === 'WorkflowRunSucceeded')!;
    expect(succeeded.event.data).toEqual({
      outputs: { launch: { aggregateId: campaign.id, position: expect.any(Number), version: 2 } },
    });
    const sloganDone = events.find(
      (e) => e.event.type === 'WorkflowStepSucceeded' && (e.event.data as { stepId: string }).stepId === 'slogan',
    );
    expect(sloganDone?.event.data).toMatchObject({
      output: { text: 'A slogan for autumn shoes', reasoning: 'pondering' },
    });

    // The run was requested by olivia; everything after is the executor's own, with no `via`.
    expect(events[0]?.commit).toMatchObject({ actor: 'olivia' });
    for (const { commit } of events.slice(1)) {
      expect(commit.actor).toBe('executor-e2e');
      expect(commit.via).toBeUndefined();
    }

    // The campaign command acted for olivia, through the executor.
    const launched = (await store.readAggregate('campaign', campaign.id)).at(-1) as StoredCommit;
    expect(launched.events.map((e) => e.type)).toEqual(['CampaignLaunched']);
    expect(launched).toMatchObject({
      actor: 'olivia',
      via: 'executor-e2e',
      correlationId: events[0]?.commit.correlationId,
    });

    // The AI task: requested for olivia through the executor, worked and completed by the AI worker service.
    const [requested, ...worked] = await aiTaskOf(run.id);
    expect(requested).toMatchObject({ actor: 'olivia', via: 'executor-e2e' });
    expect(requested?.events[0]?.type).toBe('AiTaskRequested');
    expect(worked.flatMap((c) => c.events.map((e) => e.type))).toEqual(
      expect.arrayContaining(['AiTaskStarted', 'AiTaskCompleted']),
    );
    for (const c of worked) expect(c).toMatchObject({ actor: 'ai-e2e' });
    for (const c of worked) expect(c.via).toBeUndefined();
    expect(worked.at(-1)?.events.at(-1)?.type).toBe('AiTaskCompleted');
    expect(fake.requests.some((r) => r.outcome === 'done')).toBe(true);

    await Promise.all([executor.kill('SIGTERM'), worker.kill('SIGTERM')]);
  });

  it('refuse to start without a service token, or with one whose role is not service (AUTH on)', async () => {
    const cases = [
      { name: 'executor', extra: {}, message: "SERVICE_TOKEN: is required: the executor's own token" },
      {
        name: 'executor',
        extra: { SERVICE_TOKEN: 'op-e2e-token' },
        message: 'SERVICE_TOKEN: names olivia with role operator; the executor needs a token with role service',
      },
      {
        name: 'ai-worker',
        extra: { SERVICE_TOKEN: 'op-e2e-token', OLLAMA_URL: fake.url },
        message: 'SERVICE_TOKEN: names olivia with role operator; the ai-worker needs a token with role service',
      },
    ] as const;
    const before = (await env.jsm.streams.info(env.stream)).state.last_seq;
    for (const c of cases) {
      const child = spawn(c.name, c.extra);
      const [code] = (await once(child.child, 'exit')) as [number | null];
      expect(code, child.output()).toBe(2);
      expect(child.output()).toContain(c.message);
      expect(child.output()).not.toContain('op-e2e-token');
    }
    expect((await env.jsm.streams.info(env.stream)).state.last_seq).toBe(before);
  });
});

/** The AI task an ai.generate step of `runId` requested, found by its request's `workflowRunId`. */
async function aiTaskOf(runId: string): Promise<StoredCommit[]> {
  const all = await store.readAll({ after: 0, limit: 1000, aggregateType: 'aiTask' });
  const request = all.find((c) =>
    c.events.some(
      (e) => e.type === 'AiTaskRequested' && (e.data as { workflowRunId?: string }).workflowRunId === runId,
    ),
  );
  return request ? all.filter((c) => c.aggregateId === request.aggregateId) : [];
}
