import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { anonymousIdentity, identityConfig, parseTokenEntries, tokenRegistryFrom } from '../src/identity.js';
import { type ConfigError, parseConfig } from '../src/parseConfig.js';

const registry = (vars: Record<string, string>) => {
  const schema = z.object(identityConfig).transform((v, ctx) => tokenRegistryFrom(v, ctx));
  return schema.safeParse(vars);
};

describe('token registry', () => {
  it('reads token:actor:role entries, an entry without a role being an operator', () => {
    const r = registry({ API_TOKENS: 'tok-admin:alice:admin, tok-op:bob,tok-r:carol:reader' });
    expect(r.success).toBe(true);
    const tokens = r.success ? r.data : undefined;
    expect(tokens?.lookup('tok-admin')).toEqual({ actor: 'alice', role: 'admin' });
    expect(tokens?.lookup('tok-op')).toEqual({ actor: 'bob', role: 'operator' });
    expect(tokens?.lookup('tok-r')).toEqual({ actor: 'carol', role: 'reader' });
    expect(tokens?.lookup('tok-ad')).toBeUndefined();
    expect(tokens?.lookup(undefined)).toBeUndefined();
    expect(tokens?.lookup('')).toBeUndefined();
  });

  it('merges API_TOKENS_FILE (one entry per line, # comments) with API_TOKENS', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ld-tokens-'));
    writeFileSync(join(dir, 'tokens'), '# services\nsvc-token:executor:service\n\nrd-token:dash:reader\n');
    const r = registry({ API_TOKENS: 'op-token:ops', API_TOKENS_FILE: join(dir, 'tokens') });
    expect(r.success && r.data.size).toBe(3);
    expect(r.success && r.data.lookup('svc-token')).toEqual({ actor: 'executor', role: 'service' });
  });

  it('names each bad entry and variable, without echoing the token', () => {
    const r = registry({
      API_TOKENS: 'secret-1:alice:root,justatoken,secret-1:bob',
      API_TOKENS_FILE: '/nonexistent/x',
    });
    expect(r.success).toBe(false);
    const messages = r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(messages).toContain('API_TOKENS: entry 1: the role must be one of reader, operator, service, admin');
    expect(messages).toContain('API_TOKENS: entry 2 must be token:actor or token:actor:role');
    expect(messages).toContain('API_TOKENS: entry 3: the same token is listed twice');
    expect(messages).toContain('API_TOKENS_FILE: cannot be read (ENOENT)');
    expect(messages.join(' ')).not.toContain('secret-1');
  });

  it('with AUTH=off, everyone is the anonymous admin; AUTH takes only on or off', () => {
    const off = registry({ AUTH: 'off' });
    expect(off.success && off.data.enabled).toBe(false);
    expect(off.success && off.data.lookup(undefined)).toEqual(anonymousIdentity);
    const bad = registry({ AUTH: 'no' });
    expect(bad.success ? [] : bad.error.issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      'AUTH: must be on or off',
    ]);
  });

  it('with no tokens and AUTH on, nobody is let in', () => {
    const r = registry({});
    expect(r.success && r.data.enabled).toBe(true);
    expect(r.success && r.data.lookup('anything')).toBeUndefined();
  });

  it('parses entries without a registry', () => {
    expect(parseTokenEntries('a-token:x:service').entries).toEqual([
      { token: 'a-token', identity: { actor: 'x', role: 'service' } },
    ]);
  });
});

describe('parseConfig with the token variables', () => {
  const schema = z.object(identityConfig).transform((v, ctx) => tokenRegistryFrom(v, ctx));

  it('keeps inline API_TOKENS beside API_TOKENS_FILE, each entry counted once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ld-tokens-'));
    writeFileSync(join(dir, 'tokens'), 'file-token:from-file:reader\n');
    const tokens = parseConfig(schema, { API_TOKENS: 'inline-token:inline', API_TOKENS_FILE: join(dir, 'tokens') });
    expect(tokens.size).toBe(2);
    expect(tokens.lookup('inline-token')?.actor).toBe('inline');
    expect(tokens.lookup('file-token')?.actor).toBe('from-file');
  });

  it('never echoes a token-like variable in its problem', () => {
    let message = '';
    try {
      parseConfig(schema, { API_TOKENS: 'very-secret-value:alice:superuser' });
    } catch (err) {
      message = (err as ConfigError).message;
    }
    expect(message).toContain('API_TOKENS: entry 1: the role must be one of');
    expect(message).not.toContain('very-secret-value');
  });
});
