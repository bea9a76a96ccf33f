import {
  type EventRecord,
  type WorkflowRunCommand,
  workflowRunCommandSchemas,
  workflowRunDecider,
} from '@lightdom/domain';
import { describe, expect, it } from 'vitest';
import { childRunIdFor, decideNext, initialRunView, type RunView, runViewDecider, timerOf } from '../src/index.js';

/** The engine's side of run control and child runs (issue 14 part B), pure. */
const t0 = new Date('2026-03-01T10:00:00.000Z');
const at = (ms: number) => new Date(t0.getTime() + ms);
const cmd = (type: WorkflowRunCommand['type'], data: unknown = {}): [WorkflowRunCommand, number] => [
  { type, data: workflowRunCommandSchemas[type].parse(data) } as WorkflowRunCommand,
  0,
];
const timed = ([c]: [WorkflowRunCommand, number], ms: number): [WorkflowRunCommand, number] => [c, ms];

function given(...commands: [WorkflowRunCommand, number][]): { view: RunView; events: EventRecord[] } {
  let view = initialRunView();
  let events: EventRecord[] = [];
  for (const [c, ms] of commands) {
    const decided = workflowRunDecider.decide(c, view.run, { now: at(ms), aggregateId: 'r1' });
    events = decided.map((e, i) => ({ id: `e${i}`, schemaVersion: 1, ...e }));
    for (const e of decided) view = runViewDecider.evolve(view, e);
  }
  return { view, events };
}

const steps = [
  {
    id: 'a',
    type: 'http.request',
    input: { url: 'http://x' },
    timeoutMs: 1000,
    retry: { maxAttempts: 2, backoffMs: 500 },
  },
  { id: 'b', type: 'http.request', input: { url: 'http://y' }, dependsOn: ['a'] },
  { id: 'sub', type: 'workflow.run', input: { workflowId: 'child' } },
];
const request = (extra: Record<string, unknown> = {}) =>
  cmd('RequestWorkflowRun', { workflowId: 'w1', definitionVersion: 1, steps, ...extra });
const types = (view: RunView, ms: number) => decideNext('r1', view, at(ms)).map((p) => `${p.type}:${p.stepId ?? ''}`);

describe('decideNext and run control', () => {
  it('starts no step while paused, but still times out a running one', () => {
    const { view } = given(
      request(),
      cmd('StartWorkflowRun'),
      cmd('StartWorkflowStep', { stepId: 'a', attempt: 1 }),
      cmd('PauseWorkflowRun'),
    );
    expect(types(view, 10)).toEqual([]);
    expect(types(view, 1000)).toEqual(['FailWorkflowStep:a']);
  });

  it('starts what is runnable once resumed, and the resume owns the retry timers that came back while paused', () => {
    const { view, events } = given(
      request(),
      cmd('StartWorkflowRun'),
      cmd('StartWorkflowStep', { stepId: 'a', attempt: 1 }),
      cmd('StartWorkflowStep', { stepId: 'sub', attempt: 1 }),
      cmd('PauseWorkflowRun'),
      timed(cmd('FailWorkflowStep', { stepId: 'a', error: 'x', retryable: true }), 100),
      cmd('ResumeWorkflowRun'),
    );
    expect(view.run.stepStates.a?.status).toBe('retryScheduled');
    expect(types(view, 200)).toEqual([]);
    expect(timerOf(events, view)).toEqual(at(600));
    expect(types(view, 600)).toEqual(['StartWorkflowStep:a']);
  });

  it('while paused, a retry timer is not kept (the resume takes it over)', () => {
    const { view, events } = given(
      request(),
      cmd('StartWorkflowRun'),
      cmd('StartWorkflowStep', { stepId: 'a', attempt: 1 }),
      cmd('PauseWorkflowRun'),
      cmd('FailWorkflowStep', { stepId: 'a', error: 'x', retryable: true }),
    );
    expect(events.map((e) => e.type)).toEqual(['WorkflowStepRetryScheduled']);
    expect(timerOf(events, view)).toBeNull();
  });

  it('cancels the child run of a running workflow.run step when the run is cancelled', () => {
    const { view } = given(
      request(),
      cmd('StartWorkflowRun'),
      cmd('StartWorkflowStep', { stepId: 'sub', attempt: 1 }),
      cmd('CancelWorkflowRun', { reason: 'stop' }),
    );
    const planned = decideNext('r1', view, at(0));
    expect(planned).toMatchObject([
      {
        type: 'CancelWorkflowRun',
        aggregateId: childRunIdFor('r1', 'sub', 1),
        data: { reason: 'workflow run cancelled' },
      },
    ]);
  });
});

describe('decideNext and child runs', () => {
  it('times out a workflow.run step and cancels the child of that attempt', () => {
    const timedSteps = [{ id: 'sub', type: 'workflow.run', input: { workflowId: 'child' }, timeoutMs: 500 }];
    const { view } = given(
      cmd('RequestWorkflowRun', { workflowId: 'w1', definitionVersion: 1, steps: timedSteps }),
      cmd('StartWorkflowRun'),
      cmd('StartWorkflowStep', { stepId: 'sub', attempt: 1 }),
    );
    expect(decideNext('r1', view, at(499))).toEqual([]);
    expect(decideNext('r1', view, at(500))).toMatchObject([
      { type: 'FailWorkflowStep', data: { stepId: 'sub', retryable: true } },
      {
        type: 'CancelWorkflowRun',
        aggregateId: childRunIdFor('r1', 'sub', 1),
        data: { reason: 'workflow step timed out' },
      },
    ]);
  });

  const parent = { runId: 'p1', stepId: 'sub', attempt: 2 };
  const child = [{ id: 'only', type: 'delay', input: { ms: 0 } }];
  const childRun = (...more: [WorkflowRunCommand, number][]) =>
    given(
      cmd('RequestWorkflowRun', { workflowId: 'child', definitionVersion: 1, steps: child, parent }),
      cmd('StartWorkflowRun'),
      cmd('StartWorkflowStep', { stepId: 'only', attempt: 1 }),
      ...more,
    ).view;

  it("completes the parent's step, for its attempt, with the child's final outputs", () => {
    const view = childRun(cmd('CompleteWorkflowStep', { stepId: 'only', output: { n: 1 } }));
    expect(decideNext('c1', view, at(0))).toEqual([
      {
        aggregateType: 'workflowRun',
        aggregateId: 'p1',
        type: 'CompleteWorkflowStep',
        data: { stepId: 'sub', attempt: 2, output: { runId: 'c1', outputs: { only: { n: 1 } } } },
        idempotencyKey: 'wf:p1:sub:2:child-outcome',
        reason: 'child-ended',
      },
    ]);
  });

  it("fails the parent's step for good when the child fails or is cancelled", () => {
    const failed = childRun(cmd('FailWorkflowStep', { stepId: 'only', error: 'nope' }));
    expect(decideNext('c1', failed, at(0))).toMatchObject([
      {
        aggregateId: 'p1',
        type: 'FailWorkflowStep',
        data: { stepId: 'sub', attempt: 2, retryable: false, error: 'child run c1 failed at step only: nope' },
      },
    ]);
    const cancelled = childRun(cmd('CancelWorkflowRun', { reason: 'by hand' }));
    expect(decideNext('c1', cancelled, at(0))).toMatchObject([
      { aggregateId: 'p1', type: 'FailWorkflowStep', data: { error: 'child run c1 was cancelled: by hand' } },
    ]);
  });
});
