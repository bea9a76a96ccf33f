import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAnchorConfig } from '../src/config.js';

const dir = mkdtempSync(join(tmpdir(), 'anchor-config-'));
const keyFile = join(dir, 'key');
writeFileSync(keyFile, `0x${'ab'.repeat(32)}\n`);
const base = {
  AUDIT_ANCHOR_ADDRESS: `0x${'12'.repeat(20)}`,
  CHAIN_SIGNER_KEY_FILE: keyFile,
  API_TOKENS: 'tok-anchor:anchor:service,tok-op:alice:operator',
  SERVICE_TOKEN: 'tok-anchor',
  CHAIN_RPC_LOOPBACK_ONLY: 'true',
};

describe('anchor service configuration', () => {
  it('reads a valid configuration, the key from its file', () => {
    const c = loadAnchorConfig({ ...base, AUDIT_CHECKPOINT_EVERY: '50', CHAIN_CONFIRMATIONS: '2' });
    expect(c).toMatchObject({
      AUDIT_CHECKPOINT_EVERY: 50,
      CHAIN_CONFIRMATIONS: 2,
      CHAIN_RPC_URL: 'http://127.0.0.1:8545',
    });
    expect(c.signerKey).toBe(`0x${'ab'.repeat(32)}`);
    expect(c.tokens.lookup(c.serviceToken)).toEqual({ actor: 'anchor', role: 'service' });
  });

  it('names each bad variable and never echoes the key or the token', () => {
    const bad = join(dir, 'bad');
    writeFileSync(bad, 'not a key');
    let message = '';
    try {
      loadAnchorConfig({
        ...base,
        CHAIN_RPC_URL: 'http://10.1.2.3:8545',
        CHAIN_SIGNER_KEY_FILE: bad,
        SERVICE_TOKEN: 'tok-op',
      });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/CHAIN_RPC_URL: must be a loopback address/);
    expect(message).toMatch(/CHAIN_SIGNER_KEY_FILE: must hold 32 bytes of hex/);
    expect(message).toMatch(/SERVICE_TOKEN: names alice, whose role is operator, not service/);
    expect(message).not.toContain('tok-op');
    expect(message).not.toContain('not a key');
    expect(() => loadAnchorConfig({ ...base, AUDIT_CHECKPOINT_EVERY: '0' })).toThrow(/AUDIT_CHECKPOINT_EVERY/);
    expect(() => loadAnchorConfig({ ...base, AUDIT_ANCHOR_ADDRESS: '0x12' })).toThrow(
      /AUDIT_ANCHOR_ADDRESS: must be a 0x-prefixed/,
    );
    expect(() => loadAnchorConfig({ ...base, SERVICE_TOKEN: undefined })).toThrow(
      /SERVICE_TOKEN \(or SERVICE_TOKEN_FILE\): is required/,
    );
  });
});
