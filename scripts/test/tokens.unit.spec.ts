import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseTokenEntries } from '@lightdom/runtime';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';

let dir: string;
let tokens: typeof import('../start/tokens.js');

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lightdom-tokens-'));
  // The data folder is read when the module loads.
  vi.stubEnv('LIGHTDOM_DATA_DIR', dir);
  tokens = await import('../start/tokens.js');
});
afterAll(() => {
  vi.unstubAllEnvs();
  fs.rmSync(dir, { recursive: true, force: true });
});

it('makes an admin and three service tokens once, in a 0600 file, and reuses them', () => {
  const first = tokens.prepareTokens({});
  expect(first.auth).toBe('on');
  expect(first.admin).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(first.registryEnv.API_TOKENS_FILE).toBe(path.join(dir, 'tokens'));
  expect(new Set(Object.values(first.serviceToken)).size).toBe(3);
  const file = path.join(dir, 'tokens');
  expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  expect(fs.readFileSync(file, 'utf8')).toBe(
    `${first.admin}:dev:admin,\n${first.serviceToken.executor}:executor:service,\n${first.serviceToken['ai-worker']}:ai-worker:service,\n${first.serviceToken.anchor}:anchor:service,\n`,
  );
  // What every service reads: the registry takes each entry with its role.
  const parsed = parseTokenEntries(fs.readFileSync(file, 'utf8'));
  expect(parsed.problems).toEqual([]);
  expect(parsed.entries.map((e) => e.identity)).toEqual([
    { actor: 'dev', role: 'admin' },
    { actor: 'executor', role: 'service' },
    { actor: 'ai-worker', role: 'service' },
    { actor: 'anchor', role: 'service' },
  ]);
  fs.chmodSync(file, 0o644);
  const again = tokens.prepareTokens({});
  expect(again).toEqual(first);
  expect(fs.statSync(file).mode & 0o777).toBe(0o600);
});

it('with the user’s own tokens makes no admin token and adds the service tokens to theirs', () => {
  const own = path.join(dir, 'mine');
  fs.writeFileSync(own, 'tok-file:ops:reader\n');
  const t = tokens.prepareTokens({ API_TOKENS: 'tok-inline:alice:admin', API_TOKENS_FILE: own });
  expect(t.admin).toBeUndefined();
  const text = fs.readFileSync(t.registryEnv.API_TOKENS_FILE!, 'utf8');
  expect(text).toContain('tok-inline:alice:admin,');
  expect(text).toContain('tok-file:ops:reader,');
  expect(text).toContain(`${t.serviceToken.executor}:executor:service,`);
  expect(text).toContain(`${t.serviceToken.anchor}:anchor:service,`);
  expect(text).not.toContain(':dev:admin');
});

it('with AUTH=off makes and passes no tokens', () => {
  expect(tokens.prepareTokens({ AUTH: 'off' })).toMatchObject({ auth: 'off', registryEnv: {}, serviceToken: {} });
});
