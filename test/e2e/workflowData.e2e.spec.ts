import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type AiWorkerService, loadAiWorkerConfig, startAiWorkerService } from '@lightdom/ai-worker';
import { type WorkflowRunState, workflowRunDecider } from '@lightdom/domain';
import { createKvIdempotencyStore } from '@lightdom/eventstore';
import { createExecutor, type Executor, parseAllowList } from '@lightdom/executor';
import { createLogger, tokenRegistryFrom } from '@lightdom/runtime';
import { type FakeOllama, startFakeOllama, testServers } from '@lightdom/testkit';
import { connect, type NatsConnection } from 'nats';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type TestStack } from './stack.js';

// Issue 14 part A end to end: the command-api (REST), the executor and the AI worker
// in-process on a stream of their own, a fake Ollama and a loopback webhook.
const API_TOKENS = 'op-wfdata:olivia:operator,exec-wfdata:executor-wfdata:service,ai-wfdata:ai-wfdata:service';
const operator = { authorization: 'Bearer op-wfdata' };

let stack: TestStack;
let fake: FakeOllama;
let worker: AiWorkerService;
let executor: Executor;
let executorNc: NatsConnection;
let webhook: Server;
let webhookUrl: string;
const received: { body: unknown; idempotencyKey: string | undefined }[] = [];

beforeAll(async () => {
  stack = await startStack('wfdata', { tokens: API_TOKENS });
  fake = await startFakeOllama({ reply: ({ prompt }) => `<think>hm</think>\n\nBuy ${prompt.split(': ')[1]} today!` });
  webhook = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      received.push({ body: JSON.parse(body), idempotencyKey: req.headers['idempotency-key'] as string | undefined });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  webhook.listen(0, '127.0.0.1');
  await once(webhook, 'listening');
  webhookUrl = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/hook`;

  const { nats } = stack;
  worker = await startAiWorkerService(
    loadAiWorkerConfig({
      NATS_URL: testServers.natsUrl,
      EVENTS_STREAM: nats.stream,
      EVENTS_SUBJECT_PREFIX: nats.subjectPrefix,
      OLLAMA_URL: fake.url,
      HOST: '127.0.0.1',
      PORT: '0',
      API_TOKENS,
      SERVICE_TOKEN: 'ai-wfdata',
      AI_WORKER_DURABLE: `ai-${nats.id}`,
    }),
    createLogger('ai-worker', { level: 'silent' }),
  );
  executorNc = await connect({ servers: testServers.natsUrl });
  executor = createExecutor(
    {
      nc: executorNc,
      tokens: tokenRegistryFrom({ API_TOKENS, AUTH: 'on' }),
      identity: { actor: 'executor-wfdata', role: 'service' },
      logger: createLogger('executor', { level: 'silent' }),
      registry: new Registry(),
      idempotency: await createKvIdempotencyStore(executorNc.jetstream(), { bucket: nats.kvBucket }),
    },
    {
      stream: nats.stream,
      subjectPrefix: nats.subjectPrefix,
      durable: `ex-${nats.id}`,
      http: { defaultTimeoutMs: 5000, allow: parseAllowList('127.0.0.1').entries },
      waitEvent: { pollMs: 100 },
    },
  );
  await executor.start();
}, 60_000);

afterAll(async () => {
  await executor?.stop();
  await executorNc?.close();
  await worker?.stop();
  await fake?.close();
  webhook?.close();
  await stack?.stop();
});

const post = (url: string, payload: unknown) =>
  stack.api.app.inject({ method: 'POST', url, payload: payload as object, headers: operator });

async function runState(runId: string): Promise<WorkflowRunState> {
  let state = workflowRunDecider.initialState();
  for (const c of await stack.api.store.readAggregate('workflowRun', runId)) {
    for (const e of c.events) state = workflowRunDecider.evolve(state, e as never);
  }
  return state;
}

const approvalTimeoutMs = 4000;

/** Write an ad → post it to the webhook → wait for approval → launch the campaign → see it launched. */
const adSteps = () => [
  { id: 'copy', type: 'ai.generate', input: { prompt: 'Write an ad for: {{input.product}}' }, timeoutMs: 30_000 },
  {
    id: 'post',
    type: 'http.request',
    dependsOn: ['copy'],
    input: {
      url: webhookUrl,
      method: 'POST',
      body: { text: '{{steps.copy.output.text}}', campaign: '{{input.campaignId}}', note: 'ad for {{input.product}}' },
    },
  },
  {
    id: 'approval',
    type: 'wait.signal',
    dependsOn: ['post'],
    input: { name: 'approval' },
    timeoutMs: approvalTimeoutMs,
  },
  {
    id: 'launch',
    type: 'campaign.command',
    dependsOn: ['approval'],
    when: 'steps.approval.output.approved == true',
    input: { type: 'LaunchCampaign', aggregateId: '{{input.campaignId}}', data: {} },
  },
  {
    id: 'launched',
    type: 'wait.event',
    dependsOn: ['launch'],
    input: { aggregateType: 'campaign', aggregateId: '{{input.campaignId}}', eventType: 'CampaignLaunched' },
    timeoutMs: 10_000,
  },
];

async function newCampaign(name: string): Promise<string> {
  const res = await post('/api/campaigns', { name, budget: { amount: 100, currency: 'EUR' } });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().id as string;
}

describe('data between steps, waiting for a signal and an event', () => {
  let workflowId: string;

  beforeAll(async () => {
    const res = await post('/api/workflows', { name: 'Ad with approval', steps: adSteps() });
    expect(res.statusCode, res.body).toBe(201);
    workflowId = res.json().id;
  });

  it('posts the generated text to the webhook, waits for the approval signal over REST, and launches the campaign', async () => {
    const campaignId = await newCampaign('Spring sale');
    const start = await post(`/api/workflows/${workflowId}/runs`, { input: { product: 'tulips', campaignId } });
    expect(start.statusCode, start.body).toBe(201);
    const runId = start.json().id as string;

    // The webhook got the text the AI wrote, typed and interpolated.
    await expect.poll(() => received.length, { timeout: 30_000, interval: 100 }).toBeGreaterThan(0);
    expect(received[0]!.body).toEqual({ text: 'Buy tulips today!', campaign: campaignId, note: 'ad for tulips' });
    const posted = (await runState(runId)).stepStates.post!;
    expect(posted.input).toMatchObject({ body: { text: 'Buy tulips today!' } });

    // The run waits for the approval; a signal nobody waits for is refused naming the field.
    await expect
      .poll(async () => (await runState(runId)).stepStates.approval?.status, { timeout: 10_000 })
      .toBe('running');
    const wrong = await post(`/api/runs/${runId}/signals/nope`, { payload: {} });
    expect(wrong.statusCode, wrong.body).toBe(400);
    expect(wrong.json().errors).toEqual([expect.objectContaining({ field: 'data.name' })]);
    const signal = await post(`/api/runs/${runId}/signals/approval`, { payload: { approved: true, by: 'olivia' } });
    expect(signal.statusCode, signal.body).toBe(201);

    await expect.poll(async () => (await runState(runId)).status, { timeout: 20_000, interval: 100 }).toBe('succeeded');
    const run = await runState(runId);
    expect(run.stepStates.approval!.output).toEqual({ approved: true, by: 'olivia' });
    expect(run.stepStates.launched!.output).toMatchObject({ type: 'CampaignLaunched' });
    const campaign = await stack.api.store.readAggregate('campaign', campaignId);
    expect(campaign.flatMap((c) => c.events.map((e) => e.type))).toContain('CampaignLaunched');
    await expect
      .poll(
        async () => {
          const res = await stack.api.app.inject({
            method: 'GET',
            url: `/api/campaigns/${campaignId}`,
            headers: operator,
          });
          return res.json().status;
        },
        { timeout: 10_000 },
      )
      .toBe('active');
  }, 60_000);

  it('fails the run at the approval step when the signal never comes, after the timeout the definition gives', async () => {
    const campaignId = await newCampaign('Never approved');
    const before = received.length;
    const start = await post(`/api/workflows/${workflowId}/runs`, { input: { product: 'roses', campaignId } });
    const runId = start.json().id as string;
    await expect.poll(() => received.length, { timeout: 30_000, interval: 100 }).toBeGreaterThan(before);
    await expect.poll(async () => (await runState(runId)).status, { timeout: 20_000, interval: 100 }).toBe('failed');
    const run = await runState(runId);
    expect(run.failure).toEqual({ stepId: 'approval', error: `timeout: no outcome within ${approvalTimeoutMs} ms` });
    expect(run.stepStates.launch!.status).toBe('pending');
    const campaign = await stack.api.store.readAggregate('campaign', campaignId);
    expect(campaign.flatMap((c) => c.events.map((e) => e.type))).not.toContain('CampaignLaunched');
    // A signal after the run ended is refused.
    const late = await post(`/api/runs/${runId}/signals/approval`, { payload: { approved: true } });
    expect(late.statusCode).toBe(409);
  }, 60_000);

  it('refuses a workflow whose input refers to an unknown step or a non-ancestor, with 400 naming the field', async () => {
    const unknown = adSteps();
    (unknown[1]!.input as { body: Record<string, unknown> }).body.text = '{{steps.cpy.output.text}}';
    const res = await post('/api/workflows', { name: 'typo', steps: unknown });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json().errors).toEqual([
      { field: 'data.steps.1.input.body.text', message: 'refers to unknown step cpy' },
    ]);

    const notAncestor = adSteps();
    notAncestor[1]!.dependsOn = [];
    const res2 = await post('/api/workflows', { name: 'no dependency', steps: notAncestor });
    expect(res2.statusCode, res2.body).toBe(400);
    expect(res2.json().errors).toEqual([
      expect.objectContaining({
        field: 'data.steps.1.input.body.text',
        message: expect.stringContaining('refers to step copy, which is not an ancestor of step post'),
      }),
    ]);

    // Revising a defined workflow checks the same.
    const revise = await post('/api/commands', {
      type: 'ReviseWorkflow',
      aggregateId: workflowId,
      data: { steps: notAncestor },
    });
    expect(revise.statusCode, revise.body).toBe(400);
    expect(revise.json().errors[0].field).toBe('data.steps.1.input.body.text');
  });
});
