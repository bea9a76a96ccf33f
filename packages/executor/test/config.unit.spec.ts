import { ConfigError } from '@lightdom/runtime';
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
      HTTP_STEP_MAX_RESPONSE_BYTES: 262_144,
      HTTP_STEP_MAX_OUTPUT_BYTES: 65_536,
      HTTP_STEP_MAX_JSON_DEPTH: 32,
      HTTP_STEP_MAX_ERROR_BODY_CHARS: 200,
      HTTP_STEP_MAX_REDIRECTS: 5,
      HTTP_STEP_ALLOW: [],
      EXECUTOR_MAX_DELIVERIES: 5,
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

  it('parses HTTP_STEP_ALLOW: hosts, host:port, addresses and CIDRs', () => {
    const config = loadExecutorConfig({
      HTTP_STEP_ALLOW: 'n8n.internal:5678, hooks.corp ,10.8.0.0/16,[fd00::5]:8443,127.0.0.1, ::1',
    });
    expect(config.HTTP_STEP_ALLOW).toEqual([
      { kind: 'host', host: 'n8n.internal', port: 5678 },
      { kind: 'host', host: 'hooks.corp' },
      { kind: 'cidr', net: '10.8.0.0', prefix: 16, family: 'ipv4' },
      { kind: 'cidr', net: 'fd00::5', prefix: 128, family: 'ipv6', port: 8443 },
      { kind: 'cidr', net: '127.0.0.1', prefix: 32, family: 'ipv4' },
      { kind: 'cidr', net: '::1', prefix: 128, family: 'ipv6' },
    ]);
  });

  it('names each bad HTTP_STEP_ALLOW entry at start-up', () => {
    let error: unknown;
    try {
      loadExecutorConfig({ HTTP_STEP_ALLOW: 'ok.host,bad host,10.0.0.0/33,n8n:99999,fd00::/8,1.2.3.4.5,a:b:c' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(5);
    expect(problems.every((p) => p.startsWith('HTTP_STEP_ALLOW: entry '))).toBe(true);
    expect(problems.join('\n')).toContain('entry "bad host": "bad host" is not a host name, host:port or CIDR');
    expect(problems.join('\n')).toContain('entry "10.0.0.0/33": prefix /33 is not 0-32');
    expect(problems.join('\n')).toContain('entry "n8n:99999": port 99999 is not 1-65535');
    expect(problems.join('\n')).toContain('entry "1.2.3.4.5": 1.2.3.4.5 is not an IPv4 address');
    expect(problems.join('\n')).toContain('entry "a:b:c": has more than one ":"');
  });
});
