import { setTimeout as sleep } from 'node:timers/promises';
import { createApplication } from '@lightdom/app';
import { type Identity, isLightdomError } from '@lightdom/domain';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { aiTaskIdFor, childRunIdFor } from '../src/index.js';
import {
  createExecutorHarness,
  type ExecutorHarness,
  metricValue,
  settleTimeout,
  startWebhook,
  tester,
  testTokens,
} from './support/harness.js';

let h: ExecutorHarness;
let webhook: Awaited<ReturnType<typeof startWebhook>>;

beforeAll(async () => {
  h = await createExecutorHarness('exctl');
  webhook = await startWebhook((call, nth) => {
    // Slow enough to pause the run while the step is in flight.
    if (call.path.startsWith('/slow')) return { status: 200, json: { slow: true }, delayMs: 1500 };
    if (call.path.startsWith('/flaky'))
      return nth === 0 ? { status: 500, text: 'down' } : { status: 200, json: { ok: 1 } };
    if (call.path.startsWith('/child-fail')) return { status: 404, text: 'no such hook' };
    return { status: 200, json: { path: call.path, body: call.body ? JSON.parse(call.body) : null } };
  });
  h.onCleanup(() => webhook.close());
});
afterAll(async () => h?.cleanup());
// A test that fails must not leave its executors running into the next.
afterEach(async () => h?.stopExecutors());

const meta = { actor: tester.actor, correlationId: 'test', causationId: 'test' };
const control = (runId: string, type: string, data: Record<string, unknown> = {}) =>
  h.commands.handle({ type, aggregateId: runId, data }, meta);
const status = async (runId: string) => (await h.runState(runId)).status;
const stepStatus = async (runId: string, stepId: string) => (await h.runState(runId)).stepStates[stepId]?.status;
const codeOf = async (p: Promise<unknown>) => {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return isLightdomError(err) ? err.code : String(err);
  }
};

describe('run control', () => {
  it('pauses between steps, survives a restart of every executor while paused, and resumes with each step run once', async () => {
    await h.startExecutor();
    await h.startExecutor();
    const { runId } = await h.requestRun([
      { id: 'first', type: 'http.request', input: { url: `${webhook.url}/slow/pause-first` } },
      { id: 'second', type: 'http.request', input: { url: `${webhook.url}/pause-second` }, dependsOn: ['first'] },
    ]);
    await expect.poll(() => stepStatus(runId, 'first'), settleTimeout).toBe('running');
    await control(runId, 'PauseWorkflowRun', { reason: 'checking the copy' });

    // The step in flight finishes and is recorded; the next one does not start.
    await expect.poll(() => stepStatus(runId, 'first'), settleTimeout).toBe('succeeded');
    expect(await status(runId)).toBe('paused');
    expect((await h.runState(runId)).pauseReason).toBe('checking the copy');

    await h.stopExecutors();
    await h.startExecutor();
    await h.startExecutor();
    await sleep(1500);
    expect(await stepStatus(runId, 'second')).toBe('pending');
    expect(webhook.callsTo('/pause-second')).toHaveLength(0);
    expect(await codeOf(control(runId, 'PauseWorkflowRun'))).toBe('INVALID_TRANSITION');

    await control(runId, 'ResumeWorkflowRun');
    const end = await h.waitForEnd(runId);
    expect(end.status).toBe('succeeded');
    expect(await h.stepStarts(runId)).toEqual({ 'first:1': 1, 'second:1': 1 });
    expect(webhook.callsTo('/slow/pause-first')).toHaveLength(1);
    expect(webhook.callsTo('/pause-second')).toHaveLength(1);
    const types = (await h.runEvents(runId)).map((e) => e.event.type);
    expect(types.indexOf('WorkflowRunPaused')).toBeLessThan(types.indexOf('WorkflowStepSucceeded'));
    expect(types.indexOf('WorkflowRunResumed')).toBeLessThan(types.lastIndexOf('WorkflowStepStarted'));
    await h.stopExecutors();
  });

  it('records an AI step that finishes while the run is paused', async () => {
    await h.startExecutor();
    const { runId } = await h.requestRun([
      { id: 'copy', type: 'ai.generate', input: { prompt: 'an ad' } },
      { id: 'post', type: 'http.request', input: { url: `${webhook.url}/paused-ai-post` }, dependsOn: ['copy'] },
    ]);
    await expect.poll(() => stepStatus(runId, 'copy'), settleTimeout).toBe('running');
    await control(runId, 'PauseWorkflowRun');
    // The AI worker answers while the run is paused.
    const taskId = aiTaskIdFor(runId, 'copy', 1);
    await expect.poll(async () => (await h.store.readAggregate('aiTask', taskId)).length, settleTimeout).toBe(1);
    const ai = { actor: 'ai-worker', correlationId: 'ai', causationId: 'ai' };
    await h.commands.handle({ type: 'StartAiTask', aggregateId: taskId, data: { workerId: 'w' } }, ai);
    await h.commands.handle(
      {
        type: 'CompleteAiTask',
        aggregateId: taskId,
        data: { text: 'Run faster', promptTokens: 1, completionTokens: 2, durationMs: 3 },
      },
      ai,
    );
    await expect.poll(() => stepStatus(runId, 'copy'), settleTimeout).toBe('succeeded');
    expect(await status(runId)).toBe('paused');
    expect(await stepStatus(runId, 'post')).toBe('pending');
    await control(runId, 'ResumeWorkflowRun');
    expect((await h.waitForEnd(runId)).status).toBe('succeeded');
    expect(webhook.callsTo('/paused-ai-post')).toHaveLength(1);
  });

  it('cancels a paused run with a reason; nothing starts after it and it cannot be resumed', async () => {
    await h.startExecutor();
    const { runId } = await h.requestRun([
      { id: 'wait', type: 'delay', input: { ms: 300 } },
      { id: 'never', type: 'http.request', input: { url: `${webhook.url}/cancel-never` }, dependsOn: ['wait'] },
    ]);
    await expect.poll(() => stepStatus(runId, 'wait'), settleTimeout).toBe('running');
    await control(runId, 'PauseWorkflowRun');
    await control(runId, 'CancelWorkflowRun', { reason: 'campaign dropped' });
    const end = await h.waitForEnd(runId);
    expect(end.status).toBe('cancelled');
    expect(end.cancelReason).toBe('campaign dropped');
    expect(await codeOf(control(runId, 'ResumeWorkflowRun'))).toBe('INVALID_TRANSITION');
    await sleep(800);
    expect(webhook.callsTo('/cancel-never')).toHaveLength(0);
    await h.stopExecutors();
  });

  it('retries a failed step by hand: its next attempt runs and the run goes on to succeed', async () => {
    await h.startExecutor();
    const { runId } = await h.requestRun([
      { id: 'call', type: 'http.request', input: { url: `${webhook.url}/flaky/manual` } },
      { id: 'after', type: 'http.request', input: { url: `${webhook.url}/manual-after` }, dependsOn: ['call'] },
    ]);
    const failed = await h.waitForEnd(runId);
    expect(failed.status).toBe('failed');
    expect(failed.failure?.stepId).toBe('call');
    expect(await codeOf(control(runId, 'RetryWorkflowStep', { stepId: 'after' }))).toBe('INVALID_TRANSITION');
    expect(await codeOf(control(runId, 'RetryWorkflowStep', { stepId: 'nope' }))).toBe('VALIDATION_FAILED');

    await control(runId, 'RetryWorkflowStep', { stepId: 'call' });
    await expect.poll(() => status(runId), settleTimeout).toBe('succeeded');
    expect(await h.stepStarts(runId)).toEqual({ 'call:1': 1, 'call:2': 1, 'after:1': 1 });
    expect(webhook.callsTo('/flaky/manual')).toHaveLength(2);
    // The second call is a new attempt: a new Idempotency-Key.
    const keys = webhook.callsTo('/flaky/manual').map((c) => c.headers['idempotency-key']);
    expect(keys).toEqual([`${runId}:call:1`, `${runId}:call:2`]);
    await h.stopExecutors();
  });
});

describe('workflow.run: child workflows', () => {
  const operator: Identity = tester;
  const app = () => createApplication({ commands: h.commands, store: h.store, tokens: testTokens });
  const define = async (id: string, steps: unknown[]) =>
    h.commands.handle({ type: 'DefineWorkflow', aggregateId: id, data: { name: id, steps } }, meta);

  it("starts the child, waits for it, and takes the child's result as its output", async () => {
    const executor = await h.startExecutor();
    await define('child-ok', [{ id: 'ping', type: 'http.request', input: { url: `${webhook.url}/child-ok` } }]);
    const { runId } = await h.requestRun([
      { id: 'sub', type: 'workflow.run', input: { workflowId: 'child-ok', input: { product: 'shoes' } } },
      { id: 'after', type: 'http.request', input: { url: `${webhook.url}/after-child` }, dependsOn: ['sub'] },
    ]);
    const end = await h.waitForEnd(runId);
    expect(end.status).toBe('succeeded');
    const childId = childRunIdFor(runId, 'sub', 1);
    const child = await h.runState(childId);
    expect(child.status).toBe('succeeded');
    expect(child.parent).toEqual({ runId, stepId: 'sub', attempt: 1, depth: 1 });
    expect(child.source).toEqual({ kind: 'workflow', ref: `${runId}/sub` });
    expect(child.input).toEqual({ product: 'shoes' });
    expect(child.requestedBy).toEqual(operator);
    expect(end.stepStates.sub?.output).toEqual({
      runId: childId,
      outputs: { ping: { status: 200, body: { path: '/child-ok', body: null } } },
    });
    // Started from the child's own commit, the parent's next step ran once.
    expect(webhook.callsTo('/after-child')).toHaveLength(1);
    // The child's last commit was acked: what it reported to its parent is not this run's
    // state, so it must not count as a command that failed to land (redelivered for ever).
    const jsm = await h.env.nc.jetstreamManager();
    await expect
      .poll(async () => (await jsm.consumers.info(h.env.stream, 'executor')).num_ack_pending, settleTimeout)
      .toBe(0);
    expect(await metricValue(executor.registry, 'lightdom_executor_handler_errors_total')).toBe(0);
    await h.stopExecutors();
  });

  it('fails for good when the child fails, naming the child and its step', async () => {
    await h.startExecutor();
    await define('child-bad', [{ id: 'hook', type: 'http.request', input: { url: `${webhook.url}/child-fail` } }]);
    const { runId } = await h.requestRun([{ id: 'sub', type: 'workflow.run', input: { workflowId: 'child-bad' } }]);
    const end = await h.waitForEnd(runId);
    expect(end.status).toBe('failed');
    expect(end.failure?.error).toContain(`child run ${childRunIdFor(runId, 'sub', 1)} failed at step hook`);
    await h.stopExecutors();
  });

  it('cancels the child when the parent is cancelled', async () => {
    await h.startExecutor();
    await define('child-slow', [{ id: 'wait', type: 'delay', input: { ms: 60_000 } }]);
    const { runId } = await h.requestRun([{ id: 'sub', type: 'workflow.run', input: { workflowId: 'child-slow' } }]);
    const childId = childRunIdFor(runId, 'sub', 1);
    await expect.poll(async () => (await h.runState(childId)).status, settleTimeout).toBe('started');
    await control(runId, 'CancelWorkflowRun', { reason: 'not needed' });
    await expect.poll(async () => (await h.runState(childId)).status, settleTimeout).toBe('cancelled');
    expect((await h.runState(childId)).cancelReason).toBe('workflow run cancelled');
    await h.stopExecutors();
  });

  it('stops a workflow that runs itself at a depth of 8 child runs, failing the whole chain', async () => {
    await h.startExecutor();
    await define('loop', [{ id: 'again', type: 'workflow.run', input: { workflowId: 'loop' } }]);
    const { runId } = await h.requestRun([{ id: 'again', type: 'workflow.run', input: { workflowId: 'loop' } }]);
    const end = await h.waitForEnd(runId, 30_000);
    expect(end.status).toBe('failed');
    let id = runId;
    for (let depth = 1; depth <= 8; depth++) {
      id = childRunIdFor(id, 'again', 1);
      expect((await h.runState(id)).parent?.depth).toBe(depth);
    }
    const deepest = await h.runState(id);
    expect(deepest.status).toBe('failed');
    expect(deepest.failure?.error).toContain('child runs may nest 8 deep; this one would be 9');
    expect((await h.runState(childRunIdFor(id, 'again', 1))).exists).toBe(false);
    await h.stopExecutors();
  });

  it('refuses a parent or an executor-only source from a client', async () => {
    await define('child-any', [{ id: 'wait', type: 'delay', input: { ms: 0 } }]);
    const submit = (data: Record<string, unknown>) =>
      app().submit(operator, { type: 'RequestWorkflowRun', data: { workflowId: 'child-any', ...data } }, meta);
    const fieldOf = async (p: Promise<unknown>) =>
      p.then(
        () => 'ok',
        (err) => (isLightdomError(err) ? `${err.code} ${err.issues?.[0]?.field}` : String(err)),
      );
    expect(await fieldOf(submit({ parent: { runId: 'r1', stepId: 's', attempt: 1 } }))).toBe(
      'VALIDATION_FAILED data.parent',
    );
    expect(await fieldOf(submit({ source: { kind: 'schedule' } }))).toBe('VALIDATION_FAILED data.source.kind');
    const n8n = await app().submit(
      operator,
      { type: 'RequestWorkflowRun', data: { workflowId: 'child-any', source: { kind: 'n8n', ref: 'wf-7/exec-9' } } },
      meta,
    );
    expect((await h.runState(n8n.id)).source).toEqual({ kind: 'n8n', ref: 'wf-7/exec-9' });
  });
});

describe('versioning', () => {
  it('a running run keeps the definition it started with when the workflow is revised; new runs take the revision', async () => {
    await h.startExecutor();
    const app = createApplication({ commands: h.commands, store: h.store, tokens: testTokens });
    const stepsFor = (tag: string) => [
      { id: 'slow', type: 'http.request', input: { url: `${webhook.url}/slow/version-${tag}` } },
      { id: 'tag', type: 'http.request', input: { url: `${webhook.url}/version-${tag}` }, dependsOn: ['slow'] },
    ];
    await h.commands.handle(
      { type: 'DefineWorkflow', aggregateId: 'versioned', data: { name: 'v', steps: stepsFor('1') } },
      meta,
    );
    const start = () => app.submit(tester, { type: 'RequestWorkflowRun', data: { workflowId: 'versioned' } }, meta);
    const old = await start();
    await expect.poll(() => stepStatus(old.id, 'slow'), settleTimeout).toBe('running');
    await h.commands.handle({ type: 'ReviseWorkflow', aggregateId: 'versioned', data: { steps: stepsFor('2') } }, meta);
    const fresh = await start();

    const oldEnd = await h.waitForEnd(old.id);
    const freshEnd = await h.waitForEnd(fresh.id);
    expect([oldEnd.status, freshEnd.status]).toEqual(['succeeded', 'succeeded']);
    expect([oldEnd.definitionVersion, freshEnd.definitionVersion]).toEqual([1, 2]);
    expect(webhook.callsTo('/version-1')).toHaveLength(1);
    expect(webhook.callsTo('/version-2')).toHaveLength(1);
    await h.stopExecutors();
  });
});
