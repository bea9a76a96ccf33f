import type { StoredCommit } from '@lightdom/domain';
import { describe, expect, it } from 'vitest';
import { classifyOllamaError } from '../src/failures.js';
import { requestedAttempt, retryDelayMs, retryWaitMs } from '../src/triggers.js';
import { foreignChange } from '../src/watchTask.js';

const commit = (version: number, ...events: { type: string; data?: unknown }[]): StoredCommit =>
  ({
    version,
    timestamp: '2025-01-01T00:00:00.000Z',
    events: events.map((e, i) => ({ id: `e${i}`, schemaVersion: 1, data: {}, ...e })),
  }) as StoredCommit;

describe('which commits ask for an attempt', () => {
  it('a request asks for the first, a failure that will retry for the next', () => {
    expect(requestedAttempt(commit(1, { type: 'AiTaskRequested' }))?.attempt).toBe(1);
    const failed = (willRetry: boolean) =>
      commit(5, { type: 'AiTaskFailed', data: { attempt: 2, error: 'x', retryable: true, willRetry } });
    expect(requestedAttempt(failed(true))?.attempt).toBe(3);
    expect(requestedAttempt(failed(false))).toBeNull();
    expect(requestedAttempt(commit(2, { type: 'AiTaskStarted' }))).toBeNull();
  });

  it('retries back off from the base delay, doubling, capped at 5 minutes', () => {
    expect([1, 2, 3, 4].map((a) => retryDelayMs(a, 1000))).toEqual([0, 1000, 2000, 4000]);
    expect(retryDelayMs(10, 60_000)).toBe(300_000);
    const failed = commit(5, { type: 'AiTaskFailed', data: { attempt: 1, willRetry: true } });
    const request = requestedAttempt(failed)!;
    const at = Date.parse(failed.timestamp);
    expect(retryWaitMs(failed, request, 1000, at + 250)).toBe(750);
    expect(retryWaitMs(failed, request, 1000, at + 5000)).toBe(0);
  });
});

describe('what a commit means to a running attempt', () => {
  it('cancels on AiTaskCancelled; a failure, start or completion by someone else supersedes it', () => {
    expect(foreignChange(commit(4, { type: 'AiTaskCancelled' }), 3)).toBe('cancelled');
    expect(foreignChange(commit(4, { type: 'AiTaskFailed' }), 3)).toBe('superseded');
    expect(foreignChange(commit(5, { type: 'AiTaskStarted' }), 3)).toBe('superseded');
    expect(foreignChange(commit(4, { type: 'AiTaskProgressed' }), 3)).toBeNull();
    expect(foreignChange(commit(3, { type: 'AiTaskStarted' }), 3)).toBeNull();
  });
});

describe('which Ollama errors are worth another attempt', () => {
  const responseError = (status: number, message: string) =>
    Object.assign(new Error(message), { name: 'ResponseError', status_code: status });

  it('4xx are not (an unknown model), except 408 and 429; 5xx are', () => {
    expect(classifyOllamaError(responseError(404, "model 'x' not found"))).toEqual({
      error: "Ollama answered 404: model 'x' not found",
      retryable: false,
    });
    expect(classifyOllamaError(responseError(400, 'bad option')).retryable).toBe(false);
    expect(classifyOllamaError(responseError(429, 'busy')).retryable).toBe(true);
    expect(classifyOllamaError(responseError(503, 'loading')).retryable).toBe(true);
  });

  it('connection errors and broken streams are, naming the socket error', () => {
    const refused = new TypeError('fetch failed', { cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }) });
    expect(classifyOllamaError(refused)).toEqual({
      error: 'Ollama request failed: fetch failed (ECONNREFUSED)',
      retryable: true,
    });
    expect(classifyOllamaError(new Error('Did not receive done or success response in stream.')).retryable).toBe(true);
  });
});
