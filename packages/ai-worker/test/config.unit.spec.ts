import { hostname } from 'node:os';
import { ConfigError } from '@lightdom/runtime';
import { describe, expect, it } from 'vitest';
import { loadAiWorkerConfig } from '../src/index.js';

describe('ai-worker config', () => {
  it('has defaults for every variable', () => {
    expect(loadAiWorkerConfig({})).toEqual({
      NATS_URL: 'nats://127.0.0.1:4222',
      EVENTS_STREAM: 'EVENTS',
      EVENTS_SUBJECT_PREFIX: 'events',
      HOST: '0.0.0.0',
      API_TOKENS: new Map(),
      PORT: 3004,
      OLLAMA_URL: 'http://127.0.0.1:11434',
      AI_DEFAULT_MODEL: 'deepseek-r1:7b',
      AI_WORKER_DURABLE: 'ai-worker',
      AI_WORKER_ID: `${hostname()}-${process.pid}`,
      AI_WORKER_CONCURRENCY: 2,
      AI_TASK_TIMEOUT_MS: 600_000,
      AI_PROGRESS_INTERVAL_MS: 500,
      AI_RETRY_DELAY_MS: 5_000,
      AI_WORKER_ACK_WAIT_MS: 60_000,
    });
  });

  it('reads the worker settings', () => {
    expect(
      loadAiWorkerConfig({
        AI_WORKER_ID: 'ai-7',
        AI_WORKER_CONCURRENCY: '4',
        AI_TASK_TIMEOUT_MS: '30000',
        AI_PROGRESS_INTERVAL_MS: '250',
      }),
    ).toMatchObject({
      AI_WORKER_ID: 'ai-7',
      AI_WORKER_CONCURRENCY: 4,
      AI_TASK_TIMEOUT_MS: 30_000,
      AI_PROGRESS_INTERVAL_MS: 250,
    });
  });

  it('names each bad variable', () => {
    let error: unknown;
    try {
      loadAiWorkerConfig({
        PORT: 'abc',
        OLLAMA_URL: 'ftp://x',
        AI_WORKER_CONCURRENCY: '0',
        AI_TASK_TIMEOUT_MS: 'soon',
        AI_WORKER_ACK_WAIT_MS: '10',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(5);
    expect(problems.find((p) => p.startsWith('PORT:'))).toContain('"abc"');
    expect(problems.find((p) => p.startsWith('OLLAMA_URL:'))).toContain('http or https');
    expect(problems.find((p) => p.startsWith('AI_WORKER_CONCURRENCY:'))).toContain('"0"');
    expect(problems.find((p) => p.startsWith('AI_TASK_TIMEOUT_MS:'))).toContain('"soon"');
    expect(problems.find((p) => p.startsWith('AI_WORKER_ACK_WAIT_MS:'))).toContain('at least 1000');
  });
});
