import {
  aggregateIdSchema,
  type EventRecord,
  type WorkflowRunCommand,
  workflowRunCommandSchemas,
  workflowRunDecider,
} from '@lightdom/domain';
import { describe, expect, it } from 'vitest';
import {
  activitiesOf,
  aiTaskIdFor,
  aiTaskOutcome,
  classifyStatus,
  decideNext,
  initialRunView,
  type RunView,
  runViewDecider,
  stepOutput,
  timeoutError,
  timerOf,
} from '../src/index.js';

const t0 = new Date('2026-03-01T10:00:00.000Z');
const at = (ms: number) => new Date(t0.getTime() + ms);

/** side ∥ (notify → wait → launch); notify retries, ai has a deadline. */
const steps = [
  { id: 'notify', type: 'http.request', input: { url: 'http://x' }, retry: { maxAttempts: 3, backoffMs: 1000 } },
  { id: 'wait', type: 'delay', input: { ms: 200 }, dependsOn: ['notify'], timeoutMs: 5000 },
  { id: 'launch', type: 'campaign.command', input: {}, dependsOn: ['wait'] },
  { id: 'side', type: 'ai.generate', input: { prompt: 'p' }, timeoutMs: 1000 },
];

function cmd(type: WorkflowRunCommand['type'], data: unknown = {}): WorkflowRunCommand {
  return { type, data: workflowRunCommandSchemas[type].parse(data) } as WorkflowRunCommand;
}

/** Folds the events of commands decided in turn, each at its own time; returns the view and the last events. */
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

const request = (): [WorkflowRunCommand, number] => [
  cmd('RequestWorkflowRun', { workflowId: 'w1', definitionVersion: 1, steps }),
  0,
];
const startRun = (): [WorkflowRunCommand, number] => [cmd('StartWorkflowRun'), 0];
const start = (stepId: string, attempt = 1, ms = 0): [WorkflowRunCommand, number] => [
  cmd('StartWorkflowStep', { stepId, attempt }),
  ms,
];
const complete = (stepId: string, ms = 0): [WorkflowRunCommand, number] => [
  cmd('CompleteWorkflowStep', { stepId, output: `${stepId}-out` }),
  ms,
];
const fail = (stepId: string, retryable: boolean, ms = 0): [WorkflowRunCommand, number] => [
  cmd('FailWorkflowStep', { stepId, error: 'boom', retryable }),
  ms,
];

const brief = (view: RunView, ms: number) =>
  decideNext('r1', view, at(ms)).map((c) => ({ type: c.type, data: c.data, key: c.idempotencyKey, reason: c.reason }));

describe('decideNext', () => {
  it('starts a requested run', () => {
    expect(brief(given(request()).view, 0)).toEqual([
      { type: 'StartWorkflowRun', data: {}, key: 'wf:r1:start-run', reason: 'run-requested' },
    ]);
  });

  it('starts every step whose dependencies succeeded, in definition order, at attempt 1', () => {
    expect(brief(given(request(), startRun()).view, 0)).toEqual([
      {
        type: 'StartWorkflowStep',
        data: { stepId: 'notify', attempt: 1 },
        key: 'wf:r1:notify:1:start',
        reason: 'step-runnable',
      },
      {
        type: 'StartWorkflowStep',
        data: { stepId: 'side', attempt: 1 },
        key: 'wf:r1:side:1:start',
        reason: 'step-runnable',
      },
    ]);
    const { view } = given(request(), startRun(), start('notify'), start('side'), complete('notify'));
    expect(brief(view, 0).map((c) => c.data)).toEqual([{ stepId: 'wait', attempt: 1 }]);
  });

  it('starts the next attempt of a step once its retry is due, not before', () => {
    const { view } = given(request(), startRun(), start('notify'), fail('notify', true, 100));
    expect(view.run.stepStates.notify?.retryAt).toBe(at(1100).toISOString());
    const notify = (ms: number) => brief(view, ms).filter((c) => c.data.stepId === 'notify');
    expect(notify(1099)).toEqual([]);
    expect(notify(1100)).toEqual([
      {
        type: 'StartWorkflowStep',
        data: { stepId: 'notify', attempt: 2 },
        key: 'wf:r1:notify:2:start',
        reason: 'retry-due',
      },
    ]);
  });

  it('fails a running step past its deadline as a retryable timeout, and cancels its AI task', () => {
    const { view } = given(request(), startRun(), start('notify'), start('side', 1, 50));
    expect(brief(view, 1049)).toEqual([]);
    expect(brief(view, 1050)).toEqual([
      {
        type: 'FailWorkflowStep',
        data: { stepId: 'side', error: timeoutError({ timeoutMs: 1000 }), retryable: true },
        key: 'wf:r1:side:1:timeout',
        reason: 'deadline-passed',
      },
      {
        type: 'CancelAiTask',
        data: { reason: 'workflow step timed out' },
        key: 'wf:r1:side:1:ai-cancel',
        reason: 'deadline-passed',
      },
    ]);
    expect(decideNext('r1', view, at(1050))[1]?.aggregateId).toBe(aiTaskIdFor('r1', 'side', 1));
  });

  it('completes a delay step when it is due, computed from the attempt start', () => {
    const base = given(
      request(),
      startRun(),
      start('side'),
      start('notify'),
      complete('notify'),
      start('wait', 1, 300),
    );
    expect(brief(base.view, 499).filter((c) => c.type !== 'FailWorkflowStep')).toEqual([]);
    const due = brief(base.view, 500).find((c) => c.data.stepId === 'wait');
    expect(due).toEqual({
      type: 'CompleteWorkflowStep',
      data: { stepId: 'wait', output: { ms: 200, dueAt: at(500).toISOString() } },
      key: 'wf:r1:wait:1:complete',
      reason: 'delay-due',
    });
    // Looked at only after both passed (the executor was down): the delay was due first.
    expect(brief(base.view, 60_000).find((c) => c.data.stepId === 'wait')?.type).toBe('CompleteWorkflowStep');
  });

  it('times out a delay whose deadline comes first, and fails an invalid delay for good', () => {
    const slow = [
      { id: 'w', type: 'delay', input: { ms: 10_000 }, timeoutMs: 300 },
      { id: 'bad', type: 'delay', input: { ms: -1 } },
    ];
    const { view } = given(
      [cmd('RequestWorkflowRun', { workflowId: 'w1', definitionVersion: 1, steps: slow }), 0],
      startRun(),
      start('w'),
      start('bad'),
    );
    expect(brief(view, 300)).toEqual([
      {
        type: 'FailWorkflowStep',
        data: { stepId: 'w', error: 'timeout: no outcome within 300 ms', retryable: true },
        key: 'wf:r1:w:1:timeout',
        reason: 'deadline-passed',
      },
      {
        type: 'FailWorkflowStep',
        data: { stepId: 'bad', error: expect.stringContaining('delay needs input.ms'), retryable: false },
        key: 'wf:r1:bad:1:fail',
        reason: 'delay-invalid',
      },
    ]);
  });

  it('cancels the AI tasks of a run that ended while they ran; nothing for a succeeded run', () => {
    const { view } = given(request(), startRun(), start('side'), start('notify'), fail('notify', false));
    expect(view.run.status).toBe('failed');
    expect(brief(view, 0)).toEqual([
      {
        type: 'CancelAiTask',
        data: { reason: 'workflow run failed' },
        key: 'wf:r1:side:1:ai-cancel',
        reason: 'run-ended',
      },
    ]);
    const one = [{ id: 'only', type: 'delay', input: { ms: 1 } }];
    const done = given(
      [cmd('RequestWorkflowRun', { workflowId: 'w1', definitionVersion: 1, steps: one }), 0],
      startRun(),
      start('only'),
      complete('only'),
    );
    expect(done.view.run.status).toBe('succeeded');
    expect(brief(done.view, 0)).toEqual([]);
    expect(brief(initialRunView(), 0)).toEqual([]);
  });

  it('is pure: the same view and time give the same commands, and the view is not changed', () => {
    const { view } = given(request(), startRun(), start('notify'), start('side'));
    const frozen = JSON.stringify(view);
    expect(decideNext('r1', view, at(5000))).toEqual(decideNext('r1', view, at(5000)));
    expect(JSON.stringify(view)).toBe(frozen);
  });
});

describe('what a commit asks for', () => {
  it('an activity for a step it started that is still at that attempt', () => {
    const started = given(request(), startRun(), start('notify', 1, 10));
    const work = activitiesOf(started.events, started.view);
    expect(work).toMatchObject([{ step: { id: 'notify' }, attempt: 1, startedAt: at(10).toISOString() }]);
    const later = given(request(), startRun(), start('notify'), complete('notify'));
    expect(activitiesOf(started.events, later.view)).toEqual([]);
  });

  it('no activity for a delay: a timer at its due time, capped by its deadline', () => {
    const w = given(request(), startRun(), start('notify'), complete('notify'), start('wait', 1, 100));
    expect(activitiesOf(w.events, w.view)).toEqual([]);
    expect(timerOf(w.events, w.view)).toEqual(at(300));
  });

  it('a timer at the deadline of an AI step, at the retry time of a scheduled retry, none once the run ended', () => {
    const ai = given(request(), startRun(), start('side', 1, 20));
    expect(timerOf(ai.events, ai.view)).toEqual(at(1020));
    const retry = given(request(), startRun(), start('notify'), fail('notify', true, 100));
    expect(timerOf(retry.events, retry.view)).toEqual(at(1100));
    const ended = given(request(), startRun(), start('side', 1, 20), [cmd('CancelWorkflowRun', { reason: 'x' }), 30]);
    expect(timerOf(ai.events, ended.view)).toBeNull();
  });
});

describe('activity helpers', () => {
  it('classifies HTTP statuses: 2xx success, 5xx/408/429 retryable, other 4xx permanent', () => {
    expect([200, 204, 299].map(classifyStatus)).toEqual(['success', 'success', 'success']);
    expect([500, 503, 408, 429].map(classifyStatus)).toEqual(['retryable', 'retryable', 'retryable', 'retryable']);
    expect([400, 404, 410, 304].map(classifyStatus)).toEqual(['permanent', 'permanent', 'permanent', 'permanent']);
  });

  it('keeps a JSON body as JSON, anything else as text', () => {
    const bounds = { maxOutputBytes: 1000, maxJsonDepth: 32, maxErrorBodyChars: 10 };
    const body = (type: string | undefined, text: string) => stepOutput(200, type, Buffer.from(text), bounds).body;
    expect(body('application/json; charset=utf-8', '{"a":1}')).toEqual({ a: 1 });
    expect(body('application/problem+json', '{"a":1}')).toEqual({ a: 1 });
    expect(body('application/json', 'not json')).toBe('not json');
    expect(body('text/plain', '{"a":1}')).toBe('{"a":1}');
    expect(body(undefined, '')).toBeNull();
  });

  it('reads an AI task commit for its ending', () => {
    const ev = (type: string, data: unknown): EventRecord => ({ id: 'e', type, schemaVersion: 1, data });
    expect(aiTaskOutcome([ev('AiTaskCompleted', { text: 'hi', reasoning: 'r', attempt: 1 })])?.outcome).toEqual({
      kind: 'complete',
      output: { text: 'hi', reasoning: 'r' },
    });
    expect(aiTaskOutcome([ev('AiTaskFailed', { error: 'x', retryable: true, willRetry: true })])).toBeNull();
    expect(aiTaskOutcome([ev('AiTaskFailed', { error: 'x', retryable: true, willRetry: false })])?.outcome).toEqual({
      kind: 'fail',
      error: 'AI task failed: x',
      retryable: true,
    });
    expect(aiTaskOutcome([ev('AiTaskCancelled', { reason: null })])?.outcome).toMatchObject({ retryable: false });
    expect(aiTaskOutcome([ev('AiTaskProgressed', { tokens: 3 })])).toBeNull();
  });

  it('derives AI task ids that are valid aggregate ids, one per attempt', () => {
    const long = 'r'.repeat(100);
    const id = aiTaskIdFor(long, 's'.repeat(64), 1);
    expect(aggregateIdSchema.safeParse(id).success).toBe(true);
    expect(aiTaskIdFor('r1', 'a', 1)).toBe(aiTaskIdFor('r1', 'a', 1));
    expect(aiTaskIdFor('r1', 'a', 2)).not.toBe(aiTaskIdFor('r1', 'a', 1));
    expect(aiTaskIdFor('r1-a', 'b', 1)).not.toBe(aiTaskIdFor('r1', 'a-b', 1));
  });
});
