import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@lightdom/runtime';
import { spawnService } from '@lightdom/testkit';
import { describe, expect, it } from 'vitest';
import { loadCommandApiConfig, noTokenProblem } from '../src/index.js';

describe('command-api config', () => {
  it('has a default for every variable but a token: with none and AUTH on, it refuses to load', () => {
    expect(() => loadCommandApiConfig({})).toThrow(expect.objectContaining({ problems: [noTokenProblem] }));
    const c = loadCommandApiConfig({ AUTH: 'off' });
    expect(c).toMatchObject({ PORT: 3001, NATS_URL: 'nats://127.0.0.1:4222', EVENTS_STREAM: 'EVENTS' });
    expect(c.tokens.enabled).toBe(false);
  });

  it('reads token:actor:role entries (no role: operator) into the registry', () => {
    const c = loadCommandApiConfig({ API_TOKENS: 'r1:rita:reader,o1:olga' });
    expect(c.tokens.lookup('r1')).toEqual({ actor: 'rita', role: 'reader' });
    expect(c.tokens.lookup('o1')).toEqual({ actor: 'olga', role: 'operator' });
    expect(c.tokens.lookup('r2')).toBeUndefined();
    expect(() => loadCommandApiConfig({ API_TOKENS: 'x:y:superuser' })).toThrow(/API_TOKENS: .*role must be one of/);
  });

  it('names every bad variable at once', () => {
    const err = (() => {
      try {
        loadCommandApiConfig({ PORT: 'abc', DATABASE_URL: 'mysql://x', API_TOKENS: 'no-actor', NATS_URL: 'http://x' });
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err?.problems.map((p) => p.split(':')[0]).sort()).toEqual([
      'API_TOKENS',
      'DATABASE_URL',
      'NATS_URL',
      'PORT',
    ]);
  });

  it('reads secrets from *_FILE', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    writeFileSync(join(dir, 'tokens'), 's3cret:alice:admin\nother:bob\n');
    const c = loadCommandApiConfig({ API_TOKENS_FILE: join(dir, 'tokens') });
    expect(c.tokens.lookup('s3cret')).toEqual({ actor: 'alice', role: 'admin' });
    expect(c.tokens.lookup('other')).toEqual({ actor: 'bob', role: 'operator' });
    expect(c.tokens.size).toBe(2);
    expect(() => loadCommandApiConfig({ API_TOKENS_FILE: join(dir, 'missing') })).toThrow(
      /API_TOKENS_FILE: cannot read .*missing \(ENOENT\)/,
    );
  });

  it('refuses to start with a clear message and exit code 2', async () => {
    const proc = spawnService('command-api', { PORT: 'abc', DATABASE_URL: 'mysql://x' });
    const code = await new Promise<number | null>((resolve) => proc.child.once('exit', resolve));
    expect(code).toBe(2);
    expect(proc.output()).toContain('command-api: Invalid configuration');
    expect(proc.output()).toMatch(/PORT: .*"abc"/);
    expect(proc.output()).toContain('DATABASE_URL');
    expect(proc.output()).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('refuses to start with no token and AUTH on, naming API_TOKENS, exit code 2', async () => {
    const proc = spawnService('command-api', { API_TOKENS: '', AUTH: 'on' });
    const code = await new Promise<number | null>((resolve) => proc.child.once('exit', resolve));
    expect(code).toBe(2);
    expect(proc.output()).toContain('API_TOKENS: no token is configured and AUTH is on');
  });

  it('with AUTH=off, says loudly at start that authentication is disabled', async () => {
    // Nothing listens on port 1: the process warns, then fails to reach NATS; it binds nothing.
    const proc = spawnService('command-api', { AUTH: 'off', NATS_URL: 'nats://127.0.0.1:1', PORT: '0' });
    try {
      const line = await proc.waitForLine(/AUTHENTICATION IS DISABLED/, 15_000);
      expect(JSON.parse(line)).toMatchObject({ level: 40, auth: 'off' });
    } finally {
      proc.child.kill('SIGKILL');
    }
  });
});
