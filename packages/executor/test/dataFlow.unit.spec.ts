import {
  type EventRecord,
  type WorkflowRunCommand,
  workflowRunCommandSchemas,
  workflowRunDecider,
} from '@lightdom/domain';
import { describe, expect, it } from 'vitest';
import { activitiesOf, decideNext, initialRunView, type RunView, runViewDecider, timerOf } from '../src/index.js';

// The engine with templated inputs: what it times and what activities get come from the
// input recorded when the attempt started, never from the definition's templates.
const t0 = new Date('2026-03-01T10:00:00.000Z');
const at = (ms: number) => new Date(t0.getTime() + ms);

const steps = [
  { id: 'a', type: 'http.request', input: { url: 'http://x' } },
  { id: 'wait', type: 'delay', dependsOn: ['a'], input: { ms: '{{steps.a.output.body.ms}}' } },
  { id: 'post', type: 'http.request', dependsOn: ['wait'], input: { url: 'http://x/{{input.path}}' } },
  { id: 'ok', type: 'wait.signal', dependsOn: ['a'], input: { name: 'go' }, timeoutMs: 1000 },
];

function cmd(type: WorkflowRunCommand['type'], data: unknown = {}): WorkflowRunCommand {
  return { type, data: workflowRunCommandSchemas[type].parse(data) } as WorkflowRunCommand;
}

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

const base = (): [WorkflowRunCommand, number][] => [
  [cmd('RequestWorkflowRun', { workflowId: 'w', definitionVersion: 1, steps, input: { path: 'hook' } }), 0],
  [cmd('StartWorkflowRun'), 0],
  [cmd('StartWorkflowStep', { stepId: 'a', attempt: 1 }), 0],
  [cmd('CompleteWorkflowStep', { stepId: 'a', output: { status: 200, body: { ms: 300 } } }), 0],
];

describe('engine with templated inputs', () => {
  it('times a delay from its resolved ms and completes it when due', () => {
    const { view, events } = given(...base(), [cmd('StartWorkflowStep', { stepId: 'wait', attempt: 1 }), 100]);
    expect(timerOf(events, view)).toEqual(at(400));
    expect(decideNext('r1', view, at(399)).filter((c) => c.stepId === 'wait')).toEqual([]);
    expect(decideNext('r1', view, at(400)).find((c) => c.stepId === 'wait')).toMatchObject({
      type: 'CompleteWorkflowStep',
      data: { output: { ms: 300, dueAt: at(400).toISOString() } },
    });
  });

  it('hands activities the input their attempt started with, and runs none for wait.signal', () => {
    const { view, events } = given(
      ...base(),
      [cmd('StartWorkflowStep', { stepId: 'wait', attempt: 1 }), 0],
      [cmd('CompleteWorkflowStep', { stepId: 'wait', output: {} }), 300],
      [cmd('StartWorkflowStep', { stepId: 'post', attempt: 1 }), 300],
    );
    expect(activitiesOf(events, view).map((w) => w.step.input)).toEqual([{ url: 'http://x/hook' }]);
    const signal = given(...base(), [cmd('StartWorkflowStep', { stepId: 'ok', attempt: 1 }), 0]);
    expect(activitiesOf(signal.events, signal.view)).toEqual([]);
    // Its deadline is a timer like any other.
    expect(timerOf(signal.events, signal.view)).toEqual(at(1000));
    expect(decideNext('r1', signal.view, at(1000)).find((c) => c.stepId === 'ok')).toMatchObject({
      type: 'FailWorkflowStep',
      data: { error: 'timeout: no outcome within 1000 ms', retryable: true },
    });
  });
});
