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
      PORT: 3002,
      EXECUTOR_DURABLE: 'executor',
    });
  });

  it('names each bad variable', () => {
    let error: unknown;
    try {
      loadExecutorConfig({ PORT: 'abc', EXECUTOR_DURABLE: 'has.dot' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(2);
    expect(problems.find((p) => p.startsWith('PORT:'))).toContain('"abc"');
    expect(problems.find((p) => p.startsWith('EXECUTOR_DURABLE:'))).toBeDefined();
  });
});
