import { ConfigError } from '@lightdom/events';
import { describe, expect, it } from 'vitest';
import { loadAiWorkerConfig } from '../src/index.js';

describe('ai-worker config', () => {
  it('has defaults for every variable', () => {
    expect(loadAiWorkerConfig({})).toEqual({
      NATS_URL: 'nats://127.0.0.1:4222',
      EVENTS_STREAM: 'EVENTS',
      EVENTS_SUBJECT_PREFIX: 'events',
      HOST: '0.0.0.0',
      PORT: 3004,
      OLLAMA_URL: 'http://127.0.0.1:11434',
      AI_DEFAULT_MODEL: 'deepseek-r1:7b',
      AI_WORKER_DURABLE: 'ai-worker',
    });
  });

  it('names each bad variable', () => {
    let error: unknown;
    try {
      loadAiWorkerConfig({ PORT: 'abc', OLLAMA_URL: 'ftp://x' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(2);
    expect(problems.find((p) => p.startsWith('PORT:'))).toContain('"abc"');
    expect(problems.find((p) => p.startsWith('OLLAMA_URL:'))).toContain('http or https');
  });
});
