import {
  maxRetryDelayMs,
  nextRunnableSteps,
  retryDelayMs,
  type WorkflowRunEvent,
  type WorkflowRunState,
  workflowRunCommandSchemas,
  workflowRunDecider,
} from '@lightdom/domain';
import { parseCommand } from '@lightdom/eventstore';
import { describe, expect, it } from 'vitest';
import { deciderHarness, expectError } from './support/deciders.js';

const now = new Date('2026-03-01T10:00:00Z');
const ctx = { now, aggregateId: 'r1' };
const later = (ms: number) => new Date(now.getTime() + ms).toISOString();

const { cmd, given } = deciderHarness(workflowRunDecider, workflowRunCommandSchemas, ctx);

const types = (events: WorkflowRunEvent[]) => events.map((e) => e.type);

/** a → (b, c) → d; b retries up to 3 attempts with a doubling back-off; a has a timeout. */
const steps = [
  { id: 'a', type: 'ai.generate', input: { prompt: 'p' }, timeoutMs: 30_000 },
  { id: 'b', type: 'http.request', dependsOn: ['a'], retry: { maxAttempts: 3, backoffMs: 1000, backoffMultiplier: 2 } },
  { id: 'c', type: 'campaign.command', dependsOn: ['a'], retry: { maxAttempts: 2, backoffMs: 10 } },
  { id: 'd', type: 'chain.anchor', dependsOn: ['b', 'c'] },
];
const request = () => cmd('RequestWorkflowRun', { workflowId: 'w1', definitionVersion: 2, steps, input: { x: 1 } });
const startStep = (stepId: string, attempt = 1) => cmd('StartWorkflowStep', { stepId, attempt });
const complete = (stepId: string, output: unknown = `${stepId}-out`) => cmd('CompleteWorkflowStep', { stepId, output });
const fail = (stepId: string, retryable = true) => cmd('FailWorkflowStep', { stepId, error: 'boom', retryable });
const started = () => [request(), cmd('StartWorkflowRun')];
const afterA = () => [...started(), startStep('a'), complete('a')];
const ids = (state: WorkflowRunState) => nextRunnableSteps(state).map((s) => s.id);

describe('workflow run decider', () => {
  it('records the request with the definition snapshot; every step pending', () => {
    const events = workflowRunDecider.decide(request(), workflowRunDecider.initialState(), ctx);
    expect(events).toMatchObject([
      { type: 'WorkflowRunRequested', data: { workflowId: 'w1', definitionVersion: 2, input: { x: 1 } } },
    ]);
    const state = given(request());
    expect(state.status).toBe('requested');
    expect(Object.values(state.stepStates).map((s) => s.status)).toEqual(['pending', 'pending', 'pending', 'pending']);
  });

  it('refuses to request twice and to touch a run that does not exist', () => {
    expectError(() => workflowRunDecider.decide(request(), given(request()), ctx), 'ALREADY_EXISTS');
    expectError(
      () => workflowRunDecider.decide(cmd('StartWorkflowRun'), workflowRunDecider.initialState(), ctx),
      'NOT_FOUND',
    );
  });

  it('refuses a snapshot that is not a DAG, naming the field', () => {
    const cyclic = [
      { id: 'a', type: 'delay', dependsOn: ['b'] },
      { id: 'b', type: 'delay', dependsOn: ['a'] },
    ];
    const err = expectError(
      () =>
        parseCommand({ type: 'RequestWorkflowRun', data: { workflowId: 'w1', definitionVersion: 1, steps: cyclic } }),
      'VALIDATION_FAILED',
    );
    expect(err.issues?.map((i) => i.field)).toEqual(['data.steps.1.dependsOn']);
  });

  it('starts the run at ctx.now', () => {
    expect(workflowRunDecider.decide(cmd('StartWorkflowRun'), given(request()), ctx)).toEqual([
      { type: 'WorkflowRunStarted', data: { startedAt: now.toISOString() } },
    ]);
    expectError(
      () => workflowRunDecider.decide(cmd('StartWorkflowRun'), given(...started()), ctx),
      'INVALID_TRANSITION',
    );
  });

  it('starts a step with its deadline from timeoutMs', () => {
    expect(workflowRunDecider.decide(startStep('a'), given(...started()), ctx)).toEqual([
      {
        type: 'WorkflowStepStarted',
        data: {
          stepId: 'a',
          attempt: 1,
          startedAt: now.toISOString(),
          deadlineAt: later(30_000),
          input: { prompt: 'p' },
        },
      },
    ]);
    const state = given(...afterA());
    expect(workflowRunDecider.decide(startStep('b'), state, ctx)[0]).toMatchObject({ data: { deadlineAt: null } });
  });

  it('starts steps only in a started run, once their dependencies succeeded, with the next attempt', () => {
    const requested = expectError(
      () => workflowRunDecider.decide(startStep('a'), given(request()), ctx),
      'INVALID_TRANSITION',
    );
    expect(requested.details?.status).toBe('requested');
    const waiting = expectError(
      () => workflowRunDecider.decide(startStep('d'), given(...started()), ctx),
      'INVARIANT_VIOLATION',
    );
    expect(waiting.details).toMatchObject({ field: 'data.stepId', waitingFor: ['b', 'c'] });
    const attempt = expectError(
      () => workflowRunDecider.decide(startStep('a', 2), given(...started()), ctx),
      'INVARIANT_VIOLATION',
    );
    expect(attempt.details).toMatchObject({ field: 'data.attempt', expected: 1 });
    const unknown = expectError(
      () => workflowRunDecider.decide(startStep('zz'), given(...started()), ctx),
      'VALIDATION_FAILED',
    );
    expect(unknown.issues?.[0]?.field).toBe('data.stepId');
  });

  it('refuses to start a running or finished step, and to finish one that is not running', () => {
    const running = expectError(
      () => workflowRunDecider.decide(startStep('a'), given(...started(), startStep('a')), ctx),
      'INVALID_TRANSITION',
    );
    expect(running.details).toMatchObject({ status: 'running', stepId: 'a' });
    const done = expectError(
      () => workflowRunDecider.decide(startStep('a'), given(...afterA()), ctx),
      'INVALID_TRANSITION',
    );
    expect(done.details?.status).toBe('succeeded');
    const pending = expectError(
      () => workflowRunDecider.decide(complete('a'), given(...started()), ctx),
      'INVALID_TRANSITION',
    );
    expect(pending.details?.status).toBe('pending');
    expectError(() => workflowRunDecider.decide(fail('a'), given(...started()), ctx), 'INVALID_TRANSITION');
  });

  it('schedules a retry with a growing back-off while attempts remain, then fails the run', () => {
    let state = given(...afterA(), startStep('b'));
    const first = workflowRunDecider.decide(fail('b'), state, ctx);
    expect(first).toEqual([
      { type: 'WorkflowStepRetryScheduled', data: { stepId: 'b', attempt: 2, retryAt: later(1000), error: 'boom' } },
    ]);
    state = first.reduce(workflowRunDecider.evolve, state);
    expect(state.stepStates.b).toMatchObject({ status: 'retryScheduled', attempts: 1, retryAt: later(1000) });
    expect(ids(state)).toEqual(['c']);
    expectError(() => workflowRunDecider.decide(startStep('b', 1), state, ctx), 'INVARIANT_VIOLATION');

    state = given(...afterA(), startStep('b'), fail('b'), startStep('b', 2));
    expect(workflowRunDecider.decide(fail('b'), state, ctx)).toMatchObject([
      { type: 'WorkflowStepRetryScheduled', data: { attempt: 3, retryAt: later(2000) } },
    ]);

    state = given(...afterA(), startStep('b'), fail('b'), startStep('b', 2), fail('b'), startStep('b', 3));
    const last = workflowRunDecider.decide(fail('b'), state, ctx);
    expect(last).toEqual([
      { type: 'WorkflowStepFailed', data: { stepId: 'b', attempt: 3, error: 'boom', retryable: true } },
      { type: 'WorkflowRunFailed', data: { stepId: 'b', error: 'boom' } },
    ]);
    const failed = last.reduce(workflowRunDecider.evolve, state);
    expect(failed).toMatchObject({ status: 'failed', failure: { stepId: 'b', error: 'boom' } });
    expect(ids(failed)).toEqual([]);
  });

  it('fails the run at once for a non-retryable error or a step without a retry policy', () => {
    const b = given(...afterA(), startStep('b'));
    expect(types(workflowRunDecider.decide(fail('b', false), b, ctx))).toEqual([
      'WorkflowStepFailed',
      'WorkflowRunFailed',
    ]);
    const a = given(...started(), startStep('a'));
    expect(types(workflowRunDecider.decide(fail('a', true), a, ctx))).toEqual([
      'WorkflowStepFailed',
      'WorkflowRunFailed',
    ]);
  });

  it('caps the back-off', () => {
    expect(retryDelayMs({ maxAttempts: 100, backoffMs: 1000 }, 50)).toBe(1000);
    expect(retryDelayMs({ maxAttempts: 100, backoffMs: 1000, backoffMultiplier: 10 }, 3)).toBe(100_000);
    expect(retryDelayMs({ maxAttempts: 100, backoffMs: 1000, backoffMultiplier: 10 }, 40)).toBe(maxRetryDelayMs);
  });

  it('lists the runnable steps as dependencies succeed', () => {
    expect(ids(given(request()))).toEqual([]);
    expect(ids(given(...started()))).toEqual(['a']);
    expect(ids(given(...started(), startStep('a')))).toEqual([]);
    expect(ids(given(...afterA()))).toEqual(['b', 'c']);
    expect(ids(given(...afterA(), startStep('b')))).toEqual(['c']);
    expect(ids(given(...afterA(), startStep('b'), complete('b')))).toEqual(['c']);
    expect(ids(given(...afterA(), startStep('b'), complete('b'), startStep('c'), complete('c')))).toEqual(['d']);
    expect(nextRunnableSteps(given(...started()))[0]).toMatchObject({
      id: 'a',
      type: 'ai.generate',
      input: { prompt: 'p' },
    });
  });

  it('succeeds the run in the same decision as its last step, with the final outputs', () => {
    const state = given(...afterA(), startStep('b'), complete('b'), startStep('c'), complete('c'), startStep('d'));
    expect(types(workflowRunDecider.decide(complete('c'), given(...afterA(), startStep('c')), ctx))).toEqual([
      'WorkflowStepSucceeded',
    ]);
    const events = workflowRunDecider.decide(complete('d', { tx: '0xabc' }), state, ctx);
    expect(events).toEqual([
      { type: 'WorkflowStepSucceeded', data: { stepId: 'd', attempt: 1, output: { tx: '0xabc' } } },
      { type: 'WorkflowRunSucceeded', data: { outputs: { d: { tx: '0xabc' } } } },
    ]);
    const done = events.reduce(workflowRunDecider.evolve, state);
    expect(done.status).toBe('succeeded');
    expect(done.stepStates.b?.output).toBe('b-out');
  });

  it('succeeds a one-step run without output with a null output', () => {
    const single = cmd('RequestWorkflowRun', {
      workflowId: 'w',
      definitionVersion: 1,
      steps: [{ id: 's', type: 'delay' }],
    });
    const state = given(single, cmd('StartWorkflowRun'), startStep('s'));
    expect(workflowRunDecider.decide(cmd('CompleteWorkflowStep', { stepId: 's' }), state, ctx)).toEqual([
      { type: 'WorkflowStepSucceeded', data: { stepId: 's', attempt: 1, output: null } },
      { type: 'WorkflowRunSucceeded', data: { outputs: { s: null } } },
    ]);
  });

  it('cancels a requested or started run', () => {
    expect(workflowRunDecider.decide(cmd('CancelWorkflowRun', { reason: 'stop' }), given(request()), ctx)).toEqual([
      { type: 'WorkflowRunCancelled', data: { reason: 'stop' } },
    ]);
    const cancelled = given(...afterA(), startStep('b'), cmd('CancelWorkflowRun', { reason: 'stop' }));
    expect(cancelled).toMatchObject({ status: 'cancelled', cancelReason: 'stop' });
    expect(ids(cancelled)).toEqual([]);
    expect(workflowRunCommandSchemas.CancelWorkflowRun.safeParse({}).success).toBe(false);
  });

  const finished = {
    succeeded: () =>
      given(...afterA(), startStep('b'), complete('b'), startStep('c'), complete('c'), startStep('d'), complete('d')),
    failed: () => given(...started(), startStep('a'), fail('a', false)),
    cancelled: () => given(...started(), cmd('CancelWorkflowRun', { reason: 'x' })),
  };
  const anyCommand = () => [
    cmd('StartWorkflowRun'),
    startStep('b'),
    complete('b'),
    fail('b'),
    cmd('CancelWorkflowRun', { reason: 'again' }),
  ];

  it.each(Object.keys(finished) as (keyof typeof finished)[])('accepts no command after the run %s', (status) => {
    const state = finished[status]();
    expect(state.status).toBe(status);
    for (const c of anyCommand()) {
      const err = expectError(() => workflowRunDecider.decide(c, state, ctx), 'INVALID_TRANSITION');
      expect(err.details?.status).toBe(status);
    }
  });
});
