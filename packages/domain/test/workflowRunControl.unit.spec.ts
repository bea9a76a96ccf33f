import { type WorkflowRunEvent, workflowRunCommandSchemas, workflowRunDecider } from '@lightdom/domain';
import { describe, expect, it } from 'vitest';
import { deciderHarness, expectError } from './support/deciders.js';

/** Run control (issue 14 part B): pause, resume, retry a failed step by hand, attempt-bound outcomes. */
const now = new Date('2026-03-01T10:00:00Z');
const ctx = { now, aggregateId: 'r1' };
const { cmd, given } = deciderHarness(workflowRunDecider, workflowRunCommandSchemas, ctx);
const decide = (state: ReturnType<typeof given>, c: ReturnType<typeof cmd>): WorkflowRunEvent[] =>
  workflowRunDecider.decide(c, state, ctx);

/** a and b in parallel, then c. */
const steps = [
  { id: 'a', type: 'http.request' },
  { id: 'b', type: 'http.request' },
  { id: 'c', type: 'delay', input: { ms: 1 }, dependsOn: ['a', 'b'] },
];
const started = () => [
  cmd('RequestWorkflowRun', { workflowId: 'w1', definitionVersion: 1, steps }),
  cmd('StartWorkflowRun'),
];
const running = () => [
  ...started(),
  cmd('StartWorkflowStep', { stepId: 'a', attempt: 1 }),
  cmd('StartWorkflowStep', { stepId: 'b', attempt: 1 }),
];

describe('pause and resume', () => {
  it('pauses a started run with its reason; no step starts while paused', () => {
    const state = given(...started());
    expect(decide(state, cmd('PauseWorkflowRun', { reason: 'review' }))).toEqual([
      { type: 'WorkflowRunPaused', data: { reason: 'review', pausedAt: now.toISOString() } },
    ]);
    const paused = given(...started(), cmd('PauseWorkflowRun'));
    expect(paused.status).toBe('paused');
    expectError(() => decide(paused, cmd('StartWorkflowStep', { stepId: 'a', attempt: 1 })), 'INVALID_TRANSITION');
    expectError(() => decide(paused, cmd('PauseWorkflowRun')), 'INVALID_TRANSITION');
  });

  it('records the outcomes of steps that were running when it paused, including a failure that ends the run', () => {
    const paused = given(...running(), cmd('PauseWorkflowRun'));
    expect(decide(paused, cmd('CompleteWorkflowStep', { stepId: 'a', output: 1 })).map((e) => e.type)).toEqual([
      'WorkflowStepSucceeded',
    ]);
    expect(decide(paused, cmd('FailWorkflowStep', { stepId: 'b', error: 'down' })).map((e) => e.type)).toEqual([
      'WorkflowStepFailed',
      'WorkflowRunFailed',
    ]);
  });

  it('resumes only a paused run, and a paused run can be cancelled', () => {
    expectError(() => decide(given(...started()), cmd('ResumeWorkflowRun')), 'INVALID_TRANSITION');
    const resumed = given(...started(), cmd('PauseWorkflowRun', { reason: 'x' }), cmd('ResumeWorkflowRun'));
    expect(resumed).toMatchObject({ status: 'started', pauseReason: null });
    const cancelled = given(...started(), cmd('PauseWorkflowRun'), cmd('CancelWorkflowRun', { reason: 'gone' }));
    expect(cancelled).toMatchObject({ status: 'cancelled', cancelReason: 'gone' });
  });
});

describe('retry a failed step by hand', () => {
  it('puts the failed step and the steps left running back to pending, and the run back to started', () => {
    const failed = given(...running(), cmd('FailWorkflowStep', { stepId: 'a', error: 'boom' }));
    expect(failed.status).toBe('failed');
    const events = decide(failed, cmd('RetryWorkflowStep', { stepId: 'a' }));
    expect(events).toEqual([
      { type: 'WorkflowStepRetryRequested', data: { stepId: 'a', previousError: 'boom', restartedSteps: ['b'] } },
    ]);
    const again = given(
      ...running(),
      cmd('FailWorkflowStep', { stepId: 'a', error: 'boom' }),
      cmd('RetryWorkflowStep', { stepId: 'a' }),
    );
    expect(again.status).toBe('started');
    expect(again.failure).toBeNull();
    expect(again.stepStates.a).toMatchObject({ status: 'pending', attempts: 1, error: null });
    expect(again.stepStates.b).toMatchObject({ status: 'pending', attempts: 1 });
    // The next attempt is 2.
    expect(decide(again, cmd('StartWorkflowStep', { stepId: 'a', attempt: 2 }))[0]?.type).toBe('WorkflowStepStarted');
    expectError(() => decide(again, cmd('StartWorkflowStep', { stepId: 'a', attempt: 1 })), 'INVARIANT_VIOLATION');
  });

  it('refuses a run that has not failed, a step that has not failed, and an unknown step', () => {
    expectError(() => decide(given(...running()), cmd('RetryWorkflowStep', { stepId: 'a' })), 'INVALID_TRANSITION');
    const failed = given(...running(), cmd('FailWorkflowStep', { stepId: 'a', error: 'boom' }));
    expectError(() => decide(failed, cmd('RetryWorkflowStep', { stepId: 'c' })), 'INVALID_TRANSITION');
    const err = expectError(() => decide(failed, cmd('RetryWorkflowStep', { stepId: 'zz' })), 'VALIDATION_FAILED');
    expect(err.issues?.[0]?.field).toBe('data.stepId');
  });
});

describe('outcomes bound to an attempt', () => {
  it('refuses an outcome for another attempt than the running one', () => {
    const retrying = given(
      ...running(),
      cmd('FailWorkflowStep', { stepId: 'a', error: 'x' }),
      cmd('RetryWorkflowStep', { stepId: 'a' }),
      cmd('StartWorkflowStep', { stepId: 'a', attempt: 2 }),
    );
    expectError(
      () => decide(retrying, cmd('CompleteWorkflowStep', { stepId: 'a', output: 1, attempt: 1 })),
      'INVALID_TRANSITION',
    );
    expect(decide(retrying, cmd('CompleteWorkflowStep', { stepId: 'a', output: 1, attempt: 2 }))[0]?.type).toBe(
      'WorkflowStepSucceeded',
    );
  });
});

describe('where a run came from', () => {
  it('keeps the source and the parent step of the request', () => {
    const state = given(
      cmd('RequestWorkflowRun', {
        workflowId: 'w1',
        definitionVersion: 1,
        steps,
        source: { kind: 'n8n', ref: 'x/1' },
        parent: { runId: 'p1', stepId: 'sub', attempt: 2 },
      }),
    );
    expect(state.source).toEqual({ kind: 'n8n', ref: 'x/1' });
    expect(state.parent).toEqual({ runId: 'p1', stepId: 'sub', attempt: 2 });
    expect(() =>
      cmd('RequestWorkflowRun', { workflowId: 'w1', definitionVersion: 1, steps, source: { kind: 'N8N!' } }),
    ).toThrow();
  });
});
