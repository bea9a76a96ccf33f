import { ConfigError } from '@lightdom/runtime';
import { expect, it } from 'vitest';
import { loadProjectorConfig } from '../src/index.js';

it('has defaults and names every bad variable', () => {
  expect(loadProjectorConfig({})).toMatchObject({ PORT: 3003, DB_SCHEMA: 'public', PROJECTOR_BATCH_SIZE: 2000 });
  let err: ConfigError | undefined;
  try {
    loadProjectorConfig({ DB_SCHEMA: 'Robert"); drop', PROJECTOR_BATCH_SIZE: '0', REDIS_URL: 'postgres://x' });
  } catch (e) {
    err = e as ConfigError;
  }
  expect(err).toBeInstanceOf(ConfigError);
  expect(err?.problems.map((p) => p.split(':')[0]).sort()).toEqual(['DB_SCHEMA', 'PROJECTOR_BATCH_SIZE', 'REDIS_URL']);
});

it('the projector reads its tokens through the registry (token:actor:role, AUTH)', () => {
  const config = loadProjectorConfig({ API_TOKENS: 'tok-1:ops:reader' });
  expect(config.HOST).toBe('127.0.0.1');
  expect(config.tokens.enabled).toBe(true);
  expect(config.tokens.lookup('tok-1')).toEqual({ actor: 'ops', role: 'reader' });
  expect(loadProjectorConfig({ AUTH: 'off' }).tokens.enabled).toBe(false);
  expect(() => loadProjectorConfig({ API_TOKENS: 'tok-1:ops:emperor' })).toThrow(/API_TOKENS: entry 1: the role/);
});

it('commits batches without waiting for the WAL flush unless PROJECTOR_SYNCHRONOUS_COMMIT=on', () => {
  expect(loadProjectorConfig({}).PROJECTOR_SYNCHRONOUS_COMMIT).toBe('off');
  expect(loadProjectorConfig({ PROJECTOR_SYNCHRONOUS_COMMIT: 'on' }).PROJECTOR_SYNCHRONOUS_COMMIT).toBe('on');
  expect(() => loadProjectorConfig({ PROJECTOR_SYNCHRONOUS_COMMIT: 'sometimes' })).toThrow(
    /PROJECTOR_SYNCHRONOUS_COMMIT/,
  );
});
