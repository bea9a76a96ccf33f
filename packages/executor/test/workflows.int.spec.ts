import type { CampaignState } from '@lightdom/domain';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aiTaskIdFor, type RunView } from '../src/index.js';
import {
  createExecutorHarness,
  type ExecutorHarness,
  metricValue,
  type RunningExecutor,
  startFakeAiWorker,
  startWebhook,
} from './support/harness.js';

let h: ExecutorHarness;
let executor: RunningExecutor;
let webhook: Awaited<ReturnType<typeof startWebhook>>;
let ai: Awaited<ReturnType<typeof startFakeAiWorker>>;

beforeAll(async () => {
  h = await createExecutorHarness('exwf');
  webhook = await startWebhook((call, nth) => {
    if (call.path === '/hook') return { status: 200, json: { received: JSON.parse(call.body) } };
    if (call.path === '/side') return { status: 200, text: 'side ok' };
    if (call.path.startsWith('/flaky'))
      return nth < 2 ? { status: 500, text: 'down' } : { status: 200, json: { ok: true } };
    if (call.path === '/missing') return { status: 404, text: 'no such hook' };
    if (call.path === '/hang') return { hang: true };
    return { status: 500 };
  });
  h.onCleanup(() => webhook.close());
  ai = await startFakeAiWorker(h.store, h.commands);
  h.onCleanup(() => ai.stop());
  executor = await h.startExecutor({ concurrency: 8 });
});
afterAll(async () => h?.cleanup());

const createCampaign = async () => {
  const r = await h.commands.handle(
    { type: 'CreateCampaign', data: { name: 'Spring', budget: { amount: 100, currency: 'EUR' } } },
    { actor: 'tester', correlationId: 'setup', causationId: 'setup' },
  );
  return r.id;
};

describe('executor runs workflows', () => {
  it('runs a DAG (http → delay → campaign.command, with a parallel http branch) to success', async () => {
    const campaignId = await createCampaign();
    const { runId, correlationId } = await h.requestRun([
      { id: 'notify', type: 'http.request', input: { url: `${webhook.url}/hook`, body: { hello: 'world' } } },
      { id: 'wait', type: 'delay', input: { ms: 200 }, dependsOn: ['notify'] },
      {
        id: 'launch',
        type: 'campaign.command',
        input: { type: 'LaunchCampaign', aggregateId: campaignId, data: {} },
        dependsOn: ['wait'],
      },
      { id: 'side', type: 'http.request', input: { url: `${webhook.url}/side`, method: 'get' } },
    ]);
    const state = await h.waitForEnd(runId);
    expect(state.status).toBe('succeeded');

    const events = await h.runEvents(runId);
    const succeeded = events.find((e) => e.event.type === 'WorkflowRunSucceeded')!;
    const campaign = (await h.commands.repository.load('campaign', campaignId, { verify: true }))
      .state as CampaignState;
    expect(campaign.status).toBe('active');
    expect(succeeded.event.data).toEqual({
      outputs: {
        launch: { aggregateId: campaignId, position: expect.any(Number), version: 2 },
        side: { status: 200, body: 'side ok' },
      },
    });
    expect(state.stepStates.notify?.output).toEqual({ status: 200, body: { received: { hello: 'world' } } });

    // The webhook got a JSON POST with the attempt's idempotency key and the run's trace.
    const [hook] = webhook.callsTo('/hook');
    expect(hook).toMatchObject({ method: 'POST', body: '{"hello":"world"}' });
    expect(hook!.headers['idempotency-key']).toBe(`${runId}:notify:1`);
    expect(hook!.headers['content-type']).toBe('application/json');
    // One trace from the request through every command and into the webhook call.
    const traceIds = new Set<string | undefined>();
    for (const c of await h.runCommits(runId)) {
      const header = (await h.env.jsm.streams.getMessage(h.env.stream, { seq: c.position })).header.get('traceparent');
      traceIds.add(header.split('-')[1]);
    }
    traceIds.add(String(hook!.headers.traceparent).split('-')[1]);
    expect(traceIds.size).toBe(1);

    // The delay waited at least its 200 ms after its own start.
    const waitStarted = events.find(
      (e) => e.event.type === 'WorkflowStepStarted' && (e.event.data as { stepId: string }).stepId === 'wait',
    )!;
    const waitDone = events.find(
      (e) => e.event.type === 'WorkflowStepSucceeded' && (e.event.data as { stepId: string }).stepId === 'wait',
    )!;
    expect(Date.parse(waitDone.commit.timestamp) - Date.parse(waitStarted.commit.timestamp)).toBeGreaterThanOrEqual(
      200,
    );

    // Every command the executor issued carries the run's correlation id, names its cause and a key;
    // the run's own commands are recorded as the executor, with nobody else in `via`.
    const byExecutor = (await h.runCommits(runId)).filter((c) => c.actor === 'executor');
    expect(byExecutor.length).toBeGreaterThanOrEqual(9);
    for (const c of byExecutor) {
      expect(c.correlationId).toBe(correlationId);
      expect(c.idempotencyKey).toMatch(new RegExp(`^wf:${runId}:`));
      expect(c.via).toBeUndefined();
    }
    const launchStarted = events.find(
      (e) => e.event.type === 'WorkflowStepStarted' && (e.event.data as { stepId: string }).stepId === 'launch',
    )!;
    const launched = (await h.store.readAggregate('campaign', campaignId)).at(-1)!;
    // The step's campaign command acts for the run's requester, through the executor.
    expect(launched).toMatchObject({
      correlationId,
      causationId: launchStarted.event.id,
      actor: 'tester',
      via: 'executor',
      idempotencyKey: `wf:${runId}:launch:campaign`,
    });

    expect(
      await metricValue(executor.registry, 'lightdom_executor_runs_total', { outcome: 'succeeded' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      await metricValue(executor.registry, 'lightdom_executor_steps_total', { type: 'delay', outcome: 'succeeded' }),
    ).toBeGreaterThanOrEqual(1);
    const metrics = await executor.registry.metrics();
    expect(metrics).toMatch(
      /lightdom_executor_step_duration_seconds_count\{type="http.request",outcome="succeeded"\} \d/,
    );
    expect(metrics).toContain('lightdom_executor_active_timers');
  });

  it('retries a webhook answering 500 twice, then succeeds on the third attempt', async () => {
    const path = `/flaky-${Date.now()}`;
    const { runId } = await h.requestRun([
      {
        id: 'call',
        type: 'http.request',
        input: { url: `${webhook.url}${path}`, method: 'POST', body: 'plain' },
        retry: { maxAttempts: 3, backoffMs: 100 },
      },
    ]);
    const state = await h.waitForEnd(runId);
    expect(state.status).toBe('succeeded');
    const types = (await h.runEvents(runId)).map((e) => e.event.type);
    expect(types.filter((t) => t === 'WorkflowStepRetryScheduled')).toHaveLength(2);
    expect(webhook.callsTo(path).map((c) => c.headers['idempotency-key'])).toEqual([
      `${runId}:call:1`,
      `${runId}:call:2`,
      `${runId}:call:3`,
    ]);
    expect(await h.stepStarts(runId)).toEqual({ 'call:1': 1, 'call:2': 1, 'call:3': 1 });
  });

  it('fails the run at once on a 404, whatever the retry policy', async () => {
    const { runId } = await h.requestRun([
      {
        id: 'call',
        type: 'http.request',
        input: { url: `${webhook.url}/missing` },
        retry: { maxAttempts: 3, backoffMs: 10 },
      },
    ]);
    const state = await h.waitForEnd(runId);
    expect(state.status).toBe('failed');
    expect(state.failure).toEqual({ stepId: 'call', error: `HTTP 404 from GET ${webhook.url}/missing: no such hook` });
    const failed = (await h.runEvents(runId)).find((e) => e.event.type === 'WorkflowStepFailed');
    expect(failed?.event.data).toMatchObject({ attempt: 1, retryable: false });
  });

  it('times out a step that passes its deadline: an HTTP call that hangs, and a delay longer than its timeout', async () => {
    const hanging = await h.requestRun([
      { id: 'call', type: 'http.request', input: { url: `${webhook.url}/hang` }, timeoutMs: 300 },
    ]);
    const slow = await h.requestRun([
      { id: 'nap', type: 'delay', input: { ms: 60_000 }, timeoutMs: 300, retry: { maxAttempts: 2, backoffMs: 50 } },
    ]);
    for (const runId of [hanging.runId, slow.runId]) {
      const state = await h.waitForEnd(runId);
      expect(state.status).toBe('failed');
      expect(state.failure?.error).toBe('timeout: no outcome within 300 ms');
    }
    const napEvents = (await h.runEvents(slow.runId)).map((e) => e.event);
    expect(napEvents.filter((e) => e.type === 'WorkflowStepRetryScheduled')).toHaveLength(1);
    expect(napEvents.find((e) => e.type === 'WorkflowStepFailed')?.data).toMatchObject({ attempt: 2, retryable: true });
    expect(await metricValue(executor.registry, 'lightdom_executor_step_timeouts_total')).toBeGreaterThanOrEqual(3);
  });

  it('completes an ai.generate step from the AI task result, and fails it when the task fails for good', async () => {
    const ok = await h.requestRun([
      { id: 'gen', type: 'ai.generate', input: { model: 'tiny', prompt: 'hello' }, timeoutMs: 10_000 },
    ]);
    const bad = await h.requestRun([{ id: 'gen', type: 'ai.generate', input: { prompt: 'fail' } }]);

    const okState = await h.waitForEnd(ok.runId);
    expect(okState.status).toBe('succeeded');
    expect(okState.stepStates.gen?.output).toEqual({ text: 'echo: hello', reasoning: 'thinking' });
    const request = ai.requested.find((c) => c.aggregateId === aiTaskIdFor(ok.runId, 'gen', 1));
    expect(request?.events[0]?.data).toMatchObject({ model: 'tiny', workflowRunId: ok.runId, stepId: 'gen' });
    expect(request?.correlationId).toBe(ok.correlationId);
    // The AI task is requested for the run's requester, through the executor.
    expect(request).toMatchObject({ actor: 'tester', via: 'executor' });

    const badState = await h.waitForEnd(bad.runId);
    expect(badState.status).toBe('failed');
    expect(badState.failure?.error).toBe('AI task failed: model exploded');
    const badRequest = ai.requested.find((c) => c.aggregateId === aiTaskIdFor(bad.runId, 'gen', 1));
    expect(badRequest?.events[0]?.data).toMatchObject({ model: 'deepseek-r1:7b' });
  });

  it("refuses a step's command its run's requester may not send: the step fails, nothing is appended", async () => {
    const campaignId = await createCampaign();
    const before = await h.store.readAggregate('campaign', campaignId);
    // The core never records a reader's run; the log may still hold one (written before
    // roles, or by hand), and its steps must not gain rights by going through the executor.
    const viewer = { actor: 'viewer', role: 'reader' } as const;
    const launch = await h.requestRun(
      [
        {
          id: 'launch',
          type: 'campaign.command',
          input: { type: 'LaunchCampaign', aggregateId: campaignId, data: {} },
          retry: { maxAttempts: 3, backoffMs: 10 },
        },
      ],
      {},
      viewer,
    );
    const gen = await h.requestRun([{ id: 'gen', type: 'ai.generate', input: { prompt: 'hello' } }], {}, viewer);

    const launchState = await h.waitForEnd(launch.runId);
    expect(launchState.status).toBe('failed');
    expect(launchState.failure?.error).toBe(
      'FORBIDDEN: viewer (role reader) may not send LaunchCampaign (a public command)',
    );
    expect(await h.stepStarts(launch.runId)).toEqual({ 'launch:1': 1 });
    expect(await h.store.readAggregate('campaign', campaignId)).toEqual(before);

    const genState = await h.waitForEnd(gen.runId);
    expect(genState.status).toBe('failed');
    expect(genState.failure?.error).toBe(
      'AI task refused: FORBIDDEN: viewer (role reader) may not send RequestAiTask (a public command)',
    );
    expect(await h.store.readAggregate('aiTask', aiTaskIdFor(gen.runId, 'gen', 1))).toEqual([]);
    // The run's own commands are the executor's: they were recorded all the same.
    expect((await h.runCommits(gen.runId)).filter((c) => c.actor === 'executor').length).toBeGreaterThanOrEqual(3);
  });

  it('fails a step with a bad input for good, naming the field', async () => {
    const http = await h.requestRun([
      {
        id: 'call',
        type: 'http.request',
        input: { url: 'ftp://x', header: {} },
        retry: { maxAttempts: 3, backoffMs: 10 },
      },
    ]);
    const cmd = await h.requestRun([
      {
        id: 'cmd',
        type: 'campaign.command',
        input: { type: 'DefineWorkflow', data: {} },
        retry: { maxAttempts: 3, backoffMs: 10 },
      },
    ]);
    const httpState = await h.waitForEnd(http.runId);
    expect(httpState.status).toBe('failed');
    expect(httpState.failure?.error).toBe(
      'invalid http.request input: input.url: must be an http or https URL; input.header: unknown field(s): header',
    );
    const cmdState = await h.waitForEnd(cmd.runId);
    expect(cmdState.failure?.error).toBe('"DefineWorkflow" is not a campaign command');
    expect(await h.stepStarts(cmd.runId)).toEqual({ 'cmd:1': 1 });
  });
});

// The view type is part of the public API; keep the import used.
export type { RunView };
