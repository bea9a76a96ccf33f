import { loadAiWorkerConfig } from '@lightdom/ai-worker';
import { loadAnchorConfig } from '@lightdom/anchor';
import { loadCommandApiConfig } from '@lightdom/command-api';
import { startSpan } from '@lightdom/eventstore';
import { loadExecutorConfig } from '@lightdom/executor';
import { loadProjectorConfig } from '@lightdom/projector';
import { otlpTracesUrl } from '@lightdom/runtime';
import { describe, expect, it } from 'vitest';

/** The least each service needs to load (tokens, the anchor's chain settings). */
const base = {
  AUTH: 'off',
  AUDIT_ANCHOR_ADDRESS: `0x${'ab'.repeat(20)}`,
  CHAIN_SIGNER_KEY_FILE: '/nonexistent/key',
};
const loaders = {
  'command-api': loadCommandApiConfig,
  projector: loadProjectorConfig,
  executor: loadExecutorConfig,
  'ai-worker': loadAiWorkerConfig,
  anchor: loadAnchorConfig,
} as Record<string, (env: NodeJS.ProcessEnv) => unknown>;

describe('OTEL_EXPORTER_OTLP_ENDPOINT in every service config', () => {
  it.each(Object.keys(loaders))('%s refuses a non-HTTP endpoint, naming the variable', (name) => {
    const load = loaders[name] as (env: NodeJS.ProcessEnv) => unknown;
    expect(() => load({ ...base, OTEL_EXPORTER_OTLP_ENDPOINT: 'grpc://collector:4317' })).toThrow(
      /OTEL_EXPORTER_OTLP_ENDPOINT: must be an http or https URL/,
    );
    expect(() => load({ ...base, OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT/);
    expect(() => load({ ...base, OTEL_SERVICE_NAME: ' ' })).toThrow(/OTEL_SERVICE_NAME/);
  });

  it.each(Object.keys(loaders))('%s accepts an OTLP/HTTP endpoint, and none (tracing off)', (name) => {
    const load = loaders[name] as (env: NodeJS.ProcessEnv) => Record<string, unknown>;
    // The anchor reads its key file only after the schema passed; a readable one is not needed to see the schema accept.
    const loadSchema = (env: NodeJS.ProcessEnv) => {
      try {
        return load(env);
      } catch (err) {
        if (/CHAIN_SIGNER_KEY_FILE/.test(String(err)) && !/OTEL_/.test(String(err))) return { ok: true };
        throw err;
      }
    };
    expect(() => loadSchema({ ...base, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector:4318' })).not.toThrow();
    expect(() => loadSchema({ ...base })).not.toThrow();
  });

  it('builds the traces URL as the OTLP specification does', () => {
    expect(otlpTracesUrl('http://otel-collector:4318')).toBe('http://otel-collector:4318/v1/traces');
    expect(otlpTracesUrl('https://x.example/otlp/')).toBe('https://x.example/otlp/v1/traces');
  });
});

describe('spans without an exporting provider', () => {
  const parent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
  it('record nothing and keep the trace: the same traceparent, or a child span id in it', () => {
    const same = startSpan('x', parent, { whenOff: 'same' });
    expect(same.recording).toBe(false);
    expect(same.traceparent).toBe(parent);
    const child = startSpan('y', parent);
    expect(child.traceparent).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
    expect(child.traceparent).not.toBe(parent);
    // A malformed parent starts a new trace rather than being copied into a commit.
    expect(startSpan('z', 'garbage', { whenOff: 'same' }).traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    same.end();
    child.end(new Error('boom'));
  });
});
