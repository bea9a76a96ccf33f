import { ConfigError } from '@lightdom/runtime';
import { expect, it } from 'vitest';
import { loadProjectorConfig } from '../src/index.js';

it('has defaults and names every bad variable', () => {
  expect(loadProjectorConfig({})).toMatchObject({ PORT: 3003, DB_SCHEMA: 'public', PROJECTOR_BATCH_SIZE: 500 });
  let err: ConfigError | undefined;
  try {
    loadProjectorConfig({ DB_SCHEMA: 'Robert"); drop', PROJECTOR_BATCH_SIZE: '0', REDIS_URL: 'postgres://x' });
  } catch (e) {
    err = e as ConfigError;
  }
  expect(err).toBeInstanceOf(ConfigError);
  expect(err?.problems.map((p) => p.split(':')[0]).sort()).toEqual(['DB_SCHEMA', 'PROJECTOR_BATCH_SIZE', 'REDIS_URL']);
});
