import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@lightdom/runtime';
import { describe, expect, it } from 'vitest';
import { loadExecutorConfig } from '../src/index.js';

const service = { API_TOKENS: 'svc-token:executor-1:service', SERVICE_TOKEN: 'svc-token' };

/** The problems a ConfigError names, or [] when `load` does not throw one. */
function problemsOf(load: () => unknown): string[] {
  try {
    load();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('executor config', () => {
  it('has defaults for every variable', () => {
    const { tokens, identity, ...config } = loadExecutorConfig(service);
    expect(identity).toEqual({ actor: 'executor-1', role: 'service' });
    expect(tokens.enabled).toBe(true);
    expect(config).toEqual({
      NATS_URL: 'nats://127.0.0.1:4222',
      EVENTS_STREAM: 'EVENTS',
      EVENTS_SUBJECT_PREFIX: 'events',
      HOST: '127.0.0.1',
      API_TOKENS: service.API_TOKENS,
      AUTH: 'on',
      SERVICE_TOKEN: 'svc-token',
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
      CHAIN_ANCHOR_WAIT_MS: 60_000,
      CHAIN_ANCHOR_POLL_MS: 1000,
      WAIT_EVENT_WAIT_MS: 60_000,
      WAIT_EVENT_POLL_MS: 500,
      EXECUTOR_SWEEP_MS: 30_000,
      EXECUTOR_SWEEP_IDLE_MS: 120_000,
      EXECUTOR_SCHEDULES: 'on',
      SCHEDULE_TICK_MS: 1000,
      AI_DEFAULT_MODEL: 'deepseek-r1:7b',
      IDEMPOTENCY_BUCKET: 'LIGHTDOM_IDEMPOTENCY',
      IDEMPOTENCY_TTL_MS: 86_400_000,
    });
  });

  it('reads numbers from strings', () => {
    const config = loadExecutorConfig({ ...service, EXECUTOR_CONCURRENCY: '4', HTTP_STEP_DEFAULT_TIMEOUT_MS: '2500' });
    expect(config).toMatchObject({ EXECUTOR_CONCURRENCY: 4, HTTP_STEP_DEFAULT_TIMEOUT_MS: 2500 });
  });

  it('names each bad variable', () => {
    let error: unknown;
    try {
      loadExecutorConfig({
        ...service,
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
      ...service,
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
      loadExecutorConfig({
        ...service,
        HTTP_STEP_ALLOW: 'ok.host,bad host,10.0.0.0/33,n8n:99999,fd00::/8,1.2.3.4.5,a:b:c',
      });
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

  it('needs its own service token unless AUTH=off, naming SERVICE_TOKEN and never echoing a token', () => {
    expect(problemsOf(() => loadExecutorConfig({ API_TOKENS: service.API_TOKENS }))).toEqual([
      "SERVICE_TOKEN: is required: the executor's own token, listed in API_TOKENS or API_TOKENS_FILE with role service (or set AUTH=off to run without authentication)",
    ]);
    const unknown = problemsOf(() => loadExecutorConfig({ ...service, SERVICE_TOKEN: 'not-listed-secret' }));
    expect(unknown).toEqual([
      'SERVICE_TOKEN: is not one of the tokens in API_TOKENS or API_TOKENS_FILE (1 configured)',
    ]);
    const operator = problemsOf(() =>
      loadExecutorConfig({ API_TOKENS: 'op-secret:alice:operator', SERVICE_TOKEN: 'op-secret' }),
    );
    expect(operator).toEqual([
      'SERVICE_TOKEN: names alice with role operator; the executor needs a token with role service (or admin)',
    ]);
    expect([...unknown, ...operator].join(' ')).not.toMatch(/secret/);
    expect(problemsOf(() => loadExecutorConfig({ API_TOKENS: 'x:bad:root', SERVICE_TOKEN: 'x' }))).toEqual([
      'API_TOKENS: entry 1: the role must be one of reader, operator, service, admin',
    ]);
  });

  it('takes SERVICE_TOKEN_FILE, and an admin token', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ld-exec-'));
    writeFileSync(join(dir, 'token'), 'adm-token\n');
    const config = loadExecutorConfig({ API_TOKENS: 'adm-token:root:admin', SERVICE_TOKEN_FILE: join(dir, 'token') });
    expect(config.identity).toEqual({ actor: 'root', role: 'admin' });
  });

  it('with AUTH=off, acts as the executor service with no token', () => {
    const config = loadExecutorConfig({ AUTH: 'off' });
    expect(config.tokens.enabled).toBe(false);
    expect(config.identity).toEqual({ actor: 'executor', role: 'service' });
  });
});
