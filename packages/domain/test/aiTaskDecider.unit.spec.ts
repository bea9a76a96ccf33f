import { type AiTaskCommand, aiTaskCommandSchemas, aiTaskDecider } from '@lightdom/domain';
import { parseCommand } from '@lightdom/eventstore';
import { describe, expect, it } from 'vitest';
import { deciderHarness, expectError } from './support/deciders.js';

const now = new Date('2026-03-01T10:00:00Z');
const ctx = { now, aggregateId: 't1' };

const { cmd, given } = deciderHarness(aiTaskDecider, aiTaskCommandSchemas, ctx);

const fieldsOf = (data: unknown) =>
  expectError(() => parseCommand({ type: 'RequestAiTask', data }), 'VALIDATION_FAILED').issues?.map((i) => i.field);

const request = (extra: Record<string, unknown> = {}) =>
  cmd('RequestAiTask', { model: 'deepseek-r1:7b', prompt: 'Write a slogan', ...extra });
const start = (workerId = 'worker-1') => cmd('StartAiTask', { workerId });
const progress = (tokens: number, partialText = 'Sp') => cmd('RecordAiTaskProgress', { partialText, tokens });
const completeData = {
  text: 'Spring!',
  reasoning: 'short is good',
  promptTokens: 12,
  completionTokens: 3,
  durationMs: 840,
};
const fail = (retryable: boolean) => cmd('FailAiTask', { error: 'ollama unavailable', retryable });

describe('AI task decider', () => {
  it('records a request with a prompt, filling in defaults', () => {
    expect(aiTaskDecider.decide(request(), aiTaskDecider.initialState(), ctx)).toEqual([
      {
        type: 'AiTaskRequested',
        data: {
          model: 'deepseek-r1:7b',
          prompt: 'Write a slogan',
          messages: null,
          options: {},
          maxAttempts: 3,
          workflowRunId: null,
          stepId: null,
        },
      },
    ]);
    expect(given(request())).toMatchObject({ exists: true, status: 'requested', attempts: 0 });
  });

  it('records a request with messages and its workflow correlation', () => {
    const messages = [
      { role: 'system', content: 'You write slogans.' },
      { role: 'user', content: 'Spring sale' },
    ];
    const state = given(
      cmd('RequestAiTask', {
        model: 'deepseek-r1:7b',
        messages,
        options: { temperature: 0.2 },
        workflowRunId: 'r1',
        stepId: 'draft',
      }),
    );
    expect(state).toMatchObject({
      prompt: null,
      messages,
      options: { temperature: 0.2 },
      workflowRunId: 'r1',
      stepId: 'draft',
    });
  });

  it('wants exactly one of prompt and messages, naming the field', () => {
    expect(fieldsOf({ model: 'm' })).toEqual(['data.prompt']);
    expect(fieldsOf({ model: 'm', prompt: 'p', messages: [{ role: 'user', content: 'c' }] })).toEqual([
      'data.messages',
    ]);
    expect(fieldsOf({ model: 'm', messages: [{ role: 'robot', content: 'c' }] })).toEqual(['data.messages.0.role']);
    expect(fieldsOf({ model: 'm', prompt: 'p', stepId: 's' })).toEqual(['data.workflowRunId']);
    const unchecked = { type: 'RequestAiTask', data: { model: 'm', options: {}, maxAttempts: 1 } } as AiTaskCommand;
    const err = expectError(
      () => aiTaskDecider.decide(unchecked, aiTaskDecider.initialState(), ctx),
      'VALIDATION_FAILED',
    );
    expect(err.issues?.[0]?.field).toBe('data.prompt');
  });

  it('refuses to request twice and to touch a task that does not exist', () => {
    expectError(() => aiTaskDecider.decide(request(), given(request()), ctx), 'ALREADY_EXISTS');
    expectError(() => aiTaskDecider.decide(start(), aiTaskDecider.initialState(), ctx), 'NOT_FOUND');
  });

  it('starts with a worker and counts the attempt', () => {
    expect(aiTaskDecider.decide(start(), given(request()), ctx)).toEqual([
      { type: 'AiTaskStarted', data: { workerId: 'worker-1', attempt: 1, startedAt: now.toISOString() } },
    ]);
    expect(given(request(), start())).toMatchObject({ status: 'started', attempts: 1, workerId: 'worker-1' });
    const again = expectError(
      () => aiTaskDecider.decide(start(), given(request(), start()), ctx),
      'INVALID_TRANSITION',
    );
    expect(again.details?.status).toBe('started');
  });

  it('records progress only while started, and tokens never go back', () => {
    expect(aiTaskDecider.decide(progress(5, 'Spri'), given(request(), start()), ctx)).toEqual([
      { type: 'AiTaskProgressed', data: { attempt: 1, partialText: 'Spri', tokens: 5 } },
    ]);
    const early = expectError(() => aiTaskDecider.decide(progress(1), given(request()), ctx), 'INVALID_TRANSITION');
    expect(early.details?.status).toBe('requested');
    const back = expectError(
      () => aiTaskDecider.decide(progress(4), given(request(), start(), progress(5)), ctx),
      'INVARIANT_VIOLATION',
    );
    expect(back.details?.field).toBe('data.tokens');
  });

  it('completes with the reasoning kept apart from the answer', () => {
    expect(aiTaskDecider.decide(cmd('CompleteAiTask', completeData), given(request(), start()), ctx)).toEqual([
      { type: 'AiTaskCompleted', data: { ...completeData, attempt: 1 } },
    ]);
    const { reasoning: _r, ...noReasoning } = completeData;
    const state = given(request(), start(), cmd('CompleteAiTask', noReasoning));
    expect(state).toMatchObject({ status: 'completed', result: { ...noReasoning, reasoning: null } });
    expectError(
      () => aiTaskDecider.decide(cmd('CompleteAiTask', completeData), given(request()), ctx),
      'INVALID_TRANSITION',
    );
  });

  it('returns a task to requested after a retryable failure, until the attempts run out', () => {
    const once = given(request({ maxAttempts: 2 }), start(), progress(7), fail(true));
    expect(once).toMatchObject({ status: 'requested', attempts: 1, workerId: null, error: 'ollama unavailable' });
    const retried = given(request({ maxAttempts: 2 }), start(), progress(7), fail(true), start('worker-2'));
    expect(retried).toMatchObject({ status: 'started', attempts: 2, workerId: 'worker-2', tokens: 0 });
    expect(aiTaskDecider.decide(progress(1), retried, ctx)).toHaveLength(1);
    expect(aiTaskDecider.decide(fail(true), retried, ctx)).toEqual([
      { type: 'AiTaskFailed', data: { attempt: 2, error: 'ollama unavailable', retryable: true, willRetry: false } },
    ]);
    expect(given(request({ maxAttempts: 2 }), start(), fail(true), start(), fail(true)).status).toBe('failed');
  });

  it('fails for good on a non-retryable failure, and only while started', () => {
    expect(aiTaskDecider.decide(fail(false), given(request(), start()), ctx)).toEqual([
      { type: 'AiTaskFailed', data: { attempt: 1, error: 'ollama unavailable', retryable: false, willRetry: false } },
    ]);
    expect(given(request(), start(), fail(false)).status).toBe('failed');
    expectError(() => aiTaskDecider.decide(fail(true), given(request()), ctx), 'INVALID_TRANSITION');
  });

  it('cancels a requested or started task', () => {
    expect(aiTaskDecider.decide(cmd('CancelAiTask', { reason: 'no longer needed' }), given(request()), ctx)).toEqual([
      { type: 'AiTaskCancelled', data: { reason: 'no longer needed' } },
    ]);
    expect(given(request(), start(), cmd('CancelAiTask'))).toMatchObject({ status: 'cancelled', cancelReason: null });
  });

  const finished = {
    completed: () => given(request(), start(), cmd('CompleteAiTask', completeData)),
    failed: () => given(request(), start(), fail(false)),
    cancelled: () => given(request(), cmd('CancelAiTask')),
  };
  it.each(Object.keys(finished) as (keyof typeof finished)[])('accepts no command after the task %s', (status) => {
    const state = finished[status]();
    expect(state.status).toBe(status);
    for (const c of [start(), progress(1), cmd('CompleteAiTask', completeData), fail(true), cmd('CancelAiTask')]) {
      const err = expectError(() => aiTaskDecider.decide(c, state, ctx), 'INVALID_TRANSITION');
      expect(err.details?.status).toBe(status);
    }
  });
});
