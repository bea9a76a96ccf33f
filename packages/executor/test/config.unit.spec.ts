import { ConfigError } from '@lightdom/events';
import { describe, expect, it } from 'vitest';
import { loadExecutorConfig } from '../src/index.js';

describe('executor config', () => {
  it('has defaults for every variable', () => {
    expect(loadExecutorConfig({})).toEqual({
      NATS_URL: 'nats://127.0.0.1:4222',
      EVENTS_STREAM: 'EVENTS',
      EVENTS_SUBJECT_PREFIX: 'events',
      HOST: '0.0.0.0',
      API_TOKENS: new Map(),
      PORT: 3002,
      EXECUTOR_DURABLE: 'executor',
      EXECUTOR_AI_DURABLE: 'executor-ai-tasks',
      EXECUTOR_CONCURRENCY: 16,
      EXECUTOR_ACK_WAIT_MS: 30_000,
      EXECUTOR_MAX_ACK_PENDING: 10_000,
      HTTP_STEP_DEFAULT_TIMEOUT_MS: 30_000,
      HTTP_STEP_MAX_RESPONSE_BYTES: 1_048_576,
      AI_DEFAULT_MODEL: 'deepseek-r1:7b',
      IDEMPOTENCY_BUCKET: 'LIGHTDOM_IDEMPOTENCY',
      IDEMPOTENCY_TTL_MS: 86_400_000,
    });
  });

  it('reads numbers from strings', () => {
    const config = loadExecutorConfig({ EXECUTOR_CONCURRENCY: '4', HTTP_STEP_DEFAULT_TIMEOUT_MS: '2500' });
    expect(config).toMatchObject({ EXECUTOR_CONCURRENCY: 4, HTTP_STEP_DEFAULT_TIMEOUT_MS: 2500 });
  });

  it('names each bad variable', () => {
    let error: unknown;
    try {
      loadExecutorConfig({
        PORT: 'abc',
        EXECUTOR_DURABLE: 'has.dot',
        EXECUTOR_CONCURRENCY: '0',
        EXECUTOR_ACK_WAIT_MS: '10',
        HTTP_STEP_DEFAULT_TIMEOUT_MS: 'soon',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(5);
    expect(problems.find((p) => p.startsWith('PORT:'))).toContain('"abc"');
    for (const name of [
      'EXECUTOR_DURABLE',
      'EXECUTOR_CONCURRENCY',
      'EXECUTOR_ACK_WAIT_MS',
      'HTTP_STEP_DEFAULT_TIMEOUT_MS',
    ]) {
      expect(problems.find((p) => p.startsWith(`${name}:`))).toBeDefined();
    }
    expect(problems.find((p) => p.startsWith('EXECUTOR_ACK_WAIT_MS:'))).toContain('at least 1000');
  });
});
