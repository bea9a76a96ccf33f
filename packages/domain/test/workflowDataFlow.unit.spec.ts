import {
  evaluateWhen,
  resolveInput,
  type WorkflowRunEvent,
  type WorkflowRunState,
  workflowCommandSchemas,
  workflowDecider,
  workflowReferenceIssues,
  workflowRunCommandSchemas,
  workflowRunDecider,
} from '@lightdom/domain';
import { describe, expect, it } from 'vitest';
import { deciderHarness, expectError } from './support/deciders.js';

const now = new Date('2026-03-01T10:00:00Z');
const ctx = { now, aggregateId: 'r1' };
const run = deciderHarness(workflowRunDecider, workflowRunCommandSchemas, ctx);

/** State built from events (given), then one command decided (when), then the events (then). */
function given(events: WorkflowRunEvent[]): WorkflowRunState {
  return events.reduce((s, e) => workflowRunDecider.evolve(s, e), workflowRunDecider.initialState());
}
const when = (state: WorkflowRunState, type: Parameters<typeof run.cmd>[0], data: unknown = {}) =>
  workflowRunDecider.decide(run.cmd(type, data), state, ctx);

const requested = (steps: unknown[], input: Record<string, unknown> = {}): WorkflowRunEvent[] => [
  {
    type: 'WorkflowRunRequested',
    data: {
      workflowId: 'w',
      definitionVersion: 1,
      steps: workflowRunCommandSchemas.RequestWorkflowRun.parse({ workflowId: 'w', definitionVersion: 1, steps }).steps,
      input,
    },
  },
  { type: 'WorkflowRunStarted', data: { startedAt: now.toISOString() } },
];
const started = (stepId: string, input: Record<string, unknown> = {}): WorkflowRunEvent => ({
  type: 'WorkflowStepStarted',
  data: { stepId, attempt: 1, startedAt: now.toISOString(), deadlineAt: null, input },
});
const succeeded = (stepId: string, output: unknown): WorkflowRunEvent => ({
  type: 'WorkflowStepSucceeded',
  data: { stepId, attempt: 1, output },
});

describe('references in step inputs (checked when defined)', () => {
  const define = (steps: unknown[]) =>
    workflowCommandSchemas.DefineWorkflow.safeParse({ name: 'w', steps }).error?.issues.map((i) => ({
      path: i.path.join('.'),
      message: i.message,
    }));

  it('accepts references to the run input and to ancestors, direct or not', () => {
    expect(
      define([
        { id: 'a', type: 'delay', input: { ms: 1 } },
        { id: 'b', type: 'delay', dependsOn: ['a'], input: { ms: '{{steps.a.output.ms}}' } },
        { id: 'c', type: 'delay', dependsOn: ['b'], input: { ms: '{{steps["a"].output.ms}}', n: '{{input.n}}' } },
      ]),
    ).toBeUndefined();
  });

  it('refuses an unknown step, a non-ancestor, the step itself, and other variables, naming the field', () => {
    expect(
      define([
        { id: 'a', type: 'delay', input: { ms: 1 } },
        { id: 'b', type: 'delay', input: { ms: 1, x: ['{{steps.a.output.ms}}'] } },
        {
          id: 'c',
          type: 'delay',
          dependsOn: ['a'],
          input: { ms: '{{steps.zz.output}}' },
          when: 'steps.c.status == "x"',
        },
        { id: 'd', type: 'delay', input: { ms: '{{process.env}}', y: '{{steps[input.k].output}}' } },
      ]),
    ).toEqual([
      {
        path: 'steps.1.input.x.0',
        message: expect.stringContaining('refers to step a, which is not an ancestor of step b'),
      },
      { path: 'steps.2.input.ms', message: 'refers to unknown step zz' },
      {
        path: 'steps.2.when',
        message: expect.stringContaining('refers to step c, which is not an ancestor of step c'),
      },
      { path: 'steps.3.input.ms', message: expect.stringContaining('is not a valid expression') },
      { path: 'steps.3.input.y', message: expect.stringContaining('must name the step it reads') },
    ]);
  });

  it('bounds expressions: length, nesting of list macros, a parse error', () => {
    const issues = workflowReferenceIssues([
      { id: 'a', dependsOn: [], input: { long: `{{${'1 + '.repeat(400)}1}}` } },
      { id: 'b', dependsOn: [], input: { nested: '{{input.l.map(x, input.l.map(y, y))}}' } },
      { id: 'c', dependsOn: [], input: { bad: '{{input.(}}' } },
    ]);
    expect(issues.map((i) => i.field)).toEqual(['0.input.long', '1.input.nested', '2.input.bad']);
    expect(issues[0]!.message).toContain('longer than 1000 characters');
    expect(issues[1]!.message).toContain('nests the list macro');
  });

  it('the workflow decider refuses the same with VALIDATION_FAILED naming data.steps.<i>.<field>', () => {
    const steps = [
      { id: 'a', type: 'delay', input: { ms: 1 }, dependsOn: [] },
      { id: 'b', type: 'delay', input: { ms: '{{steps.a.output.ms}}' }, dependsOn: [] },
    ];
    const err = expectError(
      () =>
        workflowDecider.decide(
          { type: 'DefineWorkflow', data: { name: 'w', description: '', steps } as never },
          workflowDecider.initialState(),
          ctx,
        ),
      'VALIDATION_FAILED',
    );
    expect(err.issues?.[0]?.field).toBe('data.steps.1.input.ms');
  });

  it('wait.signal names its signal literally; wait.event names its aggregate and event type', () => {
    expect(
      define([
        { id: 's', type: 'wait.signal', input: { name: 'bad name!' } },
        { id: 'e', type: 'wait.event', input: { aggregateType: 'campaign', aggregateId: 'c1' } },
      ]),
    ).toEqual([
      { path: 'steps.0.input.name', message: expect.stringContaining('must be 1-64 characters') },
      { path: 'steps.1.input.eventType', message: 'Required' },
    ]);
  });
});

describe('resolving templates', () => {
  const scope = {
    input: { product: 'tulips', n: 3, tags: ['a', 'b'] },
    steps: { copy: { status: 'succeeded', output: { text: 'Buy!', score: 0.5 } } },
  };

  it('a whole-string template yields the typed value; an embedded one is interpolated as text', () => {
    expect(
      resolveInput(
        {
          n: '{{input.n}}',
          tags: '{{ input.tags }}',
          out: '{{steps.copy.output}}',
          line: 'Ad for {{input.product}} ({{input.n}}): {{steps.copy.output.text}} {{input.tags}}',
          nested: [{ deep: '{{size(input.tags) + 1}}' }],
          plain: 'no templates',
          num: 7,
        },
        scope,
      ),
    ).toEqual({
      n: 3,
      tags: ['a', 'b'],
      out: { text: 'Buy!', score: 0.5 },
      line: 'Ad for tulips (3): Buy! ["a","b"]',
      nested: [{ deep: 3 }],
      plain: 'no templates',
      num: 7,
    });
  });

  it('a missing field or a non-bool `when` is an error naming the field', () => {
    expect(() => resolveInput({ body: { t: '{{steps.copy.output.nope}}' } }, scope)).toThrow(
      /^input\.body\.t: .*No such key: nope/,
    );
    expect(() => evaluateWhen('input.n', scope)).toThrow('when: must yield true or false, got 3');
    expect(evaluateWhen('steps.copy.output.score > 0.4 && input.product == "tulips"', scope)).toBe(true);
  });
});

describe('the run decider: resolved input, branches, signals', () => {
  const steps = [
    { id: 'copy', type: 'ai.generate', input: { prompt: 'Ad for {{input.product}}' } },
    {
      id: 'post',
      type: 'http.request',
      dependsOn: ['copy'],
      input: { url: 'https://h.example', body: '{{steps.copy.output}}', subject: 'Ad: {{steps.copy.output.text}}' },
    },
    { id: 'ok', type: 'wait.signal', dependsOn: ['post'], input: { name: 'approval' } },
    { id: 'launch', type: 'delay', dependsOn: ['ok'], when: 'steps.ok.output.approved', input: { ms: 0 } },
    { id: 'after', type: 'delay', dependsOn: ['launch'], input: { ms: 0 } },
  ];
  const base = () => requested(steps, { product: 'tulips' });

  it('records the resolved input in WorkflowStepStarted, from the run input and ancestors outputs', () => {
    expect(when(given(base()), 'StartWorkflowStep', { stepId: 'copy', attempt: 1 })).toEqual([
      {
        ...started('copy', { prompt: 'Ad for tulips' }),
        data: { ...started('copy').data, input: { prompt: 'Ad for tulips' } },
      },
    ]);
    const state = given([...base(), started('copy', { prompt: 'Ad for tulips' }), succeeded('copy', { text: 'Buy!' })]);
    expect(when(state, 'StartWorkflowStep', { stepId: 'post', attempt: 1 })[0]).toMatchObject({
      data: { input: { url: 'https://h.example', body: { text: 'Buy!' } } },
    });
  });

  it('fails the step and the run for good when an expression cannot be evaluated', () => {
    const state = given([...base(), started('copy'), succeeded('copy', 'just text')]);
    const events = when(state, 'StartWorkflowStep', { stepId: 'post', attempt: 1 });
    expect(events.map((e) => e.type)).toEqual(['WorkflowStepFailed', 'WorkflowRunFailed']);
    expect(events[0]).toMatchObject({ data: { stepId: 'post', retryable: false } });
    expect((events[1]!.data as { error: string }).error).toMatch(/^step post: input\.subject: .*No such key: text/);
  });

  const waiting = () => [...base(), started('copy'), succeeded('copy', {}), started('post'), succeeded('post', {})];

  it('a signal completes the running wait.signal step with its payload', () => {
    const state = given([...waiting(), started('ok', { name: 'approval' })]);
    expect(when(state, 'SignalWorkflowRun', { name: 'approval', payload: { approved: true } })).toEqual([
      { type: 'WorkflowSignalReceived', data: { name: 'approval', payload: { approved: true } } },
      { type: 'WorkflowStepSucceeded', data: { stepId: 'ok', attempt: 1, output: { approved: true } } },
    ]);
    const err = expectError(
      () => when(state, 'CompleteWorkflowStep', { stepId: 'ok', output: {} }),
      'INVALID_TRANSITION',
    );
    expect(err.message).toContain('only a signal completes it');
  });

  it('a signal sent before its step starts waits for it; a second one, or one for no step, is refused', () => {
    const early: WorkflowRunEvent = {
      type: 'WorkflowSignalReceived',
      data: { name: 'approval', payload: { approved: false } },
    };
    expect(when(given(base()), 'SignalWorkflowRun', { name: 'approval' })).toEqual([
      { type: 'WorkflowSignalReceived', data: { name: 'approval', payload: {} } },
    ]);
    expectError(() => when(given([...base(), early]), 'SignalWorkflowRun', { name: 'approval' }), 'INVALID_TRANSITION');
    const unknown = expectError(() => when(given(base()), 'SignalWorkflowRun', { name: 'other' }), 'VALIDATION_FAILED');
    expect(unknown.issues).toEqual([{ field: 'data.name', message: expect.stringContaining('waits for: approval') }]);

    const events = when(given([...waiting(), early]), 'StartWorkflowStep', { stepId: 'ok', attempt: 1 });
    expect(events.map((e) => e.type)).toEqual(['WorkflowStepStarted', 'WorkflowStepSucceeded']);
    expect(events[1]).toMatchObject({ data: { output: { approved: false } } });
    // Taken: the buffer is empty again.
    const after = given([...waiting(), early, ...events]);
    expect(after.signals.approval).toEqual([]);
  });

  it('skips a step whose when is false, then its dependants whose every dependency was skipped; the run succeeds', () => {
    const approvedNo = given([...waiting(), started('ok', { name: 'approval' }), succeeded('ok', { approved: false })]);
    const skip = when(approvedNo, 'StartWorkflowStep', { stepId: 'launch', attempt: 1 });
    expect(skip).toEqual([
      { type: 'WorkflowStepSkipped', data: { stepId: 'launch', reason: 'when "steps.ok.output.approved" was false' } },
    ]);
    const skipped = given([...waiting(), started('ok'), succeeded('ok', { approved: false }), ...skip]);
    expect(skipped.stepStates.launch!.status).toBe('skipped');
    expect(when(skipped, 'StartWorkflowStep', { stepId: 'after', attempt: 1 })).toEqual([
      {
        type: 'WorkflowStepSkipped',
        data: { stepId: 'after', reason: 'every step it depends on was skipped (launch)' },
      },
      { type: 'WorkflowRunSucceeded', data: { outputs: { after: null } } },
    ]);
  });
});
