import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExecutorHarness, type ExecutorHarness, startWebhook } from './support/harness.js';

// Issue 14 part A against a real JetStream: templates resolved when a step starts (and
// recorded), branches, a wait.signal step, a wait.event step and a templated delay.
let h: ExecutorHarness;
let webhook: Awaited<ReturnType<typeof startWebhook>>;

beforeAll(async () => {
  h = await createExecutorHarness('exflow');
  webhook = await startWebhook((call) => {
    if (call.path === '/score') return { status: 200, json: { score: 7, ms: 150 } };
    return { status: 200, json: { echo: JSON.parse(call.body || 'null') } };
  });
  h.onCleanup(() => webhook.close());
  await h.startExecutor({ concurrency: 8, waitEvent: { pollMs: 50, waitMs: 10_000 } });
});
afterAll(async () => h?.cleanup());

const meta = { actor: 'tester', correlationId: 'flow', causationId: 'flow' };

describe('data between steps', () => {
  it('passes outputs on, typed or as text, skips the branch whose when is false, and records resolved inputs', async () => {
    const { runId } = await h.requestRun(
      [
        { id: 'score', type: 'http.request', input: { url: `${webhook.url}/score` } },
        { id: 'pause', type: 'delay', dependsOn: ['score'], input: { ms: '{{steps.score.output.body.ms}}' } },
        {
          id: 'high',
          type: 'http.request',
          dependsOn: ['pause'],
          when: 'steps.score.output.body.score > input.threshold',
          input: {
            url: `${webhook.url}/high`,
            body: {
              score: '{{steps.score.output.body.score}}',
              text: '{{input.who}} scored {{steps.score.output.body.score}}',
            },
          },
        },
        {
          id: 'low',
          type: 'http.request',
          dependsOn: ['pause'],
          when: '!(steps.score.output.body.score > input.threshold)',
          input: { url: `${webhook.url}/low`, body: {} },
        },
        { id: 'afterLow', type: 'http.request', dependsOn: ['low'], input: { url: `${webhook.url}/afterLow` } },
      ],
      { threshold: 5, who: 'Ann' },
    );
    const state = await h.waitForEnd(runId);
    expect(state.status).toBe('succeeded');
    expect(JSON.parse(webhook.callsTo('/high')[0]!.body)).toEqual({ score: 7, text: 'Ann scored 7' });
    expect(webhook.callsTo('/low')).toHaveLength(0);
    expect(webhook.callsTo('/afterLow')).toHaveLength(0);
    expect(state.stepStates.low).toMatchObject({ status: 'skipped' });
    expect(state.stepStates.afterLow).toMatchObject({ status: 'skipped' });

    const events = await h.runEvents(runId);
    const dataOf = (e: (typeof events)[number]) => e.event.data as { stepId?: string; input?: unknown };
    const startedPause = events.find((e) => e.event.type === 'WorkflowStepStarted' && dataOf(e).stepId === 'pause');
    expect(startedPause && dataOf(startedPause).input).toEqual({ ms: 150 });
    // The delay timed from the resolved ms.
    expect(state.stepStates.pause!.output).toMatchObject({ ms: 150 });
    const skips = events.filter((e) => e.event.type === 'WorkflowStepSkipped').map((e) => e.event.data);
    expect(skips).toEqual([
      { stepId: 'low', reason: 'when "!(steps.score.output.body.score > input.threshold)" was false' },
      { stepId: 'afterLow', reason: 'every step it depends on was skipped (low)' },
    ]);
  });

  it('fails the run, naming the field, when a reference finds nothing at run time', async () => {
    const { runId } = await h.requestRun([
      { id: 'score', type: 'http.request', input: { url: `${webhook.url}/score` } },
      {
        id: 'use',
        type: 'http.request',
        dependsOn: ['score'],
        input: { url: `${webhook.url}/use`, body: { x: '{{steps.score.output.body.missing}}' } },
      },
    ]);
    const state = await h.waitForEnd(runId);
    expect(state.status).toBe('failed');
    expect(state.failure?.error).toMatch(/^step use: input\.body\.x: .*No such key: missing/);
    expect(webhook.callsTo('/use')).toHaveLength(0);
  });
});

describe('waiting steps', () => {
  it('a wait.signal step completes with the payload of SignalWorkflowRun; its dependants then use it', async () => {
    const { runId } = await h.requestRun([
      { id: 'approval', type: 'wait.signal', input: { name: 'approval' }, timeoutMs: 20_000 },
      {
        id: 'tell',
        type: 'http.request',
        dependsOn: ['approval'],
        input: { url: `${webhook.url}/tell`, body: { by: '{{steps.approval.output.by}}' } },
      },
    ]);
    await expect
      .poll(async () => (await h.runState(runId)).stepStates.approval?.status, { timeout: 10_000 })
      .toBe('running');
    await h.commands.handle(
      { type: 'SignalWorkflowRun', aggregateId: runId, data: { name: 'approval', payload: { by: 'Bo' } } },
      meta,
    );
    const state = await h.waitForEnd(runId);
    expect(state.status).toBe('succeeded');
    expect(JSON.parse(webhook.callsTo('/tell')[0]!.body)).toEqual({ by: 'Bo' });
  });

  it('a wait.event step completes when the campaign it names is launched, later', async () => {
    const created = await h.commands.handle(
      { type: 'CreateCampaign', data: { name: 'Later', budget: { amount: 100, currency: 'EUR' } } },
      meta,
    );
    const { runId } = await h.requestRun(
      [
        {
          id: 'live',
          type: 'wait.event',
          input: { aggregateType: 'campaign', aggregateId: '{{input.campaign}}', eventType: 'CampaignLaunched' },
          timeoutMs: 20_000,
        },
      ],
      { campaign: created.id },
    );
    await expect
      .poll(async () => (await h.runState(runId)).stepStates.live?.status, { timeout: 10_000 })
      .toBe('running');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await h.runState(runId)).stepStates.live?.status).toBe('running');
    await h.commands.handle({ type: 'LaunchCampaign', aggregateId: created.id, data: {} }, meta);
    const state = await h.waitForEnd(runId);
    expect(state.status).toBe('succeeded');
    expect(state.stepStates.live!.output).toMatchObject({ type: 'CampaignLaunched' });
  });
});
