import { hostname } from 'node:os';
import { ConfigError } from '@lightdom/runtime';
import { describe, expect, it } from 'vitest';
import { loadAiWorkerConfig } from '../src/index.js';

const service = { API_TOKENS: 'svc-token:ai-1:service', SERVICE_TOKEN: 'svc-token' };

describe('ai-worker config', () => {
  it('has defaults for every variable', () => {
    const { tokens, identity, ...config } = loadAiWorkerConfig(service);
    expect(identity).toEqual({ actor: 'ai-1', role: 'service' });
    expect(tokens.enabled).toBe(true);
    expect(config).toEqual({
      NATS_URL: 'nats://127.0.0.1:4222',
      EVENTS_STREAM: 'EVENTS',
      EVENTS_SUBJECT_PREFIX: 'events',
      HOST: '127.0.0.1',
      API_TOKENS: service.API_TOKENS,
      AUTH: 'on',
      SERVICE_TOKEN: 'svc-token',
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
      AI_WORKER_SWEEP_MS: 30_000,
      AI_WORKER_SWEEP_IDLE_MS: 120_000,
    });
  });

  it('reads the worker settings', () => {
    expect(
      loadAiWorkerConfig({
        ...service,
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
        ...service,
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

  it('refuses to start without a service token of its own (AUTH on)', () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadAiWorkerConfig(env);
      } catch (err) {
        return (err as ConfigError).problems;
      }
      return [];
    };
    expect(problems({})).toEqual([
      "SERVICE_TOKEN: is required: the ai-worker's own token, listed in API_TOKENS or API_TOKENS_FILE with role service (or set AUTH=off to run without authentication)",
    ]);
    expect(problems({ API_TOKENS: 'rd:dash:reader', SERVICE_TOKEN: 'rd' })).toEqual([
      'SERVICE_TOKEN: names dash with role reader; the ai-worker needs a token with role service (or admin)',
    ]);
    expect(loadAiWorkerConfig({ AUTH: 'off' }).identity).toEqual({ actor: 'ai-worker', role: 'service' });
  });
});
